// Source of the querier UI's PromQL editor (bundled by scripts/build-ui.mjs into ui/build/editor.js,
// served as /static/editor.js). CodeMirror 6 with Prometheus's own PromQL language support
// (@prometheus-io/codemirror-promql): highlighting, linting, completion of functions, metric names,
// label names and values read from this querier's /api/v1 (label/series APIs with match[] and a
// lookback window). graph.js uses window.ThanosEditor when this bundle loaded, a textarea otherwise.
import { EditorView, keymap, placeholder as placeholderExt, highlightSpecialChars, drawSelection } from '@codemirror/view';
import { EditorState, Prec } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap, insertNewlineAndIndent } from '@codemirror/commands';
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap, completionStatus } from '@codemirror/autocomplete';
import { bracketMatching, indentOnInput, syntaxHighlighting, HighlightStyle } from '@codemirror/language';
import { lintKeymap } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';

// Colours close to Prometheus's UI theme.
const promqlHighlight = HighlightStyle.define([
  { tag: tags.number, color: '#09885a' },
  { tag: tags.string, color: '#a31515' },
  { tag: tags.keyword, color: '#008080' },
  { tag: tags.function(tags.variableName), color: '#008080' },
  { tag: tags.labelName, color: '#800000' },
  { tag: tags.operator, color: '#0f4c81' },
  { tag: tags.modifier, color: '#008080' },
  { tag: tags.paren, color: '#333' },
  { tag: tags.squareBracket, color: '#333' },
  { tag: tags.brace, color: '#333' },
  { tag: tags.invalid, color: 'red' },
  { tag: tags.comment, color: '#888', fontStyle: 'italic' },
]);

const theme = EditorView.theme({
  '&': { border: '1px solid #ccc', borderRadius: '4px', background: '#fff', fontSize: '14px', flex: '1', minWidth: '0' },
  '&.cm-focused': { outline: '2px solid #80bdff' },
  '.cm-content': { fontFamily: 'Menlo, Consolas, monospace', padding: '6px 0' },
  '.cm-scroller': { overflow: 'auto', maxHeight: '12em' },
  '.cm-tooltip.cm-tooltip-autocomplete > ul': { fontFamily: 'Menlo, Consolas, monospace', maxHeight: '16em' },
  '.cm-completionDetail': { color: '#888', fontStyle: 'normal', marginLeft: '1em' },
});

/**
 * Creates an editor in `parent`. opts: value, prefix (the UI's link prefix, for the API URL),
 * onExecute(), onChange(value), placeholder, lookbackMs (completion time window).
 * Returns { getValue, setValue, focus, view }.
 */
function create(parent, opts) {
  const promql = new PromQLExtension().setComplete({
    remote: {
      url: opts.prefix || '',
      httpMethod: 'POST',
      lookbackInterval: opts.lookbackMs || 12 * 60 * 60 * 1000,
      cache: { maxAge: 5 * 60 * 1000 },
      // Completion is best effort: a failed lookup leaves the list without remote names (no alert).
      httpErrorHandler: (e) => { if (window.console) console.warn('completion lookup failed:', e && e.message); },
    },
  });
  const execute = () => { opts.onExecute && opts.onExecute(); return true; };
  const state = EditorState.create({
    doc: opts.value || '',
    extensions: [
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      autocompletion({ activateOnTyping: true }),
      syntaxHighlighting(promqlHighlight),
      placeholderExt(opts.placeholder || 'Expression (press Shift+Enter for newlines)'),
      // Prometheus's keys: Enter executes (unless the completion list is open), Shift+Enter is a
      // newline; Ctrl/Cmd+Enter executes too.
      Prec.highest(keymap.of([
        { key: 'Enter', run: (v) => (completionStatus(v.state) === 'active' ? false : execute()) },
        { key: 'Mod-Enter', run: execute },
        { key: 'Shift-Enter', run: insertNewlineAndIndent },
      ])),
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
      promql.asExtension(),
      theme,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': 'Expression', 'data-testid': 'expr-editor' }),
      EditorView.updateListener.of((u) => { if (u.docChanged && opts.onChange) opts.onChange(u.state.doc.toString()); }),
    ],
  });
  const view = new EditorView({ state, parent });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (v) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: v } }),
    focus: () => view.focus(),
  };
}

window.ThanosEditor = { create };

// Bundles the querier UI's PromQL editor (CodeMirror 6 + @prometheus-io/codemirror-promql) into one
// browser script: plugins/component/query/ui/editor.src.js -> plugins/component/query/ui/build/editor.js
// (not in git; `npm run build` runs this). The querier serves it as /static/editor.js and falls back
// to a plain textarea when it is missing.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const ui = fileURLToPath(new URL('../plugins/component/query/ui/', import.meta.url));
const result = await build({
  entryPoints: [ui + 'editor.src.js'],
  outfile: ui + 'build/editor.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`build-ui: ${ui}build/editor.js (${bytes} bytes)`);

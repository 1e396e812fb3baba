// Graph page of the Thanos querier: any number of panels, each an expression (the CodeMirror PromQL
// editor from /static/editor.js, or a plain textarea when that bundle is not built) with history,
// a range graph (uPlot) or an instant-query table, and an explain view (analyze=true). The panels'
// state lives in the URL as Prometheus's and Thanos's UIs keep it (g0.expr, g0.tab, g0.range_input,
// g0.end_input, g0.step_input, g0.moment_input, g0.stacked, g0.deduplicate, g0.partial_response,
// g0.max_source_resolution; g1.* for the second panel ...), so links are shareable both ways.
// Native histogram samples (the API's "histogram" / "histograms", Prometheus's format) are shown in
// the table as Prometheus's UI shows them (total count, sum, bucket ranges with counts); the graph
// plots float samples only and says how many histogram samples it left out.
(function () {
  'use strict';
  var prefix = document.body.getAttribute('data-prefix') || '';
  var HISTORY_KEY = 'thanos.query.history';
  var HISTORY_MAX = 50;
  var panels = [];
  var $ = function (id) { return document.getElementById(id); };

  // ---- helpers ---------------------------------------------------------------------------
  var unitSeconds = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  function parseRange(s) {
    s = String(s || '').trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
    var re = /(\d+)(ms|[ywdhms])/g, total = 0, m, consumed = 0;
    while ((m = re.exec(s)) !== null) {
      total += m[2] === 'ms' ? Number(m[1]) / 1000 : Number(m[1]) * unitSeconds[m[2]];
      consumed += m[0].length;
    }
    if (consumed !== s.length || total <= 0) return null;
    return total;
  }
  function parseTimeInput(s) {
    s = String(s || '').trim();
    if (s === '') return Date.now() / 1000;
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    var ms = Date.parse(s);
    return isNaN(ms) ? null : ms / 1000;
  }
  function formatLabels(metric) {
    var name = metric.__name__ || '';
    var parts = [];
    Object.keys(metric).sort().forEach(function (k) {
      if (k !== '__name__') parts.push(k + '=' + JSON.stringify(metric[k]));
    });
    return name + '{' + parts.join(', ') + '}';
  }
  function toNumber(s) {
    var v = s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
    return isFinite(v) ? v : null;
  }
  function palette(i) {
    return 'hsl(' + ((i * 137.508) % 360).toFixed(1) + ', 65%, 45%)';
  }
  function formatValue(v) {
    if (v === null || v === undefined) return '—';
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Math.round(v * 1000) / 1000);
  }
  // A native histogram bucket [boundaryRule, lower, upper, count] as Prometheus's UI writes its
  // range: boundary rule 0 = (lower, upper], 1 = [lower, upper), 2 = open, 3 = closed.
  function bucketRange(b) {
    var rule = Number(b[0]);
    return (rule === 3 || rule === 1 ? '[' : '(') + b[1] + ' -> ' + b[2] + (rule === 3 || rule === 0 ? ']' : ')');
  }
  // One histogram sample ({count, sum, buckets}) as a block: the totals, then a "Histogram Sample"
  // table of bucket ranges and counts. Every string goes in with textContent (label values and
  // numbers come from the server).
  function histogramElement(h) {
    h = h || {};
    var box = document.createElement('div');
    box.className = 'histogram';
    var summary = document.createElement('div');
    summary.className = 'histogram-summary';
    [['Total count', h.count], ['Sum', h.sum]].forEach(function (kv) {
      var span = document.createElement('span');
      var strong = document.createElement('strong');
      strong.textContent = kv[0] + ':';
      span.appendChild(strong);
      span.appendChild(document.createTextNode(' ' + (kv[1] === undefined ? '—' : String(kv[1]))));
      summary.appendChild(span);
    });
    box.appendChild(summary);
    var table = document.createElement('table');
    table.className = 'histogram-buckets';
    var head = table.createTHead().insertRow();
    var title = document.createElement('th');
    title.colSpan = 2;
    title.textContent = 'Histogram Sample';
    head.appendChild(title);
    var body = table.createTBody();
    var cols = body.insertRow();
    ['Range', 'Count'].forEach(function (t) { var th = document.createElement('th'); th.textContent = t; cols.appendChild(th); });
    var buckets = Array.isArray(h.buckets) ? h.buckets : [];
    buckets.forEach(function (b) {
      var tr = body.insertRow();
      tr.className = 'bucket';
      tr.insertCell().textContent = Array.isArray(b) ? bucketRange(b) : String(b);
      tr.insertCell().textContent = Array.isArray(b) ? String(b[3]) : '';
    });
    if (buckets.length === 0) {
      var td = body.insertRow().insertCell();
      td.colSpan = 2;
      td.className = 'muted';
      td.textContent = 'No buckets';
    }
    box.appendChild(table);
    return box;
  }
  function show(el, prefixText, msgs) {
    if (!msgs || msgs.length === 0) { el.hidden = true; el.textContent = ''; return; }
    el.hidden = false;
    el.textContent = msgs.map(function (m) { return prefixText + m; }).join('\n');
  }
  function apiPost(path, params) {
    return fetch(prefix + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { throw new Error('Unexpected response (HTTP ' + resp.status + '): ' + text.slice(0, 300)); }
        if (body.status !== 'success') {
          var err = new Error((body.errorType ? body.errorType + ': ' : '') + (body.error || ('HTTP ' + resp.status)));
          err.warnings = body.warnings;
          throw err;
        }
        return body;
      });
    });
  }

  // ---- history (shared by all panels) ------------------------------------------------------
  function loadHistory() {
    try { var h = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]'); return Array.isArray(h) ? h : []; } catch (e) { return []; }
  }
  function saveHistory(expr) {
    var h = loadHistory().filter(function (x) { return x !== expr; });
    h.unshift(expr);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(h.slice(0, HISTORY_MAX))); } catch (e) { /* storage full or disabled */ }
    panels.forEach(function (p) { p.renderHistory(); });
  }

  // ---- URL state ---------------------------------------------------------------------------
  function readURL() {
    var byPanel = {};
    new URLSearchParams(location.search).forEach(function (v, k) {
      var m = /^g(\d+)\.(.+)$/.exec(k);
      if (!m) return;
      (byPanel[m[1]] = byPanel[m[1]] || {})[m[2]] = v;
    });
    return Object.keys(byPanel).map(Number).sort(function (a, b) { return a - b; }).map(function (i) { return byPanel[i]; });
  }
  function writeURL() {
    var p = new URLSearchParams();
    panels.forEach(function (panel, i) {
      var s = panel.state();
      Object.keys(s).forEach(function (k) { if (s[k] !== '') p.set('g' + i + '.' + k, s[k]); });
    });
    history.replaceState(null, '', location.pathname + '?' + p.toString());
  }

  // ---- one panel ---------------------------------------------------------------------------
  function Panel(init) {
    var self = this;
    var root = $('panel-template').content.firstElementChild.cloneNode(true);
    var q = function (cls) { return root.querySelector('.' + cls); };
    var tab = init.tab === '1' ? 'table' : 'graph';
    var plot = null;
    var running = 0;
    this.root = root;
    $('panels').appendChild(root);

    // Expression input: the CodeMirror editor when its bundle loaded, else a textarea.
    var input;
    if (window.ThanosEditor) {
      var ed = window.ThanosEditor.create(q('expr-input'), {
        value: init.expr || '', prefix: prefix, onExecute: function () { self.execute(); },
      });
      input = { get: ed.getValue, set: ed.setValue, focus: ed.focus };
    } else {
      var ta = document.createElement('textarea');
      ta.className = 'expr';
      ta.rows = 2;
      ta.spellcheck = false;
      ta.placeholder = 'Expression (press Shift+Enter for newlines)';
      ta.value = init.expr || '';
      ta.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); self.execute(); }
      });
      q('expr-input').appendChild(ta);
      input = { get: function () { return ta.value; }, set: function (v) { ta.value = v; }, focus: function () { ta.focus(); } };
    }
    this.getExpr = input.get;
    this.setExpr = input.set;

    if (init.range_input) q('range').value = init.range_input;
    if (init.end_input) q('end').value = init.end_input;
    if (init.step_input) q('step').value = init.step_input;
    if (init.moment_input) q('eval-time').value = init.moment_input;
    if (init.max_source_resolution) q('resolution').value = init.max_source_resolution;
    if (init.deduplicate) q('dedup').checked = init.deduplicate === '1';
    if (init.partial_response) q('partial').checked = init.partial_response === '1';
    if (init.stacked) q('stacked').checked = init.stacked === '1';

    this.state = function () {
      return {
        expr: input.get(), tab: tab === 'table' ? '1' : '0', range_input: q('range').value, end_input: q('end').value,
        step_input: q('step').value, moment_input: q('eval-time').value, stacked: q('stacked').checked ? '1' : '0',
        max_source_resolution: q('resolution').value, deduplicate: q('dedup').checked ? '1' : '0',
        partial_response: q('partial').checked ? '1' : '0',
      };
    };

    this.renderHistory = function () {
      var sel = q('history-select');
      var h = loadHistory();
      sel.innerHTML = '';
      var first = document.createElement('option');
      first.value = '';
      first.textContent = h.length ? '-- recent expressions (' + h.length + ') --' : '-- no history --';
      sel.appendChild(first);
      h.forEach(function (expr) {
        var o = document.createElement('option');
        o.value = expr;
        o.textContent = expr.length > 100 ? expr.slice(0, 100) + '…' : expr;
        sel.appendChild(o);
      });
    };

    function setBusy(busy) { root.setAttribute('data-state', busy ? 'loading' : 'done'); updateBodyState(); }
    function commonParams(p) {
      p.set('dedup', q('dedup').checked ? 'true' : 'false');
      p.set('partial_response', q('partial').checked ? 'true' : 'false');
      p.set('max_source_resolution', q('resolution').value);
    }
    function messages(body) {
      show(q('warnings'), 'Warning: ', body && body.warnings);
      show(q('infos'), 'Info: ', body && body.infos);
    }

    this.execute = function (analyze) {
      var expr = input.get().trim();
      q('explain-view').hidden = true;
      if (expr === '') { show(q('error'), '', ['Error: empty expression']); return; }
      show(q('error'), '', null);
      messages(null);
      saveHistory(expr);
      writeURL();
      var run = ++running;
      var started = performance.now();
      var done = function (what) {
        if (run !== running) return false;
        q('stats').textContent = what + ' — load time: ' + Math.round(performance.now() - started) + 'ms';
        return true;
      };
      setBusy(true);
      var p = tab === 'graph' ? runRange(expr, done, analyze) : runInstant(expr, done, analyze);
      p.catch(function (e) {
        if (run !== running) return;
        show(q('error'), '', ['Error executing query: ' + e.message]);
        show(q('warnings'), 'Warning: ', e.warnings);
      }).then(function () { if (run === running) setBusy(false); });
    };

    function runRange(expr, done, analyze) {
      var range = parseRange(q('range').value);
      if (range === null) return Promise.reject(new Error('invalid range ' + JSON.stringify(q('range').value)));
      var end = parseTimeInput(q('end').value);
      if (end === null) return Promise.reject(new Error('invalid end time ' + JSON.stringify(q('end').value)));
      var step = q('step').value.trim() === '' ? Math.max(Math.floor(range / 250), 1) : parseRange(q('step').value);
      if (!(step > 0)) return Promise.reject(new Error('invalid resolution ' + JSON.stringify(q('step').value)));
      var start = end - range;
      var params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
      commonParams(params);
      if (analyze) params.set('analyze', 'true');
      return apiPost('/api/v1/query_range', params).then(function (body) {
        if (!done('Resolution: ' + step + 's, result series: ' + (Array.isArray(body.data.result) ? body.data.result.length : 1))) return;
        messages(body);
        drawGraph(body.data, start, end);
        if (analyze) drawExplain(body.data.analysis);
      });
    }

    function runInstant(expr, done, analyze) {
      var t = parseTimeInput(q('eval-time').value);
      if (t === null) return Promise.reject(new Error('invalid evaluation time ' + JSON.stringify(q('eval-time').value)));
      var params = new URLSearchParams({ query: expr, time: String(t) });
      commonParams(params);
      if (analyze) params.set('analyze', 'true');
      return apiPost('/api/v1/query', params).then(function (body) {
        if (!done('Result type: ' + body.data.resultType)) return;
        messages(body);
        drawTable(body.data);
        if (analyze) drawExplain(body.data.analysis);
      });
    }

    function drawGraph(data, start, end) {
      var el = q('graph');
      if (plot) { plot.destroy(); plot = null; }
      el.innerHTML = '';
      var series = [];
      if (data.resultType === 'matrix') series = data.result;
      else if (data.resultType === 'scalar') series = [{ metric: { __name__: 'scalar' }, values: [data.result] }];
      // Native histogram samples have no single value to plot: left out, and counted in a note (a
      // series of histograms only is not drawn at all), as Prometheus's graph leaves them out.
      var skipped = 0, skippedSeries = 0;
      series = series.filter(function (s) {
        var n = Array.isArray(s.histograms) ? s.histograms.length : 0;
        skipped += n;
        if (n > 0 && !(s.values && s.values.length)) { skippedSeries++; return false; }
        return true;
      });
      var note = q('graph-note');
      note.hidden = skipped === 0;
      note.textContent = skipped === 0 ? '' : 'Not graphed: ' + skipped + ' native histogram sample' + (skipped === 1 ? '' : 's') +
        (skippedSeries ? ' (' + skippedSeries + ' series of histograms only)' : '') +
        '. The Table tab shows them; to graph them, turn them into floats, e.g. histogram_quantile(0.9, …), histogram_count(…), histogram_sum(…).';
      q('graph-empty').hidden = series.length > 0 || skipped > 0;
      el.setAttribute('data-series', String(series.length));
      if (series.length === 0) return;
      var tsSet = {};
      series.forEach(function (s) { (s.values || []).forEach(function (p) { tsSet[p[0]] = true; }); });
      var xs = Object.keys(tsSet).map(Number).sort(function (a, b) { return a - b; });
      var index = {};
      xs.forEach(function (t, i) { index[t] = i; });
      var stacked = q('stacked').checked;
      var acc = stacked ? xs.map(function () { return 0; }) : null;
      var raw = [];
      var ys = series.map(function (s) {
        var y = xs.map(function () { return null; });
        (s.values || []).forEach(function (p) { y[index[p[0]]] = toNumber(p[1]); });
        raw.push(y);
        if (stacked) y = y.map(function (v, i) { if (v === null) return null; acc[i] += v; return acc[i]; });
        return y;
      });
      var opts = {
        width: Math.max(el.clientWidth || 0, 600),
        height: 380,
        scales: { x: { time: true, min: start, max: end } },
        series: [{ label: 'Time' }].concat(series.map(function (s, i) {
          return {
            label: formatLabels(s.metric), stroke: palette(i), width: 1.5, spanGaps: false, points: { show: (s.values || []).length < 2 },
            fill: stacked ? palette(i).replace('hsl', 'hsla').replace(')', ', 0.25)') : undefined,
            // The legend shows the hovered sample's own value (not the stacked sum).
            value: function (u, v, si, idx) { return idx === null ? '—' : formatValue(raw[si - 1][idx]); },
          };
        })),
        axes: [{}, { size: 70 }],
        legend: { live: true },
        cursor: { focus: { prox: 16 } },
        focus: { alpha: 0.3 },
      };
      plot = new uPlot(opts, [xs].concat(ys), el);
    }

    function drawTable(data) {
      var tbody = q('result-table').querySelector('tbody');
      tbody.innerHTML = '';
      var rows = [];
      switch (data.resultType) {
        case 'vector':
          data.result.forEach(function (s) {
            rows.push([formatLabels(s.metric), s.histogram ? [histogramElement(s.histogram[1])] : s.value[1]]);
          });
          break;
        case 'matrix':
          data.result.forEach(function (s) {
            var floats = (s.values || []).map(function (p) { return p[1] + ' @' + p[0]; }).join('\n');
            if (!s.histograms) { rows.push([formatLabels(s.metric), floats]); return; }
            // Floats first, then each histogram sample followed by its timestamp, as Prometheus's table.
            var parts = floats ? [floats] : [];
            s.histograms.forEach(function (p) {
              var at = document.createElement('div');
              at.className = 'histogram-at';
              at.appendChild(histogramElement(p[1]));
              at.appendChild(document.createTextNode('@' + p[0]));
              parts.push(at);
            });
            rows.push([formatLabels(s.metric), parts]);
          });
          break;
        case 'scalar': rows.push(['scalar', data.result[1]]); break;
        case 'string': rows.push(['string', data.result[1]]); break;
      }
      if (rows.length === 0) {
        var tr = document.createElement('tr');
        var td = document.createElement('td');
        td.colSpan = 2;
        td.className = 'muted';
        td.textContent = 'Empty query result';
        tr.appendChild(td);
        tbody.appendChild(tr);
      }
      rows.forEach(function (r) {
        var tr = document.createElement('tr');
        var a = document.createElement('td');
        a.className = 'metric';
        a.textContent = r[0];
        var b = document.createElement('td');
        b.className = 'value';
        b.style.whiteSpace = 'pre';
        // A string value, or (histograms) a list of strings and elements.
        if (Array.isArray(r[1])) {
          b.classList.add('histograms');
          r[1].forEach(function (part) { b.appendChild(typeof part === 'string' ? document.createTextNode(part + '\n') : part); });
        } else {
          b.textContent = r[1];
        }
        tr.appendChild(a);
        tr.appendChild(b);
        tbody.appendChild(tr);
      });
    }

    // The operator tree of analyze=true (Thanos's `analysis`: name, executionTime, peakSamples,
    // totalSamples, children), one row per operator, indented by depth.
    function drawExplain(analysis) {
      var tbody = q('explain-table').querySelector('tbody');
      tbody.innerHTML = '';
      q('explain-view').hidden = false;
      if (!analysis) {
        var tr = document.createElement('tr');
        tr.innerHTML = '<td colspan="4" class="muted">The querier returned no analysis.</td>';
        tbody.appendChild(tr);
        return;
      }
      (function walk(n, depth) {
        var tr = document.createElement('tr');
        [n.name || '', n.executionTime || '', String(n.peakSamples || 0), String(n.totalSamples || 0)].forEach(function (text, i) {
          var td = document.createElement('td');
          td.textContent = text;
          if (i === 0) { td.className = 'metric'; td.style.paddingLeft = (8 + depth * 18) + 'px'; }
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
        (n.children || []).forEach(function (c) { walk(c, depth + 1); });
      })(analysis, 0);
    }

    function selectTab(t, run) {
      tab = t;
      q('tab-graph').classList.toggle('active', t === 'graph');
      q('tab-table').classList.toggle('active', t === 'table');
      q('panel-graph').hidden = t !== 'graph';
      q('panel-table').hidden = t !== 'table';
      if (!run) return;
      if (input.get().trim() !== '') self.execute();
      else writeURL();
    }

    function format() {
      var expr = input.get().trim();
      if (expr === '') return;
      apiPost('/api/v1/format_query', new URLSearchParams({ query: expr })).then(function (body) {
        input.set(body.data);
        show(q('error'), '', null);
        writeURL();
      }, function (e) { show(q('error'), '', ['Error formatting query: ' + e.message]); });
    }

    root.querySelector('form').addEventListener('submit', function (e) { e.preventDefault(); self.execute(); });
    q('tab-graph').addEventListener('click', function () { selectTab('graph', true); });
    q('tab-table').addEventListener('click', function () { selectTab('table', true); });
    q('format').addEventListener('click', format);
    q('explain').addEventListener('click', function () { self.execute(true); });
    q('history-select').addEventListener('change', function (e) {
      if (e.target.value) { input.set(e.target.value); e.target.value = ''; input.focus(); }
    });
    q('clear-history').addEventListener('click', function () {
      try { localStorage.removeItem(HISTORY_KEY); } catch (e) { /* ignore */ }
      panels.forEach(function (p) { p.renderHistory(); });
    });
    q('remove-panel').addEventListener('click', function () { removePanel(self); });
    ['range', 'end', 'step', 'eval-time'].forEach(function (c) {
      q(c).addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); self.execute(); } });
    });
    q('stacked').addEventListener('change', function () { if (input.get().trim()) self.execute(); else writeURL(); });
    this.resize = function () { if (plot) plot.setSize({ width: Math.max(q('graph').clientWidth, 600), height: 380 }); };
    this.destroy = function () { if (plot) plot.destroy(); root.remove(); };

    this.renderHistory();
    selectTab(tab, false);
    root.setAttribute('data-state', 'idle');
  }

  function updateBodyState() {
    var busy = panels.some(function (p) { return p.root.getAttribute('data-state') === 'loading'; });
    document.body.setAttribute('data-state', busy ? 'loading' : 'done');
  }
  function addPanel(init) {
    var p = new Panel(init || {});
    panels.push(p);
    return p;
  }
  function removePanel(p) {
    panels = panels.filter(function (x) { return x !== p; });
    p.destroy();
    if (panels.length === 0) addPanel({});
    writeURL();
    updateBodyState();
  }

  if (document.body.getAttribute('data-editor') === 'missing') $('editor-missing').hidden = false;
  $('add-panel').addEventListener('click', function () { addPanel({}).root.scrollIntoView(); writeURL(); });
  window.addEventListener('resize', function () { panels.forEach(function (p) { p.resize(); }); });

  var initial = readURL();
  if (initial.length === 0) initial = [{}];
  initial.forEach(function (init) { addPanel(init); });
  var anyRun = false;
  panels.forEach(function (p) { if (p.getExpr().trim() !== '') { anyRun = true; p.execute(); } });
  if (!anyRun) document.body.setAttribute('data-state', 'done');
  // For tests and for scripting the page from the console.
  window.thanosGraph = { panels: function () { return panels.slice(); }, addPanel: addPanel };
})();

// Graph page of the Thanos querier: expression input with history, range graph (uPlot) and
// instant-query table. Talks to /api/v1/query and /api/v1/query_range of this querier.
(function () {
  'use strict';
  var prefix = document.body.getAttribute('data-prefix') || '';
  var HISTORY_KEY = 'thanos.query.history';
  var HISTORY_MAX = 50;
  var $ = function (id) { return document.getElementById(id); };
  var state = { tab: 'graph', plot: null, running: 0 };

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
    var hue = (i * 137.508) % 360;
    return 'hsl(' + hue.toFixed(1) + ', 65%, 45%)';
  }
  function showError(msg) {
    var el = $('error');
    if (!msg) { el.hidden = true; el.textContent = ''; return; }
    el.hidden = false;
    el.textContent = msg;
  }
  function showWarnings(ws) {
    var el = $('warnings');
    if (!ws || ws.length === 0) { el.hidden = true; el.textContent = ''; return; }
    el.hidden = false;
    el.textContent = 'Warning: ' + ws.join('\nWarning: ');
  }

  // ---- history ---------------------------------------------------------------------------
  function loadHistory() {
    try { var h = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]'); return Array.isArray(h) ? h : []; } catch (e) { return []; }
  }
  function saveHistory(expr) {
    var h = loadHistory().filter(function (x) { return x !== expr; });
    h.unshift(expr);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(h.slice(0, HISTORY_MAX))); } catch (e) { /* storage full or disabled */ }
    renderHistory();
  }
  function renderHistory() {
    var sel = $('history-select');
    var h = loadHistory();
    sel.innerHTML = '';
    var first = document.createElement('option');
    first.value = '';
    first.textContent = h.length ? '-- recent expressions (' + h.length + ') --' : '-- no history --';
    sel.appendChild(first);
    var dl = document.getElementById('history') || document.createElement('datalist');
    dl.id = 'history';
    dl.innerHTML = '';
    h.forEach(function (expr) {
      var o = document.createElement('option');
      o.value = expr;
      o.textContent = expr.length > 100 ? expr.slice(0, 100) + '…' : expr;
      sel.appendChild(o);
      var d = document.createElement('option');
      d.value = expr;
      dl.appendChild(d);
    });
    if (!dl.parentNode) document.body.appendChild(dl);
  }

  // ---- URL state (g0.* parameters as Prometheus/Thanos use them) ---------------------------
  function readURL() {
    var p = new URLSearchParams(location.search);
    if (p.has('g0.expr')) $('expr').value = p.get('g0.expr');
    if (p.get('g0.tab') === '1') state.tab = 'table';
    if (p.has('g0.range_input')) $('range').value = p.get('g0.range_input');
    if (p.has('g0.end_input')) $('end').value = p.get('g0.end_input');
    if (p.has('g0.step_input')) $('step').value = p.get('g0.step_input');
    if (p.has('g0.moment_input')) $('eval-time').value = p.get('g0.moment_input');
    if (p.has('g0.max_source_resolution')) $('resolution').value = p.get('g0.max_source_resolution');
    if (p.has('g0.deduplicate')) $('dedup').checked = p.get('g0.deduplicate') === '1';
    if (p.has('g0.partial_response')) $('partial').checked = p.get('g0.partial_response') === '1';
    if (p.has('g0.stacked')) $('stacked').checked = p.get('g0.stacked') === '1';
  }
  function writeURL() {
    var p = new URLSearchParams();
    p.set('g0.expr', $('expr').value);
    p.set('g0.tab', state.tab === 'table' ? '1' : '0');
    p.set('g0.range_input', $('range').value);
    if ($('end').value) p.set('g0.end_input', $('end').value);
    if ($('step').value) p.set('g0.step_input', $('step').value);
    if ($('eval-time').value) p.set('g0.moment_input', $('eval-time').value);
    p.set('g0.max_source_resolution', $('resolution').value);
    p.set('g0.deduplicate', $('dedup').checked ? '1' : '0');
    p.set('g0.partial_response', $('partial').checked ? '1' : '0');
    p.set('g0.stacked', $('stacked').checked ? '1' : '0');
    history.replaceState(null, '', location.pathname + '?' + p.toString());
  }

  // ---- querying --------------------------------------------------------------------------
  function commonParams(p) {
    p.set('dedup', $('dedup').checked ? 'true' : 'false');
    p.set('partial_response', $('partial').checked ? 'true' : 'false');
    p.set('max_source_resolution', $('resolution').value);
  }
  function apiGet(path, params) {
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

  function execute() {
    var expr = $('expr').value.trim();
    if (expr === '') { showError('Error: empty expression'); return; }
    showError(null);
    showWarnings(null);
    saveHistory(expr);
    writeURL();
    var run = ++state.running;
    var started = performance.now();
    var done = function (what) {
      if (run !== state.running) return false;
      $('stats').textContent = what + ' — load time: ' + Math.round(performance.now() - started) + 'ms';
      return true;
    };
    document.body.setAttribute('data-state', 'loading');
    var p;
    if (state.tab === 'graph') p = runRange(expr, done);
    else p = runInstant(expr, done);
    p.catch(function (e) {
      if (run !== state.running) return;
      showError('Error executing query: ' + e.message);
      showWarnings(e.warnings);
    }).then(function () {
      if (run === state.running) document.body.setAttribute('data-state', 'done');
    });
  }

  function runRange(expr, done) {
    var range = parseRange($('range').value);
    if (range === null) return Promise.reject(new Error('invalid range ' + JSON.stringify($('range').value)));
    var end = parseTimeInput($('end').value);
    if (end === null) return Promise.reject(new Error('invalid end time ' + JSON.stringify($('end').value)));
    var step = $('step').value.trim() === '' ? Math.max(Math.floor(range / 250), 1) : Number($('step').value);
    if (!(step > 0)) return Promise.reject(new Error('invalid resolution ' + JSON.stringify($('step').value)));
    var start = end - range;
    var params = new URLSearchParams();
    params.set('query', expr);
    params.set('start', String(start));
    params.set('end', String(end));
    params.set('step', String(step));
    commonParams(params);
    return apiGet('/api/v1/query_range', params).then(function (body) {
      if (!done('Resolution: ' + step + 's, result series: ' + (Array.isArray(body.data.result) ? body.data.result.length : 1))) return;
      showWarnings(body.warnings);
      drawGraph(body.data, start, end, step);
    });
  }

  function runInstant(expr, done) {
    var t = parseTimeInput($('eval-time').value);
    if (t === null) return Promise.reject(new Error('invalid evaluation time ' + JSON.stringify($('eval-time').value)));
    var params = new URLSearchParams();
    params.set('query', expr);
    params.set('time', String(t));
    commonParams(params);
    return apiGet('/api/v1/query', params).then(function (body) {
      if (!done('Result type: ' + body.data.resultType)) return;
      showWarnings(body.warnings);
      drawTable(body.data);
    });
  }

  // ---- rendering -------------------------------------------------------------------------
  function drawGraph(data, start, end, step) {
    var el = $('graph');
    if (state.plot) { state.plot.destroy(); state.plot = null; }
    el.innerHTML = '';
    var series = [];
    if (data.resultType === 'matrix') series = data.result;
    else if (data.resultType === 'scalar') series = [{ metric: { __name__: 'scalar' }, values: [data.result] }];
    $('graph-empty').hidden = series.length > 0;
    el.setAttribute('data-series', String(series.length));
    if (series.length === 0) return;
    var tsSet = {};
    series.forEach(function (s) { s.values.forEach(function (p) { tsSet[p[0]] = true; }); });
    var xs = Object.keys(tsSet).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (t, i) { index[t] = i; });
    var stacked = $('stacked').checked;
    var acc = stacked ? xs.map(function () { return 0; }) : null;
    var ys = series.map(function (s) {
      var y = xs.map(function () { return null; });
      s.values.forEach(function (p) { y[index[p[0]]] = toNumber(p[1]); });
      if (stacked) y = y.map(function (v, i) { if (v === null) return null; acc[i] += v; return acc[i]; });
      return y;
    });
    var opts = {
      width: Math.max(el.clientWidth || 0, 600),
      height: 380,
      scales: { x: { time: true, min: start, max: end } },
      series: [{ label: 'Time' }].concat(series.map(function (s, i) {
        return { label: formatLabels(s.metric), stroke: palette(i), width: 1.5, spanGaps: false, points: { show: s.values.length < 2 } };
      })),
      axes: [{}, { size: 70 }],
      legend: { live: true },
      cursor: { focus: { prox: 16 } },
      focus: { alpha: 0.3 },
    };
    state.plot = new uPlot(opts, [xs].concat(ys), el);
  }

  function drawTable(data) {
    var tbody = $('result-table').querySelector('tbody');
    tbody.innerHTML = '';
    var rows = [];
    switch (data.resultType) {
      case 'vector':
        data.result.forEach(function (s) { rows.push([formatLabels(s.metric), s.value[1]]); });
        break;
      case 'matrix':
        data.result.forEach(function (s) {
          rows.push([formatLabels(s.metric), s.values.map(function (p) { return p[1] + ' @' + p[0]; }).join('\n')]);
        });
        break;
      case 'scalar':
        rows.push(['scalar', data.result[1]]);
        break;
      case 'string':
        rows.push(['string', data.result[1]]);
        break;
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
      b.textContent = r[1];
      tr.appendChild(a);
      tr.appendChild(b);
      tbody.appendChild(tr);
    });
  }

  function selectTab(tab, run) {
    state.tab = tab;
    $('tab-graph').classList.toggle('active', tab === 'graph');
    $('tab-table').classList.toggle('active', tab === 'table');
    $('panel-graph').hidden = tab !== 'graph';
    $('panel-table').hidden = tab !== 'table';
    if (run && $('expr').value.trim() !== '') execute();
  }

  // ---- wiring ----------------------------------------------------------------------------
  $('query-form').addEventListener('submit', function (e) { e.preventDefault(); execute(); });
  $('expr').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); execute(); }
  });
  $('tab-graph').addEventListener('click', function () { selectTab('graph', true); });
  $('tab-table').addEventListener('click', function () { selectTab('table', true); });
  $('history-select').addEventListener('change', function (e) {
    if (e.target.value) { $('expr').value = e.target.value; e.target.value = ''; $('expr').focus(); }
  });
  $('clear-history').addEventListener('click', function () {
    try { localStorage.removeItem(HISTORY_KEY); } catch (e) { /* ignore */ }
    renderHistory();
  });
  ['range', 'end', 'step'].forEach(function (id) {
    $(id).addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); execute(); } });
  });
  $('eval-time').addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); execute(); } });
  $('stacked').addEventListener('change', function () { if ($('expr').value.trim()) execute(); });
  window.addEventListener('resize', function () {
    if (state.plot) state.plot.setSize({ width: Math.max($('graph').clientWidth, 600), height: 380 });
  });

  renderHistory();
  readURL();
  selectTab(state.tab, false);
  if ($('expr').value.trim() !== '') execute();
})();

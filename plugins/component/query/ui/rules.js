// Alerts and Rules pages (querier: over the fanned-out Rules API; ruler: its own rules), like
// Prometheus's: the alerts page lists alerting rules with their active alerts, filterable by state;
// the rules page lists every group with its rules' health, last error and evaluation times. Both read
// /api/v1/rules. Everything from the API is written with textContent (labels and annotations are
// user data). On the ruler, /graph?g0.expr=… (the alerts' generatorURL when --alert.query-url points
// at the ruler itself) shows the rules with that expression.
(function () {
  'use strict';
  var body = document.body;
  var prefix = body.getAttribute('data-prefix') || '';
  var graphBase = body.getAttribute('data-graph') || '';
  var pageName = body.getAttribute('data-page');
  var params = new URLSearchParams(location.search);
  var exprFilter = params.get('g0.expr');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function showError(msg) {
    var e = document.getElementById('error');
    e.textContent = msg;
    e.hidden = false;
  }
  function labelBadges(labels) {
    var span = el('span');
    Object.keys(labels || {}).sort().forEach(function (k) { span.appendChild(el('span', 'badge', k + '="' + labels[k] + '"')); });
    return span;
  }
  function exprLink(expr) {
    if (!graphBase) return el('span', 'expr', expr);
    var a = el('a', 'expr', expr);
    a.href = graphBase + '?g0.expr=' + encodeURIComponent(expr) + '&g0.tab=1';
    return a;
  }
  function fmtDuration(sec) {
    if (!sec) return '0s';
    var s = Math.round(sec), out = '';
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) out += h + 'h';
    if (m) out += m + 'm';
    if (r || !out) out += r + 's';
    return out;
  }
  function fmtAgo(iso) {
    if (!iso || iso.indexOf('0001-01-01') === 0) return 'never';
    var ms = Date.now() - Date.parse(iso);
    return (ms < 0 ? 0 : Math.round(ms / 100) / 10) + 's ago';
  }
  function definition(r) {
    var lines = [(r.type === 'alerting' ? 'alert: ' : 'record: ') + r.name, 'expr: ' + r.query];
    if (r.type === 'alerting' && r.duration) lines.push('for: ' + fmtDuration(r.duration));
    if (r.keepFiringFor) lines.push('keep_firing_for: ' + fmtDuration(r.keepFiringFor));
    var ls = Object.keys(r.labels || {});
    if (ls.length) {
      lines.push('labels:');
      ls.sort().forEach(function (k) { lines.push('  ' + k + ': ' + r.labels[k]); });
    }
    var as = Object.keys(r.annotations || {});
    if (as.length) {
      lines.push('annotations:');
      as.sort().forEach(function (k) { lines.push('  ' + k + ': ' + r.annotations[k]); });
    }
    return el('pre', 'def', lines.join('\n'));
  }
  function table(headers) {
    var t = el('table', 'data');
    var thead = el('thead'), tr = el('tr');
    headers.forEach(function (h) { tr.appendChild(el('th', null, h)); });
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = el('tbody');
    t.appendChild(tbody);
    return { table: t, body: tbody };
  }

  function renderAlerts(groups) {
    var root = document.getElementById('content');
    root.innerHTML = '';
    var rules = [];
    groups.forEach(function (g) { g.rules.forEach(function (r) { if (r.type === 'alerting') rules.push({ g: g, r: r }); }); });
    var counts = { inactive: 0, pending: 0, firing: 0 };
    rules.forEach(function (x) { counts[x.r.state] = (counts[x.r.state] || 0) + 1; });
    var shown = { inactive: true, pending: true, firing: true };
    var controls = document.getElementById('controls');
    controls.innerHTML = '';
    ['inactive', 'pending', 'firing'].forEach(function (st) {
      var label = el('label');
      var cb = el('input');
      cb.type = 'checkbox';
      cb.checked = true;
      cb.id = 'show-' + st;
      cb.addEventListener('change', function () {
        shown[st] = cb.checked;
        Array.prototype.forEach.call(root.querySelectorAll('details.rule.' + st), function (d) { d.hidden = !cb.checked; });
      });
      label.appendChild(cb);
      label.appendChild(document.createTextNode(' ' + st.charAt(0).toUpperCase() + st.slice(1) + ' (' + (counts[st] || 0) + ')'));
      controls.appendChild(label);
    });
    if (rules.length === 0) {
      root.appendChild(el('p', 'muted', 'No alerting rules.'));
      return;
    }
    var byFile = {};
    rules.forEach(function (x) { (byFile[x.g.file + ' > ' + x.g.name] = byFile[x.g.file + ' > ' + x.g.name] || []).push(x.r); });
    Object.keys(byFile).sort().forEach(function (key) {
      root.appendChild(el('h2', 'group-title', key));
      byFile[key].forEach(function (r) {
        var d = el('details', 'rule ' + r.state);
        d.setAttribute('data-alertname', r.name);
        d.hidden = !shown[r.state];
        if (r.state !== 'inactive') d.open = true;
        var alerts = r.alerts || [];
        var sum = el('summary', null, r.name + ' (' + alerts.length + ' active)');
        d.appendChild(sum);
        var b = el('div', 'body');
        b.appendChild(definition(r));
        if (r.health === 'err' && r.lastError) b.appendChild(el('div', 'alert error', r.lastError));
        if (alerts.length) {
          var t = table(['Labels', 'State', 'Active Since', 'Value', 'Annotations']);
          alerts.forEach(function (a) {
            var tr = el('tr', 'active-alert');
            var lt = el('td');
            lt.appendChild(labelBadges(a.labels));
            tr.appendChild(lt);
            var st = el('td');
            st.appendChild(el('span', 'badge ' + a.state, a.state.toUpperCase()));
            tr.appendChild(st);
            tr.appendChild(el('td', null, a.activeAt || ''));
            tr.appendChild(el('td', 'value', a.value));
            var an = el('td');
            Object.keys(a.annotations || {}).sort().forEach(function (k) {
              var div = el('div');
              div.appendChild(el('strong', null, k + ': '));
              div.appendChild(document.createTextNode(a.annotations[k]));
              an.appendChild(div);
            });
            tr.appendChild(an);
            t.body.appendChild(tr);
          });
          b.appendChild(t.table);
        }
        d.appendChild(b);
        root.appendChild(d);
      });
    });
  }

  function renderRules(groups) {
    var root = document.getElementById('content');
    root.innerHTML = '';
    if (exprFilter !== null) {
      var n = document.getElementById('notice');
      n.textContent = 'Rules with the expression ' + exprFilter + ' (this ruler has no query page; set --alert.query-url to a querier to link alerts to its graph).';
      n.hidden = false;
      groups = groups.map(function (g) {
        return Object.assign({}, g, { rules: g.rules.filter(function (r) { return r.query === exprFilter; }) });
      }).filter(function (g) { return g.rules.length > 0; });
    }
    if (groups.length === 0) {
      root.appendChild(el('p', 'muted', exprFilter !== null ? 'No rule has this expression.' : 'No rule groups.'));
      return;
    }
    groups.forEach(function (g) {
      var title = el('h2', 'group-title', g.name);
      root.appendChild(title);
      root.appendChild(el('div', 'muted', 'file ' + g.file + ' · interval ' + fmtDuration(g.interval) + ' · last evaluation ' + fmtAgo(g.lastEvaluation) +
        ' · evaluation time ' + (g.evaluationTime || 0).toFixed(3) + 's' + (g.partialResponseStrategy ? ' · partial response ' + g.partialResponseStrategy : '')));
      var t = table(['Rule', 'State', 'Error', 'Last Evaluation', 'Evaluation Time']);
      t.table.setAttribute('data-group', g.name);
      g.rules.forEach(function (r) {
        var tr = el('tr', 'rule-row');
        tr.setAttribute('data-rule', r.name);
        var def = el('td', 'expr');
        def.appendChild(el('div', null, (r.type === 'alerting' ? 'alert: ' : 'record: ') + r.name));
        var ex = el('div');
        ex.appendChild(document.createTextNode('expr: '));
        ex.appendChild(exprLink(r.query));
        def.appendChild(ex);
        if (Object.keys(r.labels || {}).length) {
          var lb = el('div');
          lb.appendChild(document.createTextNode('labels: '));
          lb.appendChild(labelBadges(r.labels));
          def.appendChild(lb);
        }
        tr.appendChild(def);
        var st = el('td');
        st.appendChild(el('span', 'badge health ' + r.health, r.health.toUpperCase()));
        tr.appendChild(st);
        tr.appendChild(el('td', 'last-error', r.lastError || ''));
        tr.appendChild(el('td', null, fmtAgo(r.lastEvaluation)));
        tr.appendChild(el('td', null, (r.evaluationTime || 0).toFixed(3) + 's'));
        t.body.appendChild(tr);
      });
      root.appendChild(t.table);
    });
  }

  var url = prefix + '/api/v1/rules' + (pageName === 'alerts' ? '?type=alert' : '');
  fetch(url).then(function (res) {
    return res.json().then(function (j) {
      if (j.status !== 'success') throw new Error((j.errorType ? j.errorType + ': ' : '') + (j.error || ('HTTP ' + res.status)));
      if (j.warnings && j.warnings.length) {
        var n = document.getElementById('notice');
        n.textContent = 'Warnings: ' + j.warnings.join('; ');
        n.hidden = false;
      }
      var groups = (j.data && j.data.groups) || [];
      if (pageName === 'alerts') renderAlerts(groups);
      else renderRules(groups);
    });
  }).catch(function (e) {
    document.getElementById('content').innerHTML = '';
    showError('Error fetching ' + url + ': ' + e.message);
  });
})();

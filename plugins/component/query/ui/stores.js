// Stores page of the Thanos querier: every endpoint grouped by component type, with its external
// label sets, time range, health and last error. Reads /api/v1/stores.
(function () {
  'use strict';
  var prefix = document.body.getAttribute('data-prefix') || '';
  var MIN = -9007199254740991, MAX = 9007199254740991;

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return '-';
    if (ms <= MIN || ms <= -62135596800000) return '-Inf';
    if (ms >= MAX || ms >= 253402300799999) return '+Inf';
    return new Date(ms).toISOString();
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function render(data) {
    var root = document.getElementById('stores');
    root.innerHTML = '';
    var types = Object.keys(data).sort();
    if (types.length === 0) {
      root.appendChild(el('p', 'muted', 'No stores configured or discovered.'));
      return;
    }
    types.forEach(function (type) {
      root.appendChild(el('h2', null, type));
      var table = el('table', 'data');
      table.setAttribute('data-type', type);
      var head = el('tr');
      ['Endpoint', 'Status', 'Announced LabelSets', 'Min Time (UTC)', 'Max Time (UTC)', 'Last Health Check', 'Last Message'].forEach(function (h) {
        head.appendChild(el('th', null, h));
      });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      data[type].forEach(function (s) {
        var tr = el('tr', 'store');
        tr.appendChild(el('td', 'endpoint', s.name));
        var st = el('td');
        var up = !s.lastError;
        st.appendChild(el('span', 'badge ' + (up ? 'up' : 'down'), up ? 'Up' : 'Down'));
        tr.appendChild(st);
        var ls = el('td');
        (s.labelSets || []).forEach(function (set) {
          var div = el('div');
          Object.keys(set).sort().forEach(function (k) { div.appendChild(el('span', 'badge', k + '="' + set[k] + '"')); });
          ls.appendChild(div);
        });
        if (!s.labelSets || s.labelSets.length === 0) ls.appendChild(el('span', 'muted', 'none'));
        tr.appendChild(ls);
        // Never-reached endpoints have no advertised range.
        var known = type !== 'unknown';
        tr.appendChild(el('td', 'mint', known ? fmtTime(s.minTime) : '-'));
        tr.appendChild(el('td', 'maxt', known ? fmtTime(s.maxTime) : '-'));
        tr.appendChild(el('td', null, s.lastCheck ? new Date(s.lastCheck).toISOString() : 'never'));
        tr.appendChild(el('td', 'last-error', s.lastError ? String(s.lastError) : ''));
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      root.appendChild(table);
    });
  }
  fetch(prefix + '/api/v1/stores').then(function (r) { return r.json(); }).then(function (body) {
    if (body.status !== 'success') throw new Error(body.error || 'request failed');
    render(body.data || {});
    document.body.setAttribute('data-state', 'done');
  }).catch(function (e) {
    var box = document.getElementById('error');
    box.hidden = false;
    box.textContent = 'Error fetching stores: ' + e.message;
    document.body.setAttribute('data-state', 'done');
  });
})();

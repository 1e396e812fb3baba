// Flags and status pages (Thanos's /flags and /status): key/value tables read from the status API
// (/api/v1/status/flags; /api/v1/status/runtimeinfo and /api/v1/status/buildinfo).
(function () {
  'use strict';
  var prefix = document.body.getAttribute('data-prefix') || '';
  var page = document.body.getAttribute('data-page');
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function get(path) {
    return fetch(prefix + path).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok || j.status !== 'success') throw new Error(path + ': ' + (j.error || r.status));
        return j.data;
      });
    });
  }
  function table(title, data, id) {
    var wrap = el('section');
    if (title) wrap.appendChild(el('h2', null, title));
    var t = el('table', 'data');
    t.id = id;
    var tbody = el('tbody');
    Object.keys(data).forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('th', null, k));
      var v = data[k];
      tr.appendChild(el('td', null, typeof v === 'string' ? v : JSON.stringify(v)));
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    wrap.appendChild(t);
    return wrap;
  }
  var jobs = page === 'flags'
    ? [get('/api/v1/status/flags').then(function (d) { return table('', d, 'flags'); })]
    : [get('/api/v1/status/runtimeinfo').then(function (d) { return table('Runtime Information', d, 'runtimeinfo'); }),
       get('/api/v1/status/buildinfo').then(function (d) { return table('Build Information', d, 'buildinfo'); })];
  Promise.all(jobs).then(function (sections) {
    var root = document.getElementById('status');
    root.innerHTML = '';
    sections.forEach(function (s) { root.appendChild(s); });
  }, function (e) {
    var box = document.getElementById('error');
    box.textContent = e.message;
    box.hidden = false;
  });
})();

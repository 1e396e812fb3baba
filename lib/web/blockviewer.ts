// The block viewer page shared by the compactor, `tools bucket web` (lib/compact/web.ts) and the
// store gateway's /loaded (lib/store/gateway/http.ts): filters (external labels, time range,
// compaction level, resolution, marks), one timeline per group (external labels + resolution), each
// block a bar placed by its time range and coloured by compaction level, and a table of every block
// with its details (meta.json fields, sources, stats) and its marks as read from the bucket.
// Server-rendered HTML and SVG; filtering and details run in a small inline script over data-*
// attributes, so the page works without any bundle. With admin operations on, each row has mark
// buttons (POST /api/v1/blocks/mark, lib/web/blockmark.ts).
import type { Bucket } from '../sdk/mod.ts';
import type { BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';
import { DELETION_MARK, NO_COMPACT_MARK, readMarker } from '../compact/marks.ts';
import { forEachLimit } from '../store/blocksync/fetcher.ts';
import { FAVICON_LINK } from './favicon.ts';

/** The marks of one block as read from the bucket (the marker JSON objects). */
export interface BlockMarks { deletion?: Record<string, unknown>; noCompact?: Record<string, unknown>; error?: string }

/**
 * Reads `<block>/deletion-mark.json` and `<block>/no-compact-mark.json` of every block (at most
 * `concurrency` blocks at once). A mark that cannot be read or parsed is reported, not thrown.
 */
export async function readBlockMarks(bucket: Bucket, ids: readonly string[], concurrency = 8): Promise<Map<string, BlockMarks>> {
  const out = new Map<string, BlockMarks>();
  await forEachLimit(ids, concurrency, async (id) => {
    const m: BlockMarks = {};
    for (const [marker, key] of [[DELETION_MARK, 'deletion'], [NO_COMPACT_MARK, 'noCompact']] as const) {
      try {
        const o = await readMarker(bucket, id, marker);
        if (o) m[key] = o;
      } catch (e) {
        m.error = (e as Error).message;
      }
    }
    if (m.deletion || m.noCompact || m.error) out.set(id, m);
  });
  return out;
}

/**
 * Marks read at most once per `ttlMs` (one read in flight at a time, callers share it), so page
 * views cannot turn into a flood of bucket requests.
 */
export function cachedMarkReader(bucket: Bucket, ttlMs: number, now: () => number = Date.now): (ids: readonly string[], force?: boolean) => Promise<Map<string, BlockMarks>> {
  let cache: { at: number; key: string; marks: Map<string, BlockMarks> } | undefined;
  let inflight: Promise<Map<string, BlockMarks>> | undefined;
  return async (ids, force = false) => {
    const key = ids.join(',');
    if (!force && cache && cache.key === key && now() - cache.at < ttlMs) return cache.marks;
    inflight ??= readBlockMarks(bucket, ids).then((marks) => {
      cache = { at: now(), key, marks };
      return marks;
    }).finally(() => { inflight = undefined; });
    return inflight;
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const iso = (ms: number) => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace('.000Z', 'Z') : String(ms);
};
const LEVEL_COLORS = ['#9e9e9e', '#64b5f6', '#1e88e5', '#3949ab', '#6a1b9a', '#c2185b'];
export const resolutionName = (r: number) => (r === 0 ? 'raw' : r === 300_000 ? '5m' : r === 3_600_000 ? '1h' : `${r}ms`);
const fmtDur = (ms: number) => {
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)}d` : h >= 1 ? `${h.toFixed(1)}h` : `${Math.round(ms / 60_000)}m`;
};
/** JSON inside an inline <script> or attribute: no way to close the element early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface BlockPageOptions {
  title: string;
  /** External label used as the group title (--label / --bucket-web-label); '' = all labels. */
  label: string;
  refreshedAt: number;
  err?: string | undefined;
  /** Extra notes under the summary (already HTML-escaped by nobody: plain text). */
  notes?: string[];
  groupKey: (m: BlockMeta) => string;
  /** Mark buttons, posting to `${prefix}/api/v1/blocks/mark`. */
  admin?: { prefix: string };
  /** Marks read from the bucket (readBlockMarks). */
  marks?: ReadonlyMap<string, BlockMarks>;
  /** Link of the JSON view and the refresh link, relative to the page. */
  jsonHref?: string;
}

function labelsText(ls: Record<string, string>): string {
  return `{${Object.keys(ls).sort().map((k) => `${k}="${ls[k]}"`).join(', ')}}`;
}

function details(m: BlockMeta, marks: BlockMarks | undefined): string {
  const st = m.stats;
  const stats = `series ${st?.numSeries ?? 0}, samples ${st?.numSamples ?? 0}, chunks ${st?.numChunks ?? 0}`;
  const markList = [
    marks?.deletion ? `<li>deletion-mark.json: <code>${esc(JSON.stringify(marks.deletion))}</code></li>` : '',
    marks?.noCompact ? `<li>no-compact-mark.json: <code>${esc(JSON.stringify(marks.noCompact))}</code></li>` : '',
    marks?.error ? `<li class="err">${esc(marks.error)}</li>` : '',
  ].join('');
  return `<dl class="meta">
<dt>ULID</dt><dd><code>${m.ulid}</code></dd>
<dt>time range</dt><dd>${iso(m.minTime)} – ${iso(m.maxTime)} (${fmtDur(m.maxTime - m.minTime)})</dd>
<dt>stats</dt><dd class="stats">${stats}</dd>
<dt>compaction level</dt><dd>${m.compaction.level}</dd>
<dt>resolution</dt><dd>${resolutionName(m.thanos.downsample.resolution)}</dd>
<dt>source</dt><dd>${esc(String(m.thanos.source ?? ''))}</dd>
<dt>external labels</dt><dd><code>${esc(labelsText(m.thanos.labels))}</code></dd>
<dt>sources (${m.compaction.sources.length})</dt><dd class="sources">${m.compaction.sources.map((s) => `<code>${esc(s)}</code>`).join(' ')}</dd>
${markList ? `<dt>marks</dt><dd><ul>${markList}</ul></dd>` : ''}
</dl>
<details><summary>meta.json</summary><pre>${esc(JSON.stringify(m.raw, null, 2))}</pre></details>`;
}

export function blocksPage(metas: readonly BlockMeta[], o: BlockPageOptions): string {
  const groups = new Map<string, BlockMeta[]>();
  for (const m of metas) {
    const k = o.groupKey(m);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(m);
  }
  const lo = Math.min(...metas.map((m) => m.minTime));
  const hi = Math.max(...metas.map((m) => m.maxTime));
  const W = 1000;
  const x = (t: number) => (hi > lo ? ((t - lo) / (hi - lo)) * W : 0);
  const title = (m: BlockMeta) => (o.label && m.thanos.labels[o.label] !== undefined ? `${o.label}=${m.thanos.labels[o.label]}` : labelsText(m.thanos.labels));
  const ordered = [...groups.entries()].sort(([, a], [, b]) => title(a[0]!).localeCompare(title(b[0]!)) || a[0]!.thanos.downsample.resolution - b[0]!.thanos.downsample.resolution);
  const markOf = (m: BlockMeta) => o.marks?.get(m.ulid);
  const markAttr = (m: BlockMeta) => {
    const mk = markOf(m);
    return [mk?.deletion ? 'deletion' : '', mk?.noCompact ? 'no-compact' : ''].filter(Boolean).join(' ');
  };
  // Every element of a block (its bar and its rows) carries the attributes the filter reads.
  const dataAttrs = (m: BlockMeta) => `data-block="${m.ulid}" data-min="${m.minTime}" data-max="${m.maxTime}" data-level="${m.compaction.level}" data-res="${m.thanos.downsample.resolution}" data-labels="${esc(JSON.stringify(m.thanos.labels))}" data-marks="${markAttr(m)}"`;
  const sections: string[] = [];
  const H = 18;
  for (const [key, blocks] of ordered) {
    // Stack overlapping blocks on separate rows.
    const rows: number[] = [];
    const placed = blocks.map((m) => {
      let r = rows.findIndex((end) => end <= m.minTime);
      if (r < 0) { r = rows.length; rows.push(0); }
      rows[r] = m.maxTime;
      return { m, r };
    });
    const bars = placed.map(({ m, r }) => {
      const w = Math.max(1, x(m.maxTime) - x(m.minTime) - 1);
      const c = LEVEL_COLORS[Math.min(m.compaction.level, LEVEL_COLORS.length - 1)];
      const mk = markOf(m);
      const stroke = mk?.deletion ? ' stroke="#b00" stroke-width="2" stroke-dasharray="4 2"' : mk?.noCompact ? ' stroke="#e65100" stroke-width="2"' : '';
      return `<rect ${dataAttrs(m)} x="${x(m.minTime).toFixed(1)}" y="${r * (H + 2)}" width="${w.toFixed(1)}" height="${H}" fill="${c}"${stroke}><title>${esc(`${m.ulid}\n${iso(m.minTime)} – ${iso(m.maxTime)}\nlevel ${m.compaction.level}, ${resolutionName(m.thanos.downsample.resolution)}, source ${m.thanos.source ?? ''}\nseries ${m.stats?.numSeries ?? 0}, samples ${m.stats?.numSamples ?? 0}, chunks ${m.stats?.numChunks ?? 0}${mk?.deletion ? '\nmarked for deletion' : ''}${mk?.noCompact ? '\nmarked no-compact' : ''}`)}</title></rect>`;
    }).join('');
    sections.push(`<section class="group" data-group="${esc(key)}"><h2>${esc(title(blocks[0]!))} <small>${resolutionName(blocks[0]!.thanos.downsample.resolution)} · ${blocks.length} block${blocks.length === 1 ? '' : 's'}</small></h2>
<svg viewBox="0 0 ${W} ${rows.length * (H + 2)}" width="100%" height="${rows.length * (H + 2)}" preserveAspectRatio="none">${bars}</svg></section>`);
  }
  const cols = 11 + (o.admin ? 1 : 0);
  const actions = (m: BlockMeta) => (o.admin
    ? `<td><button type="button" data-mark="DELETION" data-id="${m.ulid}">mark deletion</button> <button type="button" data-mark="NO_COMPACTION" data-id="${m.ulid}">mark no-compact</button></td>`
    : '');
  const badges = (m: BlockMeta) => {
    const mk = markOf(m);
    return `${mk?.deletion ? ' <span class="mark deletion">marked for deletion</span>' : ''}${mk?.noCompact ? ' <span class="mark no-compact">no-compact</span>' : ''}${mk?.error ? ` <span class="mark err" title="${esc(mk.error)}">mark unreadable</span>` : ''}`;
  };
  const table = metas.map((m) => `<tr class="block" ${dataAttrs(m)}><td><button type="button" class="toggle" data-details="${m.ulid}" aria-expanded="false">▸</button> <code>${m.ulid}</code>${badges(m)}</td><td>${iso(m.minTime)}</td><td>${iso(m.maxTime)}</td><td>${fmtDur(m.maxTime - m.minTime)}</td><td>${m.compaction.level}</td><td>${resolutionName(m.thanos.downsample.resolution)}</td><td>${esc(String(m.thanos.source ?? ''))}</td><td>${m.stats?.numSeries ?? 0}</td><td>${m.stats?.numSamples ?? 0}</td><td>${m.stats?.numChunks ?? 0}</td><td>${esc(title(m))}</td>${actions(m)}</tr>
<tr class="details" data-details-for="${m.ulid}" hidden><td colspan="${cols}">${details(m, markOf(m))}</td></tr>`).join('\n');
  const levels = [...new Set(metas.map((m) => m.compaction.level))].sort((a, b) => a - b);
  const resolutions = [...new Set(metas.map((m) => m.thanos.downsample.resolution))].sort((a, b) => a - b);
  const filters = `<form id="filters" onsubmit="return false"><fieldset><legend>Filter</legend>
<label>labels <input id="f-labels" size="30" placeholder='cluster="eu", env=~"prod.*"'></label>
<label>from <input id="f-from" size="22" placeholder="2024-01-01T00:00:00Z"></label>
<label>until <input id="f-until" size="22" placeholder="2024-01-02T00:00:00Z"></label>
<label>level <select id="f-level"><option value="">any</option>${levels.map((l) => `<option value="${l}">${l}</option>`).join('')}</select></label>
<label>resolution <select id="f-res"><option value="">any</option>${resolutions.map((r) => `<option value="${r}">${resolutionName(r)}</option>`).join('')}</select></label>
<label>marks <select id="f-marks"><option value="">any</option><option value="deletion">marked for deletion</option><option value="no-compact">marked no-compact</option><option value="none">not marked</option></select></label>
<span id="f-count"></span> <span id="f-error" class="err"></span></fieldset></form>`;
  // Filtering: the label filter is a comma-separated list of matchers (= != =~ !~, Prometheus
  // semantics: a missing label is ""; regexes are anchored); times are RFC 3339 or Unix ms; a block
  // matches the time range when it overlaps it.
  const filterScript = `<script>
(function () {
  function parseMatchers(s) {
    var out = [], re = /\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)\\s*"((?:[^"\\\\]|\\\\.)*)"\\s*(,|$)/y, i = 0;
    s = s.trim();
    while (i < s.length) {
      re.lastIndex = i;
      var m = re.exec(s);
      if (!m) throw new Error('bad label matcher at "' + s.slice(i) + '" (want name="value", name!="value", name=~"re", name!~"re")');
      var v = JSON.parse('"' + m[3] + '"');
      out.push({ name: m[1], op: m[2], value: v, re: m[2].length === 2 && m[2] !== '!=' ? new RegExp('^(?:' + v + ')$') : null });
      i = re.lastIndex;
    }
    return out;
  }
  function parseTime(s) {
    s = s.trim();
    if (!s) return null;
    var t = /^\\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!isFinite(t)) throw new Error('bad time "' + s + '" (want RFC 3339 or Unix milliseconds)');
    return t;
  }
  function apply() {
    var err = document.getElementById('f-error');
    err.textContent = '';
    var ms, from, until;
    try {
      ms = parseMatchers(document.getElementById('f-labels').value);
      from = parseTime(document.getElementById('f-from').value);
      until = parseTime(document.getElementById('f-until').value);
    } catch (e) { err.textContent = e.message; return; }
    var level = document.getElementById('f-level').value, res = document.getElementById('f-res').value, marks = document.getElementById('f-marks').value;
    var shown = 0, total = 0;
    document.querySelectorAll('[data-block]').forEach(function (el) {
      var ls = JSON.parse(el.getAttribute('data-labels')), ok = true;
      for (var k = 0; k < ms.length && ok; k++) {
        var m = ms[k], v = ls[m.name] || '';
        ok = m.op === '=' ? v === m.value : m.op === '!=' ? v !== m.value : m.op === '=~' ? m.re.test(v) : !m.re.test(v);
      }
      if (ok && from !== null) ok = Number(el.getAttribute('data-max')) > from;
      if (ok && until !== null) ok = Number(el.getAttribute('data-min')) < until;
      if (ok && level) ok = el.getAttribute('data-level') === level;
      if (ok && res) ok = el.getAttribute('data-res') === res;
      var mk = el.getAttribute('data-marks');
      if (ok && marks) ok = marks === 'none' ? mk === '' : (' ' + mk + ' ').indexOf(' ' + marks + ' ') >= 0;
      if (el.tagName.toLowerCase() === 'tr') {
        el.hidden = !ok; total++; if (ok) shown++;
        var d = document.querySelector('tr[data-details-for="' + el.getAttribute('data-block') + '"]');
        if (!ok && d) d.hidden = true;
      } else el.style.display = ok ? '' : 'none';
    });
    document.querySelectorAll('section.group').forEach(function (s) {
      s.hidden = !Array.prototype.some.call(s.querySelectorAll('[data-block]'), function (b) { return b.style.display !== 'none'; });
    });
    document.getElementById('f-count').textContent = shown + ' of ' + total + ' blocks shown';
    document.body.setAttribute('data-shown', String(shown));
  }
  document.getElementById('filters').addEventListener('input', apply);
  document.getElementById('filters').addEventListener('change', apply);
  document.addEventListener('click', function (e) {
    var t = e.target.closest && e.target.closest('button.toggle');
    if (!t) return;
    var d = document.querySelector('tr[data-details-for="' + t.getAttribute('data-details') + '"]');
    d.hidden = !d.hidden;
    t.setAttribute('aria-expanded', String(!d.hidden));
    t.textContent = d.hidden ? '▸' : '▾';
  });
  apply();
})();
</script>`;
  // The mark request is a JSON body (a cross-site form cannot send one: see lib/web/blockmark.ts).
  const markScript = o.admin ? `<p>Detail for marks: <input id="mark-detail" size="40" placeholder="why (stored in the mark)"> <span id="mark-status"></span></p>
<script>
document.addEventListener('click', function (e) {
  var b = e.target.closest && e.target.closest('button[data-mark]');
  if (!b) return;
  var status = document.getElementById('mark-status');
  status.textContent = 'marking ' + b.dataset.id + '…';
  fetch(${scriptJson(`${o.admin.prefix}/api/v1/blocks/mark`)}, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: b.dataset.id, action: b.dataset.mark, detail: document.getElementById('mark-detail').value }),
  }).then(function (r) { return r.json(); }).then(function (body) {
    if (body.status !== 'success') throw new Error(body.error || 'mark failed');
    status.textContent = b.dataset.id + ': ' + b.dataset.mark + ' mark written (reload to see it)';
    status.setAttribute('data-done', b.dataset.id + ' ' + b.dataset.mark);
  }).catch(function (err) { status.textContent = 'error: ' + err.message; status.setAttribute('data-error', err.message); });
});
</script>` : '';
  const jsonHref = o.jsonHref ?? 'api/v1/blocks';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(o.title)}</title>${FAVICON_LINK}
<style>body{font:14px system-ui,sans-serif;margin:1.5em}h2{font-size:15px;margin:1.2em 0 .3em}small{color:#666;font-weight:normal}svg{background:#f5f5f5;display:block}table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}th{background:#eee}.axis{display:flex;justify-content:space-between;color:#666}.err{color:#b00}.mark{font-size:90%;border-radius:3px;padding:0 4px}.mark.deletion{color:#fff;background:#b00}.mark.no-compact{color:#fff;background:#e65100}fieldset{border:1px solid #ddd}fieldset label{margin-right:1em}button.toggle{border:0;background:none;cursor:pointer;padding:0}dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 1em;margin:.3em 0}dl.meta dt{color:#666}dl.meta dd{margin:0}pre{max-height:30em;overflow:auto;background:#f8f8f8;padding:.5em}</style></head>
<body><h1>${esc(o.title)}</h1>
<p>${metas.length} block${metas.length === 1 ? '' : 's'} in ${groups.size} group${groups.size === 1 ? '' : 's'}; refreshed ${o.refreshedAt ? iso(o.refreshedAt) : 'never'}. <a href="?refresh=true">Refresh</a> · <a href="${esc(jsonHref)}">JSON</a></p>
${(o.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join('\n')}
${o.err ? `<p class="err">error loading blocks: ${esc(o.err)}</p>` : ''}
${metas.length ? `${filters}<div class="axis"><span>${iso(lo)}</span><span>${iso(hi)}</span></div>` : '<p>No blocks.</p>'}
${sections.join('\n')}
${metas.length ? `${markScript}<table><thead><tr><th>ULID</th><th>from</th><th>until</th><th>duration</th><th>level</th><th>resolution</th><th>source</th><th>series</th><th>samples</th><th>chunks</th><th>group</th>${o.admin ? '<th>actions</th>' : ''}</tr></thead><tbody>\n${table}\n</tbody></table>${filterScript}` : ''}
</body></html>
`;
}

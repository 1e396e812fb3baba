// The block viewer of `bucket web` and `compact` (fetch handler with /api/v1/blocks). The page: one timeline per group (external labels + resolution), each block a bar
// placed by its time range and coloured by compaction level, then a table of every block.
// Plain server-rendered HTML and SVG; with admin operations on (--no-disable-admin-operations), each
// block row has mark buttons (POST /api/v1/blocks/mark, lib/web/blockmark.ts) run by a small inline script.
import type { Bucket } from '../sdk/mod.ts';
import type { BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';
import { adminOperationsEnabled, blocksMark } from '../web/blockmark.ts';
import { FAVICON_LINK } from '../web/favicon.ts';
import type { FetchResult } from '../store/blocksync/fetcher.ts';
import { groupKey } from './plan.ts';

function sortedMetas(res: FetchResult): BlockMeta[] {
  return [...res.metas.values()].sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const LEVEL_COLORS = ['#9e9e9e', '#64b5f6', '#1e88e5', '#3949ab', '#6a1b9a', '#c2185b'];
const resName = (r: number) => (r === 0 ? 'raw' : r === 300_000 ? '5m' : r === 3_600_000 ? '1h' : `${r}ms`);

export function bucketPage(metas: readonly BlockMeta[], o: {
  label: string; refreshedAt: number; err?: string; partial: number; groupKey: (m: BlockMeta) => string;
  /** Mark buttons, posting to `${prefix}/api/v1/blocks/mark`. */
  admin?: { prefix: string };
  /** Blocks known to carry a deletion mark. */
  deletionMarked?: ReadonlySet<string>;
}): string {
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
  const sections: string[] = [];
  const ordered = [...groups.entries()].sort(([, a], [, b]) => title(a[0]!).localeCompare(title(b[0]!)) || a[0]!.thanos.downsample.resolution - b[0]!.thanos.downsample.resolution);
  function title(m: BlockMeta): string {
    if (o.label && m.thanos.labels[o.label] !== undefined) return `${o.label}=${m.thanos.labels[o.label]}`;
    const ls = Object.keys(m.thanos.labels).sort().map((k) => `${k}="${m.thanos.labels[k]}"`).join(', ');
    return `{${ls}}`;
  }
  for (const [key, blocks] of ordered) {
    // Stack overlapping blocks on separate rows.
    const rows: number[] = [];
    const placed = blocks.map((m) => {
      let r = rows.findIndex((end) => end <= m.minTime);
      if (r < 0) { r = rows.length; rows.push(0); }
      rows[r] = m.maxTime;
      return { m, r };
    });
    const H = 18;
    const bars = placed.map(({ m, r }) => {
      const w = Math.max(1, x(m.maxTime) - x(m.minTime) - 1);
      const c = LEVEL_COLORS[Math.min(m.compaction.level, LEVEL_COLORS.length - 1)];
      return `<rect x="${x(m.minTime).toFixed(1)}" y="${r * (H + 2)}" width="${w.toFixed(1)}" height="${H}" fill="${c}"><title>${esc(`${m.ulid}\n${iso(m.minTime)} – ${iso(m.maxTime)}\nlevel ${m.compaction.level}, ${resName(m.thanos.downsample.resolution)}, source ${m.thanos.source ?? ''}\nseries ${m.stats?.numSeries ?? 0}, samples ${m.stats?.numSamples ?? 0}`)}</title></rect>`;
    }).join('');
    sections.push(`<section class="group" data-group="${esc(key)}"><h2>${esc(title(blocks[0]!))} <small>${resName(blocks[0]!.thanos.downsample.resolution)} · ${blocks.length} block${blocks.length === 1 ? '' : 's'}</small></h2>
<svg viewBox="0 0 ${W} ${rows.length * (H + 2)}" width="100%" height="${rows.length * (H + 2)}" preserveAspectRatio="none">${bars}</svg></section>`);
  }
  const actions = (m: BlockMeta) => (o.admin
    ? `<td><button type="button" data-mark="DELETION" data-id="${m.ulid}">mark deletion</button> <button type="button" data-mark="NO_COMPACTION" data-id="${m.ulid}">mark no-compact</button></td>`
    : '');
  const table = metas.map((m) => `<tr data-block="${m.ulid}"><td><code>${m.ulid}</code>${o.deletionMarked?.has(m.ulid) ? ' <span class="mark">marked for deletion</span>' : ''}</td><td>${iso(m.minTime)}</td><td>${iso(m.maxTime)}</td><td>${m.compaction.level}</td><td>${resName(m.thanos.downsample.resolution)}</td><td>${esc(String(m.thanos.source ?? ''))}</td><td>${m.stats?.numSeries ?? 0}</td><td>${m.stats?.numSamples ?? 0}</td><td>${esc(title(m))}</td>${actions(m)}</tr>`).join('\n');
  // The mark request is a JSON body (a cross-site form cannot send one: see lib/web/blockmark.ts).
  const script = o.admin ? `<p>Detail for marks: <input id="mark-detail" size="40" placeholder="why (stored in the mark)"> <span id="mark-status"></span></p>
<script>
document.addEventListener('click', function (e) {
  var b = e.target.closest && e.target.closest('button[data-mark]');
  if (!b) return;
  var status = document.getElementById('mark-status');
  status.textContent = 'marking ' + b.dataset.id + '…';
  fetch(${JSON.stringify(`${o.admin.prefix}/api/v1/blocks/mark`).replace(/</g, '\\u003c')}, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: b.dataset.id, action: b.dataset.mark, detail: document.getElementById('mark-detail').value }),
  }).then(function (r) { return r.json(); }).then(function (body) {
    if (body.status !== 'success') throw new Error(body.error || 'mark failed');
    status.textContent = b.dataset.id + ': ' + b.dataset.mark + ' mark written';
    status.setAttribute('data-done', b.dataset.id + ' ' + b.dataset.mark);
  }).catch(function (err) { status.textContent = 'error: ' + err.message; status.setAttribute('data-error', err.message); });
});
</script>` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Thanos bucket blocks</title>${FAVICON_LINK}
<style>body{font:14px system-ui,sans-serif;margin:1.5em}h2{font-size:15px;margin:1.2em 0 .3em}small{color:#666;font-weight:normal}svg{background:#f5f5f5;display:block}table{border-collapse:collapse;margin-top:2em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}.axis{display:flex;justify-content:space-between;color:#666}.err{color:#b00}.mark{color:#b00;font-size:90%}</style></head>
<body><h1>Blocks</h1>
<p>${metas.length} block${metas.length === 1 ? '' : 's'} in ${groups.size} group${groups.size === 1 ? '' : 's'}${o.partial ? `, ${o.partial} partial upload(s) not shown` : ''}; refreshed ${o.refreshedAt ? iso(o.refreshedAt) : 'never'}. <a href="?refresh=true">Refresh</a> · <a href="api/v1/blocks">JSON</a></p>
${o.err ? `<p class="err">error loading blocks: ${esc(o.err)}</p>` : ''}
${metas.length ? `<div class="axis"><span>${iso(lo)}</span><span>${iso(hi)}</span></div>` : '<p>No blocks.</p>'}
${sections.join('\n')}
${metas.length ? `${script}<table><thead><tr><th>ULID</th><th>from</th><th>until</th><th>level</th><th>resolution</th><th>source</th><th>series</th><th>samples</th><th>group</th>${o.admin ? '<th>actions</th>' : ''}</tr></thead><tbody>\n${table}\n</tbody></table>` : ''}
</body></html>
`;
}

/** The block viewer as a fetch handler (exported for in-process tests). */
export function bucketWebHandler(load: () => Promise<FetchResult>, opts: {
  refreshMs: number; label: string; prefix?: string; now?: () => number;
  /** The bucket and --disable-admin-operations, for POST /api/v1/blocks/mark (lib/web/blockmark.ts). */
  bucket?: Bucket; disableAdminOperations?: boolean | undefined;
}): (req: Request) => Promise<Response> {
  let cache: { res?: FetchResult; at: number; err?: string } = { at: 0 };
  const now = opts.now ?? Date.now;
  const prefix = (opts.prefix ?? '').replace(/\/$/, '');
  let inflight: Promise<void> | undefined;
  const refresh = async (force: boolean) => {
    if (!force && cache.res && now() - cache.at < opts.refreshMs) return;
    inflight ??= load().then((res) => { cache = { res, at: now() }; }, (e) => { cache = { ...cache, at: now(), err: (e as Error).message }; }).finally(() => { inflight = undefined; });
    await inflight;
  };
  return async (req) => {
    const url = new URL(req.url);
    let path = url.pathname;
    if (prefix && path.startsWith(prefix)) path = path.slice(prefix.length) || '/';
    if (path === '/-/healthy') return new Response('OK\n');
    if (path === '/-/ready') return new Response(cache.res ? 'OK\n' : 'not ready\n', { status: cache.res ? 200 : 503 });
    if (path === '/api/v1/blocks/mark') {
      const res = await blocksMark(opts, req, url);
      // The next view reads the bucket again, so the mark shows.
      if (res.ok) cache = { ...cache, at: 0 };
      return res;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('method not allowed\n', { status: 405 });
    await refresh(url.searchParams.get('refresh') === 'true');
    const metas = cache.res ? sortedMetas(cache.res) : [];
    if (path === '/api/v1/blocks') {
      return Response.json({
        status: cache.err && !cache.res ? 'error' : 'success',
        data: { blocks: metas.map((m) => m.raw), label: opts.label, refreshedAt: new Date(cache.at).toISOString(), err: cache.err ?? null },
        ...(cache.err && !cache.res ? { errorType: 'internal', error: cache.err } : {}),
      });
    }
    if (path === '/' || path === '/blocks' || path === '/loaded') {
      const page = bucketPage(metas, {
        label: opts.label, refreshedAt: cache.at, err: cache.err, partial: cache.res ? cache.res.partial.size : 0, groupKey,
        admin: adminOperationsEnabled(opts) ? { prefix } : undefined, deletionMarked: new Set(cache.res?.deletionMarks.keys() ?? []),
      });
      return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    return new Response('not found\n', { status: 404 });
  };
}


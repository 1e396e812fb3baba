// HTTP surface of the store gateway: GET /api/v1/blocks (Thanos's block viewer API) and a small
// HTML page of the loaded blocks at /loaded (also served at /).
import type { Bucket } from '../../sdk/mod.ts';
import { blocksMark } from '../../web/blockmark.ts';
import { FAVICON_LINK } from '../../web/favicon.ts';
import type { BucketStore } from './bucketstore.ts';

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : String(ms);
}

function fmtDur(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)}d` : h >= 1 ? `${h.toFixed(1)}h` : `${Math.round(ms / 60_000)}m`;
}

export function storeHttp(store: BucketStore, opts: { webDisable: boolean; label?: string; bucket?: Bucket; disableAdminOperations?: boolean | undefined }): (req: Request) => Promise<Response> {
  return async (req: Request) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/api/v1/blocks/mark') return blocksMark(opts, req, url);
    if (path === '/api/v1/blocks') {
      if (req.method !== 'GET') return json({ status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed` }, 405);
      const view = url.searchParams.get('view') ?? 'loaded';
      const blocks = [...store.blocks.values()].map((b) => b.meta.raw).sort((a, b) => Number(a.minTime) - Number(b.minTime));
      return json({
        status: 'success',
        data: {
          blocks,
          label: opts.label ?? '',
          refreshedAt: (store.lastSyncAt ?? new Date(0)).toISOString(),
          err: store.lastSyncError ?? null,
          view,
          // Blocks not served: failed to load, or meta.json unusable (queries warn about both).
          loadFailures: Object.fromEntries([...(store.lastSync?.corrupted ?? []), ...store.loadFailures]),
        },
      });
    }
    if (opts.webDisable) return new Response('not found\n', { status: 404 });
    if (path === '/' || path === '/loaded') {
      const rows = [...store.blocks.values()]
        .sort((a, b) => a.meta.minTime - b.meta.minTime || (a.id < b.id ? -1 : 1))
        .map((b) => {
          const m = b.meta;
          const lbls = b.extLabels.map((l) => `${l.name}="${l.value}"`).join(', ');
          return `<tr><td><code>${esc(m.ulid)}</code></td><td>${esc(iso(m.minTime))}</td><td>${esc(iso(m.maxTime))}</td><td>${fmtDur(m.maxTime - m.minTime)}</td>` +
            `<td>${b.resolution === 0 ? 'raw' : fmtDur(b.resolution)}</td><td>${m.compaction.level}</td><td>${m.stats?.numSeries ?? ''}</td><td>${m.stats?.numSamples ?? ''}</td>` +
            `<td>${esc(lbls)}</td><td>${esc(String(m.thanos.source ?? ''))}</td></tr>`;
        })
        .join('\n');
      const failures = [...(store.lastSync?.corrupted ?? []), ...store.loadFailures].map(([id, e]) => `<li><code>${esc(id)}</code>: ${esc(e)}</li>`).join('');
      const html = `<!doctype html><html><head><meta charset="utf-8"><title>Thanos store gateway: loaded blocks</title>${FAVICON_LINK}
<style>body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;font-size:90%}th{background:#eee}</style></head>
<body><h1>Loaded blocks (${store.blocks.size})</h1>
<p>Last sync: ${esc(store.lastSyncAt?.toISOString() ?? 'never')}${store.lastSyncError ? ` — error: ${esc(store.lastSyncError)}` : ''}. JSON: <a href="api/v1/blocks">/api/v1/blocks</a></p>
<table><thead><tr><th>ULID</th><th>Min time</th><th>Max time</th><th>Duration</th><th>Resolution</th><th>Level</th><th>Series</th><th>Samples</th><th>External labels</th><th>Source</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${failures ? `<h2>Blocks that failed to load</h2><ul>${failures}</ul>` : ''}
</body></html>`;
      return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    return new Response('not found\n', { status: 404 });
  };
}

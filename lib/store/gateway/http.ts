// HTTP surface of the store gateway: GET /api/v1/blocks (Thanos's block viewer API) and a small
// HTML page of the loaded blocks at /loaded (also served at /).
import type { Bucket } from '../../sdk/mod.ts';
import { isULID } from '../../tsdb/ulid.ts';
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

const te = new TextEncoder();

/**
 * Why a mark request is refused as one a browser could send from another site (undefined = fine).
 * A cross-site page can POST a form (urlencoded, multipart, text/plain) without any preflight, so
 * the endpoint takes only what a browser must preflight: a JSON body or a custom header. This
 * server sends no CORS headers, so such a preflight fails. A foreign Origin is refused as well,
 * in case a CORS layer is ever put in front.
 */
function crossSiteRisk(req: Request, url: URL): string | undefined {
  const origin = req.headers.get('origin');
  if (origin !== null) {
    let same = false;
    try {
      same = new URL(origin).host === (req.headers.get('host') ?? url.host);
    } catch { /* "null" or garbage: not same-origin */ }
    if (!same) return `request from origin ${JSON.stringify(origin)} refused`;
  }
  const ct = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json' || req.headers.get('x-requested-with')) return undefined;
  return 'a browser can send this request from any web site: send the parameters as a JSON body (Content-Type: application/json) or add an X-Requested-With header';
}

/**
 * POST /api/v1/blocks/mark: id, action=DELETION|NO_COMPACTION, detail — a JSON body, or query/form
 * parameters with an X-Requested-With header (see crossSiteRisk).
 */
async function mark(bucket: Bucket, req: Request, url: URL): Promise<Response> {
  const risk = crossSiteRisk(req, url);
  if (risk) return json({ status: 'error', errorType: 'forbidden', error: risk }, 403);
  const bad = (msg: string) => json({ status: 'error', errorType: 'bad_data', error: msg }, 400);
  const params = new URLSearchParams(url.search);
  const ct = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/x-www-form-urlencoded') for (const [k, v] of new URLSearchParams(await req.text())) params.set(k, v);
  else if (ct === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(await req.text());
    } catch (e) {
      return bad(`request body is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('request body must be a JSON object with id, action and detail');
    for (const [k, v] of Object.entries(body)) {
      if (k !== 'id' && k !== 'action' && k !== 'detail') return bad(`unknown field ${JSON.stringify(k)} (want id, action, detail)`);
      if (typeof v !== 'string') return bad(`field ${JSON.stringify(k)} must be a string`);
      params.set(k, v);
    }
  }
  const id = params.get('id') ?? '';
  const action = params.get('action') ?? '';
  const detail = params.get('detail') ?? '';
  if (!isULID(id)) return bad(`ULID ${JSON.stringify(id)} is not valid`);
  if (!(await bucket.exists(`${id}/meta.json`))) return bad(`block ${id} does not exist in the bucket`);
  const now = Math.floor(Date.now() / 1000);
  if (action === 'DELETION') {
    await bucket.upload(`${id}/deletion-mark.json`, te.encode(JSON.stringify({ id, version: 1, details: detail, deletion_time: now }, null, 2)));
  } else if (action === 'NO_COMPACTION') {
    await bucket.upload(`${id}/no-compact-mark.json`, te.encode(JSON.stringify({ id, version: 1, details: detail, no_compact_time: now, reason: 'manual' }, null, 2)));
  } else return bad(`not supported marker ${JSON.stringify(action)} (want DELETION or NO_COMPACTION)`);
  return json({ status: 'success', data: null });
}

/**
 * Admin operations (the mark endpoint) need an explicit `--no-disable-admin-operations`
 * (disableAdminOperations: false): Thanos enables them by default, but this server has no HTTP
 * authentication, so by default anyone who can reach the port could mark every block for deletion.
 * undefined = the flag was not given.
 */
export const ADMIN_DISABLED_BY_DEFAULT = 'admin operations are disabled: no HTTP authentication is configured, so POST /api/v1/blocks/mark needs an explicit --no-disable-admin-operations (disableAdminOperations: false)';

export function storeHttp(store: BucketStore, opts: { webDisable: boolean; label?: string; bucket?: Bucket; disableAdminOperations?: boolean | undefined }): (req: Request) => Promise<Response> {
  return async (req: Request) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/api/v1/blocks/mark') {
      if (req.method !== 'POST') return json({ status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed` }, 405);
      if (opts.disableAdminOperations === true || !opts.bucket) return json({ status: 'error', errorType: 'forbidden', error: 'admin operations are disabled (--disable-admin-operations)' }, 403);
      if (opts.disableAdminOperations !== false) return json({ status: 'error', errorType: 'forbidden', error: ADMIN_DISABLED_BY_DEFAULT }, 403);
      return mark(opts.bucket, req, url);
    }
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
      const html = `<!doctype html><html><head><meta charset="utf-8"><title>Thanos store gateway: loaded blocks</title>
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

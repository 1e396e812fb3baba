// POST /api/v1/blocks/mark of the block viewers (store gateway, compactor, `tools bucket web`):
// Thanos's admin operation that writes a deletion-mark.json or no-compact-mark.json for a block.
// Off unless asked for explicitly (see ADMIN_DISABLED_BY_DEFAULT), and refused for requests a
// browser could send from another site.
import type { Bucket } from '../sdk/mod.ts';
import { isULID } from '../tsdb/ulid.ts';

const te = new TextEncoder();

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

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
async function markBlock(bucket: Bucket, req: Request, url: URL): Promise<Response> {
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

/** Whether the mark endpoint is on: only with a bucket and an explicit --no-disable-admin-operations. */
export function adminOperationsEnabled(o: { bucket?: Bucket; disableAdminOperations?: boolean | undefined }): boolean {
  return o.bucket !== undefined && o.disableAdminOperations === false;
}

/** The POST /api/v1/blocks/mark route: method and admin checks, then the mark. */
export async function blocksMark(o: { bucket?: Bucket; disableAdminOperations?: boolean | undefined }, req: Request, url: URL): Promise<Response> {
  if (req.method !== 'POST') return json({ status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed` }, 405);
  if (o.disableAdminOperations === true || !o.bucket) return json({ status: 'error', errorType: 'forbidden', error: 'admin operations are disabled (--disable-admin-operations)' }, 403);
  if (o.disableAdminOperations !== false) return json({ status: 'error', errorType: 'forbidden', error: ADMIN_DISABLED_BY_DEFAULT }, 403);
  return markBlock(o.bucket, req, url);
}

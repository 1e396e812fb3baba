// A fake Google Cloud Storage JSON API and OAuth 2.0 token endpoint on loopback, written from
// Google's public references (no GCS runs here):
//   - token: POST /token, grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion = a JWT
//     (RS256) signed with the service account's key; the fake verifies the signature with the
//     public key, iss, aud (https://oauth2.googleapis.com/token), scope and exp, and issues an
//     access token; a bad assertion is 400 {"error":"invalid_grant"} as Google answers.
//   - the GCE metadata server's token (GET /computeMetadata/v1/instance/service-accounts/default/token,
//     Metadata-Flavor: Google required).
//   - every storage request needs "Authorization: Bearer <issued token>" (else 401).
//   - objects.insert: POST /upload/storage/v1/b/<bucket>/o, uploadType=media | multipart
//     (multipart/related: JSON metadata part, then the media part) | resumable (the session URI in
//     Location; PUT chunks with Content-Range "bytes a-b/total|*", non-final chunks a multiple of
//     256 KiB, 308 + Range "bytes=0-n" until the last; "bytes */total|*" asks for the status).
//   - objects.get: GET /storage/v1/b/<bucket>/o/<object> (metadata JSON; size as a string, updated
//     RFC 3339) or ?alt=media with Range (206; 416 when the range starts at or past the end).
//   - objects.list: prefix, delimiter, maxResults, pageToken/nextPageToken, items + prefixes.
//   - objects.delete: 204; 404 when missing.
// Objects in memory. `pageSize` caps list pages (to exercise paging); failNext() makes the next
// requests of a method answer 503.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, verify as rsaVerify, type KeyObject } from 'node:crypto';

export interface FakeGcs {
  endpoint: string;
  hostPort: string;
  tokenUri: string;
  requests: number;
  tokensIssued: number;
  /** Requests per upload type ('media' | 'multipart' | 'resumable' | 'chunk'). */
  uploads: Record<string, number>;
  failNext(n: number, method: string, pathIncludes?: string): void;
  /** The generation of a stored object (GCS numbers every write in order: later writes are higher). */
  generation(name: string): number | undefined;
  stop(): Promise<void>;
}

const GRANULE = 256 * 1024;

export async function startFakeGcs(o: { bucket: string; clientEmail: string; publicKey: KeyObject; pageSize?: number }): Promise<FakeGcs> {
  const objects = new Map<string, { data: Buffer; updated: Date; generation: number }>();
  const sessions = new Map<string, { name: string; parts: Buffer[]; size: number }>();
  const tokens = new Set<string>();
  const state = { requests: 0, tokensIssued: 0, uploads: {} as Record<string, number>, fail: [] as Array<{ method: string; path?: string }> };
  let base = '';
  let gen = 1;

  const json = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', ...extra });
    res.end(JSON.stringify(body));
  };
  const gErr = (res: ServerResponse, status: number, message: string) => json(res, status, { error: { code: status, message, errors: [{ message, domain: 'global' }] } });
  const meta = (name: string) => {
    const ob = objects.get(name)!;
    return { kind: 'storage#object', id: `${o.bucket}/${name}/${ob.generation}`, name, bucket: o.bucket, generation: String(ob.generation), contentType: 'application/octet-stream', size: String(ob.data.length), updated: ob.updated.toISOString(), timeCreated: ob.updated.toISOString() };
  };
  const put = (name: string, data: Buffer) => { objects.set(name, { data, updated: new Date(), generation: gen++ }); };
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

  function token(res: ServerResponse, body: Buffer) {
    const form = new URLSearchParams(body.toString());
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    const parts = (form.get('assertion') ?? '').split('.');
    const bad = (d: string) => json(res, 400, { error: 'invalid_grant', error_description: d });
    if (parts.length !== 3) return bad('Invalid JWT');
    let header: { alg?: string }, claims: { iss?: string; aud?: string; scope?: string; exp?: number; iat?: number };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString());
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString());
    } catch { return bad('Invalid JWT'); }
    if (header.alg !== 'RS256') return bad('Invalid JWT: alg');
    if (!rsaVerify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), o.publicKey, Buffer.from(parts[2]!, 'base64url'))) return bad('Invalid JWT Signature.');
    if (claims.iss !== o.clientEmail) return bad('Invalid email or User ID');
    if (claims.aud !== 'https://oauth2.googleapis.com/token') return bad('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe');
    const now = Date.now() / 1000;
    if (!(typeof claims.exp === 'number' && claims.exp > now && claims.exp - (claims.iat ?? 0) <= 3600)) return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    if (!String(claims.scope ?? '').split(' ').some((s) => s.startsWith('https://www.googleapis.com/auth/devstorage.'))) return bad('Invalid scope');
    const t = `ya29.${b64url(randomBytes(24))}`;
    tokens.add(t);
    state.tokensIssued++;
    json(res, 200, { access_token: t, expires_in: 3599, token_type: 'Bearer' });
  }

  function list(res: ServerResponse, q: URLSearchParams) {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const after = q.get('pageToken') ? Buffer.from(q.get('pageToken')!, 'base64').toString() : '';
    const max = Math.min(Number(q.get('maxResults') ?? 1000), o.pageSize ?? 1000);
    const entries: Array<{ name?: string; prefix?: string }> = [];
    const seen = new Set<string>();
    for (const k of [...objects.keys()].sort()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const i = delimiter ? rest.indexOf(delimiter) : -1;
      const e = i >= 0 ? prefix + rest.slice(0, i + delimiter.length) : k;
      if (e <= after || seen.has(e)) continue;
      seen.add(e);
      entries.push(i >= 0 ? { prefix: e } : { name: k });
    }
    const page = entries.slice(0, max);
    const out: Record<string, unknown> = { kind: 'storage#objects' };
    const items = page.filter((e) => e.name).map((e) => meta(e.name!));
    const prefixes = page.filter((e) => e.prefix).map((e) => e.prefix!);
    if (items.length) out.items = items;
    if (prefixes.length) out.prefixes = prefixes;
    if (entries.length > max) { const last = page[page.length - 1]!; out.nextPageToken = Buffer.from(last.name ?? last.prefix!).toString('base64'); }
    json(res, 200, out);
  }

  function multipart(req: IncomingMessage, body: Buffer): { name?: string; data: Buffer } | undefined {
    const m = /boundary="?([^";]+)"?/.exec(String(req.headers['content-type'] ?? ''));
    if (!/^multipart\/related/i.test(String(req.headers['content-type'])) || !m) return undefined;
    const delim = Buffer.from(`--${m[1]}`);
    const parts: Buffer[] = [];
    let i = body.indexOf(delim);
    while (i >= 0) {
      const start = i + delim.length;
      if (body.subarray(start, start + 2).toString() === '--') break;
      const next = body.indexOf(delim, start);
      if (next < 0) return undefined;
      parts.push(body.subarray(start, next));
      i = next;
    }
    if (parts.length !== 2) return undefined;
    const split = (p: Buffer) => {
      const h = p.indexOf('\r\n\r\n');
      let b = p.subarray(h + 4);
      if (b.subarray(b.length - 2).toString() === '\r\n') b = b.subarray(0, b.length - 2);
      return { headers: p.subarray(0, h).toString().toLowerCase(), body: b };
    };
    const [mp, dp] = parts.map(split) as [ReturnType<typeof split>, ReturnType<typeof split>];
    if (!mp.headers.includes('application/json')) return undefined;
    const md = JSON.parse(mp.body.toString()) as { name?: string };
    return { name: md.name, data: Buffer.from(dp.body) };
  }

  function chunk(req: IncomingMessage, res: ServerResponse, id: string, body: Buffer) {
    const s = sessions.get(id);
    if (!s) return gErr(res, 404, 'No such upload session');
    state.uploads.chunk = (state.uploads.chunk ?? 0) + 1;
    const cr = String(req.headers['content-range'] ?? '');
    const status = () => { const h: Record<string, string> = s.size > 0 ? { Range: `bytes=0-${s.size - 1}` } : {}; res.writeHead(308, h); res.end(); };
    const finish = () => { put(s.name, Buffer.concat(s.parts)); sessions.delete(id); json(res, 200, meta(s.name)); };
    let m = /^bytes \*\/(\d+|\*)$/.exec(cr);
    if (m) {
      if (body.length) return gErr(res, 400, 'Content-Range */n with a body');
      if (m[1] !== '*' && Number(m[1]) === s.size) return finish();
      return status();
    }
    m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
    if (!m) return gErr(res, 400, `Invalid Content-Range: ${cr}`);
    const a = Number(m[1]), b = Number(m[2]);
    if (b - a + 1 !== body.length) return gErr(res, 400, 'Content-Range does not match the body length');
    if (a > s.size) return gErr(res, 400, `Content-Range starts at ${a}, but ${s.size} bytes are persisted`);
    if (m[3] === '*' && body.length % GRANULE !== 0) return gErr(res, 400, 'Chunk size must be a multiple of 262144 bytes (256 KiB) except for the last chunk');
    const fresh = body.subarray(s.size - a);
    s.parts.push(Buffer.from(fresh));
    s.size += fresh.length;
    if (m[3] !== '*') {
      if (Number(m[3]) !== s.size) return gErr(res, 400, 'total size does not match the bytes received');
      return finish();
    }
    status();
  }

  const srv: Server = createServer((req, res) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, 'http://x');
      const q = url.searchParams;
      const f = state.fail.findIndex((x) => x.method === req.method && (!x.path || req.url!.includes(x.path)));
      if (f >= 0) { state.fail.splice(f, 1); return gErr(res, 503, 'Service Unavailable (injected)'); }
      if (url.pathname === '/token' && req.method === 'POST') return token(res, body);
      if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
        // The GCE metadata server: only with Metadata-Flavor: Google (its SSRF guard), else 403.
        if (req.headers['metadata-flavor'] !== 'Google') { res.writeHead(403); return res.end('Missing Metadata-Flavor:Google header.'); }
        const t = `ya29.md-${b64url(randomBytes(24))}`;
        tokens.add(t);
        state.tokensIssued++;
        return json(res, 200, { access_token: t, expires_in: 3599, token_type: 'Bearer' });
      }
      const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
      if (!auth || !tokens.has(auth[1]!)) return gErr(res, 401, 'Invalid Credentials');
      let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      if (m) {
        if (decodeURIComponent(m[1]!) !== o.bucket) return gErr(res, 404, 'The specified bucket does not exist.');
        const type = q.get('uploadType') ?? '';
        if (req.method === 'PUT' && type === 'resumable' && q.get('upload_id')) return chunk(req, res, q.get('upload_id')!, body);
        if (req.method !== 'POST') return gErr(res, 405, 'Method not allowed');
        state.uploads[type] = (state.uploads[type] ?? 0) + 1;
        if (type === 'media') {
          const name = q.get('name');
          if (!name) return gErr(res, 400, 'Required parameter: name');
          put(name, body);
          return json(res, 200, meta(name));
        }
        if (type === 'multipart') {
          const mp = multipart(req, body);
          if (!mp) return gErr(res, 400, 'Malformed multipart body');
          const name = mp.name ?? q.get('name');
          if (!name) return gErr(res, 400, 'Required parameter: name');
          put(name, mp.data);
          return json(res, 200, meta(name));
        }
        if (type === 'resumable') {
          let md: { name?: string } = {};
          if (body.length) { try { md = JSON.parse(body.toString()); } catch { return gErr(res, 400, 'Invalid JSON'); } }
          const name = md.name ?? q.get('name');
          if (!name) return gErr(res, 400, 'Required parameter: name');
          const id = b64url(randomBytes(12));
          sessions.set(id, { name, parts: [], size: 0 });
          res.writeHead(200, { Location: `${base}/upload/storage/v1/b/${encodeURIComponent(o.bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`, 'Content-Length': '0' });
          return res.end();
        }
        return gErr(res, 400, `Invalid upload type: ${type}`);
      }
      m = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
      if (!m || decodeURIComponent(m[1]!) !== o.bucket) return gErr(res, 404, 'Not Found');
      if (m[2] === undefined) return req.method === 'GET' ? list(res, q) : gErr(res, 405, 'Method not allowed');
      const name = decodeURIComponent(m[2]);
      const ob = objects.get(name);
      if (req.method === 'DELETE') {
        if (!ob) return gErr(res, 404, `No such object: ${o.bucket}/${name}`);
        objects.delete(name);
        res.writeHead(204);
        return res.end();
      }
      if (req.method !== 'GET') return gErr(res, 405, 'Method not allowed');
      if (!ob) return gErr(res, 404, `No such object: ${o.bucket}/${name}`);
      if (q.get('alt') !== 'media') return json(res, 200, meta(name));
      const hdr = { 'Content-Type': 'application/octet-stream', 'x-goog-generation': String(ob.generation) };
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
      if (range) {
        const start = Number(range[1]);
        if (start >= ob.data.length) return gErr(res, 416, 'The requested range cannot be satisfied.');
        const end = Math.min(ob.data.length - 1, range[2] ? Number(range[2]) : ob.data.length - 1);
        res.writeHead(206, { ...hdr, 'Content-Range': `bytes ${start}-${end}/${ob.data.length}`, 'Content-Length': String(end - start + 1) });
        return res.end(ob.data.subarray(start, end + 1));
      }
      res.writeHead(200, { ...hdr, 'Content-Length': String(ob.data.length) });
      res.end(ob.data);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
  return {
    endpoint: base,
    hostPort: `127.0.0.1:${port}`,
    tokenUri: `${base}/token`,
    get requests() { return state.requests; },
    get tokensIssued() { return state.tokensIssued; },
    get uploads() { return state.uploads; },
    failNext(n, method, path) { for (let i = 0; i < n; i++) state.fail.push({ method, path }); },
    generation: (name) => objects.get(name)?.generation,
    async stop() { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); },
  };
}

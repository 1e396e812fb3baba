// A fake Tencent Cloud COS (XML API) on loopback, written from COS's public API reference (no COS
// runs here). Every request must carry a valid request signature (COS "request signature" doc):
// Authorization = q-sign-algorithm=sha1&q-ak=<SecretId>&q-sign-time=<t0;t1>&q-key-time=<t0;t1>
// &q-header-list=<h1;h2>&q-url-param-list=<p1;p2>&q-signature=<hex>, where
//   SignKey = HMAC-SHA1(SecretKey, KeyTime) hex
//   HttpString = method(lower) \n path \n params \n headers \n   (k=urlencode(v) joined by &, keys
//                lower case, sorted, only the listed ones)
//   StringToSign = sha1 \n SignTime \n SHA1(HttpString) hex \n;  Signature = HMAC-SHA1(SignKey, StringToSign) hex
// The fake recomputes it from the request it received, and also requires that Host and every query
// parameter are signed and that now is inside q-sign-time. Path-style on the endpoint (the path is
// the object key). PUT Object, GET Object (Range: 206, 416 past the end), HEAD, DELETE (204 even
// when missing), GET Bucket (prefix, delimiter, marker, max-keys), multipart (Initiate, Upload Part,
// Complete, Abort; parts but the last >= 1 MiB). Objects in memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface FakeCos {
  endpoint: string;
  hostPort: string;
  requests: number;
  multipartCompleted: number;
  stop(): Promise<void>;
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export async function startFakeCos(o: { secretId: string; secretKey: string; pageSize?: number }): Promise<FakeCos> {
  const objects = new Map<string, { data: Buffer; modified: Date; etag: string }>();
  const uploads = new Map<string, { key: string; parts: Map<number, { data: Buffer; etag: string }> }>();
  const state = { requests: 0, multipartCompleted: 0 };
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const xmlErr = (res: ServerResponse, status: number, code: string, message: string, head = false) => {
    res.writeHead(status, { 'Content-Type': 'application/xml', 'x-cos-request-id': `req-${state.requests}` });
    res.end(head ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message><Resource>fake</Resource><RequestId>req-${state.requests}</RequestId></Error>`);
  };

  function verify(req: IncomingMessage, url: URL, path: string): [string, string] | undefined {
    const a = new URLSearchParams(String(req.headers.authorization ?? ''));
    if (a.get('q-sign-algorithm') !== 'sha1') return ['AccessDenied', 'q-sign-algorithm must be sha1'];
    if (a.get('q-ak') !== o.secretId) return ['InvalidAccessKeyId', 'The access key Id format you provided is invalid.'];
    const signTime = a.get('q-sign-time') ?? '';
    const keyTime = a.get('q-key-time') ?? '';
    const [t0, t1] = signTime.split(';').map(Number) as [number, number];
    const now = Date.now() / 1000;
    if (!(t0 <= now + 60 && now <= t1)) return ['AccessDenied', 'Request has expired'];
    const headerList = (a.get('q-header-list') ?? '').split(';').filter(Boolean);
    const paramList = (a.get('q-url-param-list') ?? '').split(';').filter(Boolean);
    if (!headerList.includes('host')) return ['AccessDenied', 'Host must be signed'];
    for (const k of url.searchParams.keys()) if (!paramList.includes(enc(k).toLowerCase())) return ['AccessDenied', `query parameter ${k} is not signed`];
    const params = [...url.searchParams.entries()].map(([k, v]) => [enc(k).toLowerCase(), enc(v)] as const).filter(([k]) => paramList.includes(k)).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
    const headers = headerList.slice().sort().map((k) => `${k}=${enc(String(req.headers[k] ?? ''))}`).join('&');
    const httpString = `${req.method!.toLowerCase()}\n${path}\n${params}\n${headers}\n`;
    const stringToSign = `sha1\n${signTime}\n${createHash('sha1').update(httpString).digest('hex')}\n`;
    const signKey = createHmac('sha1', o.secretKey).update(keyTime).digest('hex');
    const want = createHmac('sha1', signKey).update(stringToSign).digest('hex');
    return want === a.get('q-signature') ? undefined : ['SignatureDoesNotMatch', 'The calculated signature does not match the provided one.'];
  }

  const srv: Server = createServer((req, res) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const path = decodeURIComponent(url.pathname);
      const key = path.slice(1);
      const q = url.searchParams;
      const head = req.method === 'HEAD';
      const bad = verify(req, url, path);
      if (bad) return xmlErr(res, 403, bad[0], bad[1], head);
      const body = Buffer.concat(chunks);
      if (key === '' && req.method === 'GET') {
        const prefix = q.get('prefix') ?? '';
        const delimiter = q.get('delimiter') ?? '';
        const marker = q.get('marker') ?? '';
        const max = Math.min(Number(q.get('max-keys') ?? 1000), o.pageSize ?? 1000);
        const entries: Array<{ key?: string; prefix?: string }> = [];
        const seen = new Set<string>();
        for (const k of [...objects.keys()].sort()) {
          if (!k.startsWith(prefix) || k <= marker) continue;
          const rest = k.slice(prefix.length);
          const i = delimiter ? rest.indexOf(delimiter) : -1;
          if (i >= 0) {
            const p = prefix + rest.slice(0, i + delimiter.length);
            if (p <= marker || seen.has(p)) continue;
            seen.add(p);
            entries.push({ prefix: p });
          } else entries.push({ key: k });
        }
        const page = entries.slice(0, max);
        const truncated = entries.length > max;
        const last = page[page.length - 1];
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>fake-1250000000</Name><Prefix>${esc(prefix)}</Prefix><Marker>${esc(marker)}</Marker><MaxKeys>${max}</MaxKeys><Delimiter>${esc(delimiter)}</Delimiter><IsTruncated>${truncated}</IsTruncated>${truncated && delimiter ? `<NextMarker>${esc(last!.key ?? last!.prefix!)}</NextMarker>` : ''}` +
          page.filter((e) => e.key).map((e) => { const ob = objects.get(e.key!)!; return `<Contents><Key>${esc(e.key!)}</Key><LastModified>${ob.modified.toISOString()}</LastModified><ETag>"${ob.etag}"</ETag><Size>${ob.data.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`; }).join('') +
          page.filter((e) => e.prefix).map((e) => `<CommonPrefixes><Prefix>${esc(e.prefix!)}</Prefix></CommonPrefixes>`).join('') + '</ListBucketResult>';
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        return res.end(xml);
      }
      if (req.method === 'POST' && q.has('uploads')) {
        const id = randomBytes(8).toString('hex');
        uploads.set(id, { key, parts: new Map() });
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        return res.end(`<InitiateMultipartUploadResult><Bucket>fake</Bucket><Key>${esc(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      }
      if (q.has('uploadId')) {
        const up = uploads.get(q.get('uploadId')!);
        if (!up || up.key !== key) return xmlErr(res, 404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
        if (req.method === 'PUT') {
          const etag = `"${createHash('md5').update(body).digest('hex')}"`;
          up.parts.set(Number(q.get('partNumber')), { data: body, etag });
          res.writeHead(200, { ETag: etag });
          return res.end();
        }
        if (req.method === 'DELETE') { uploads.delete(q.get('uploadId')!); res.writeHead(204); return res.end(); }
        if (req.method === 'POST') {
          const listed = [...body.toString().matchAll(/<Part><PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag><\/Part>/g)].map((m) => [Number(m[1]), m[2]!.replace(/&quot;/g, '"')] as const);
          if (listed.length === 0) return xmlErr(res, 400, 'MalformedXML', 'no parts');
          const datas: Buffer[] = [];
          for (const [i, [n, etag]] of listed.entries()) {
            const p = up.parts.get(n);
            if (!p || p.etag !== etag || n !== i + 1) return xmlErr(res, 400, 'InvalidPart', `part ${n}`);
            if (i < listed.length - 1 && p.data.length < 1024 * 1024) return xmlErr(res, 400, 'EntityTooSmall', `part ${n} is smaller than 1 MiB`);
            datas.push(p.data);
          }
          const data = Buffer.concat(datas);
          objects.set(key, { data, modified: new Date(), etag: createHash('md5').update(data).digest('hex') });
          uploads.delete(q.get('uploadId')!);
          state.multipartCompleted++;
          res.writeHead(200, { 'Content-Type': 'application/xml' });
          return res.end(`<CompleteMultipartUploadResult><Key>${esc(key)}</Key></CompleteMultipartUploadResult>`);
        }
      }
      if (req.method === 'PUT') {
        const etag = createHash('md5').update(body).digest('hex');
        objects.set(key, { data: body, modified: new Date(), etag });
        res.writeHead(200, { ETag: `"${etag}"` });
        return res.end();
      }
      if (req.method === 'DELETE') {
        objects.delete(key);
        res.writeHead(204);
        return res.end();
      }
      const ob = objects.get(key);
      if (!ob) return xmlErr(res, 404, 'NoSuchKey', 'The specified key does not exist.', head);
      const hdr = { 'Last-Modified': ob.modified.toUTCString(), ETag: `"${ob.etag}"`, 'Content-Type': 'application/octet-stream' };
      if (head) {
        res.writeHead(200, { ...hdr, 'Content-Length': String(ob.data.length) });
        return res.end();
      }
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
      if (range) {
        const start = Number(range[1]);
        if (start >= ob.data.length) return xmlErr(res, 416, 'InvalidRange', 'The requested range is not satisfiable');
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
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    get requests() { return state.requests; },
    get multipartCompleted() { return state.multipartCompleted; },
    async stop() { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); },
  };
}

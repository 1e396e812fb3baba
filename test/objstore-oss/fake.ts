// A fake Alibaba Cloud OSS on loopback, written from OSS's public API reference, that verifies every
// request's signature (header signature V1: Authorization "OSS <AccessKeyId>:<Signature>", Signature =
// base64(HMAC-SHA1(secret, VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders
// CanonicalizedResource)); Date is x-oss-date when sent) and Content-MD5 when sent. Virtual-hosted
// as OSS is (the bucket is the Host's first label); on an IP address, where ali-oss cannot name the
// bucket in Host through fetch, the fake serves its one bucket and the path is the object name; PutObject (also chunked), GetObject with Range (206, 416 past the end),
// HeadObject, DeleteObject, ListObjects (V1: prefix, delimiter, marker, max-keys), and multipart:
// InitiateMultipartUpload (POST ?uploads), UploadPart (PUT ?partNumber=&uploadId=), CompleteMultipartUpload
// (POST ?uploadId= with the <CompleteMultipartUpload> part list: parts ascending, ETags matching, every
// part but the last at least 100 KB as OSS requires), AbortMultipartUpload (DELETE ?uploadId=), unknown
// upload ids answered NoSuchUpload. Objects in memory. `multipart` counts what happened; `failPart`
// makes UploadPart of that part number answer 500 InternalError.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, createHmac } from 'node:crypto';

// Sub-resources that are part of the CanonicalizedResource (OSS docs; query parameters such as
// prefix/marker are not).
const SUBRESOURCES = new Set(['acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append', 'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'symlink', 'restore', 'versionId', 'versioning', 'versions', 'response-content-type', 'response-content-disposition', 'x-oss-process']);

export interface FakeOss {
  endpoint: string;
  hostPort: string;
  requests: number;
  multipart: { initiated: number; parts: number; completed: number; aborted: number; open: number };
  /** UploadPart with this part number answers 500 InternalError (undefined: never). */
  failPart: number | undefined;
  stop(): Promise<void>;
}

export async function startFakeOss(o: { bucket: string; accessKeyId: string; secret: string }): Promise<FakeOss> {
  const objects = new Map<string, { data: Buffer; modified: Date; etag: string }>();
  const state = { requests: 0, failPart: undefined as number | undefined };
  const MIN_PART = 100 * 1024; // OSS: every part but the last is at least 100 KB
  const uploads = new Map<string, { key: string; parts: Map<number, { data: Buffer; etag: string }> }>();
  const mp = { initiated: 0, parts: 0, completed: 0, aborted: 0 };
  let uploadSeq = 0;
  const xmlErr = (res: ServerResponse, status: number, code: string, message: string, head = false) => {
    res.writeHead(status, { 'Content-Type': 'application/xml', 'x-oss-request-id': `req-${state.requests}` });
    res.end(head ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>req-${state.requests}</RequestId><HostId>fake-oss</HostId></Error>`);
  };
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

  function verify(req: IncomingMessage, url: URL, bucket: string, key: string): string | undefined {
    const auth = String(req.headers.authorization ?? '');
    const m = /^OSS ([^:]+):(.+)$/.exec(auth);
    if (!m) return 'AccessDenied';
    if (m[1] !== o.accessKeyId) return 'InvalidAccessKeyId';
    const h = req.headers;
    const ossHeaders = Object.keys(h).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${String(h[k]).trim()}\n`).join('');
    const sub = [...url.searchParams.entries()].filter(([k]) => SUBRESOURCES.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
    const resource = `/${bucket}/${key}${sub.length ? `?${sub.join('&')}` : ''}`;
    const date = String(h.date ?? h['x-oss-date'] ?? '');
    const toSign = `${req.method}\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${date}\n${ossHeaders}${resource}`;
    const want = createHmac('sha1', o.secret).update(toSign).digest('base64');
    return want === m[2] ? undefined : 'SignatureDoesNotMatch';
  }

  const srv: Server = createServer((req, res) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const hostName = String(req.headers.host ?? '').replace(/:\d+$/, '');
      const bucket = /^[\d.]+$/.test(hostName) ? o.bucket : hostName.split('.')[0]!;
      const key = decodeURIComponent(url.pathname.slice(1));
      const head = req.method === 'HEAD';
      if (bucket !== o.bucket) return xmlErr(res, 404, 'NoSuchBucket', 'The specified bucket does not exist.', head);
      const bad = verify(req, url, bucket, key);
      if (bad) return xmlErr(res, 403, bad, bad === 'SignatureDoesNotMatch' ? 'The request signature we calculated does not match the signature you provided.' : 'The OSS Access Key Id you provided does not exist in our records.', head);
      const body = Buffer.concat(chunks);
      if (key === '' && req.method === 'GET') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const delimiter = url.searchParams.get('delimiter') ?? '';
        const marker = url.searchParams.get('marker') ?? '';
        const max = Number(url.searchParams.get('max-keys') ?? 100);
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
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>${bucket}</Name><Prefix>${esc(prefix)}</Prefix><Marker>${esc(marker)}</Marker><MaxKeys>${max}</MaxKeys><Delimiter>${esc(delimiter)}</Delimiter><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextMarker>${esc(last!.key ?? last!.prefix!)}</NextMarker>` : ''}` +
          page.filter((e) => e.key).map((e) => { const ob = objects.get(e.key!)!; return `<Contents><Key>${esc(e.key!)}</Key><LastModified>${ob.modified.toISOString()}</LastModified><ETag>"${ob.etag}"</ETag><Type>Normal</Type><Size>${ob.data.length}</Size><StorageClass>Standard</StorageClass><Owner><ID>0022012</ID><DisplayName>0022012</DisplayName></Owner></Contents>`; }).join('') +
          page.filter((e) => e.prefix).map((e) => `<CommonPrefixes><Prefix>${esc(e.prefix!)}</Prefix></CommonPrefixes>`).join('') + '</ListBucketResult>';
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        return res.end(xml);
      }
      const uploadId = url.searchParams.get('uploadId');
      if (req.method === 'POST' && url.searchParams.has('uploads')) {
        const id = `upload-${++uploadSeq}-${createHash('md5').update(key).digest('hex').slice(0, 8)}`;
        uploads.set(id, { key, parts: new Map() });
        mp.initiated++;
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        return res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${esc(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      }
      if (uploadId !== null) {
        const up = uploads.get(uploadId);
        if (!up || up.key !== key) return xmlErr(res, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', head);
        if (req.method === 'PUT') {
          const n = Number(url.searchParams.get('partNumber'));
          if (!Number.isInteger(n) || n < 1 || n > 10000) return xmlErr(res, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
          if (req.headers['content-md5'] && req.headers['content-md5'] !== createHash('md5').update(body).digest('base64')) return xmlErr(res, 400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
          if (state.failPart === n) return xmlErr(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
          const etag = createHash('md5').update(body).digest('hex').toUpperCase();
          up.parts.set(n, { data: body, etag });
          mp.parts++;
          res.writeHead(200, { ETag: `"${etag}"` });
          return res.end();
        }
        if (req.method === 'DELETE') {
          uploads.delete(uploadId);
          mp.aborted++;
          res.writeHead(204);
          return res.end();
        }
        if (req.method === 'POST') {
          const listed = [...body.toString('utf8').matchAll(/<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>"?([^<"]*)"?<\/ETag>\s*<\/Part>/g)].map((m) => ({ n: Number(m[1]), etag: m[2]!.replace(/&quot;/g, '') }));
          if (listed.length === 0) return xmlErr(res, 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
          for (let i = 0; i < listed.length; i++) {
            const l = listed[i]!;
            const part = up.parts.get(l.n);
            if (i > 0 && l.n <= listed[i - 1]!.n) return xmlErr(res, 400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
            if (!part || part.etag !== l.etag.replace(/^"|"$/g, '')) return xmlErr(res, 400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.');
            if (i < listed.length - 1 && part.data.length < MIN_PART) return xmlErr(res, 400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.');
          }
          const data = Buffer.concat(listed.map((l) => up.parts.get(l.n)!.data));
          const etag = `${createHash('md5').update(listed.map((l) => l.etag).join('')).digest('hex').toUpperCase()}-${listed.length}`;
          objects.set(key, { data, modified: new Date(), etag });
          uploads.delete(uploadId);
          mp.completed++;
          res.writeHead(200, { 'Content-Type': 'application/xml', ETag: `"${etag}"` });
          return res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Location>http://${bucket}.fake-oss/${esc(key)}</Location><Bucket>${bucket}</Bucket><Key>${esc(key)}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`);
        }
        return xmlErr(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', head);
      }
      if (req.method === 'PUT') {
        const md5 = createHash('md5').update(body).digest('base64');
        if (req.headers['content-md5'] && req.headers['content-md5'] !== md5) return xmlErr(res, 400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
        const etag = createHash('md5').update(body).digest('hex').toUpperCase();
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
        if (start >= ob.data.length) return xmlErr(res, 416, 'InvalidRange', 'The requested range cannot be satisfied');
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
    get multipart() { return { ...mp, open: uploads.size }; },
    get failPart() { return state.failPart; },
    set failPart(n: number | undefined) { state.failPart = n; },
    async stop() { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); },
  };
}

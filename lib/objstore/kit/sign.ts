// Request signing for S3: AWS Signature Version 4 (and the legacy Version 2, for
// `signature_version2: true`). WebCrypto only (globalThis.crypto.subtle); no node: imports.

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export function toHex(buf: ArrayBuffer | Uint8Array): string {
  const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function toBase64(buf: ArrayBuffer | Uint8Array): string {
  const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function bytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? enc.encode(data) : data;
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  return toHex(await subtle.digest('SHA-256', bytes(data) as Uint8Array<ArrayBuffer>));
}

async function hmac(alg: 'SHA-256' | 'SHA-1', key: string | Uint8Array, data: string): Promise<Uint8Array> {
  const k = await subtle.importKey('raw', bytes(key) as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: alg }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, enc.encode(data)));
}

/**
 * RFC 3986 percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is encoded,
 * as UTF-8 bytes, upper-case hex. With keepSlash, '/' stays (object key paths in S3).
 */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const byte of enc.encode(s)) {
    const c = String.fromCharCode(byte);
    if ((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || c === '-' || c === '_' || c === '.' || c === '~' || (keepSlash && c === '/')) {
      out += c;
    } else {
      out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** Canonical query string: keys and values encoded, sorted by key then value. */
export function canonicalQuery(params: ReadonlyArray<readonly [string, string]>): string {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** 20130524T000000Z */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface SignV4Input {
  method: string;
  /** The canonical URI: the request path exactly as sent (already percent-encoded). */
  path: string;
  /** Query parameters, unencoded. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Headers to sign (any case); must include host and x-amz-date. */
  headers: Record<string, string>;
  /** Hex SHA-256 of the payload, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
  accessKey: string;
  secretKey: string;
  region: string;
  service: string;
}

export interface SignV4Result {
  authorization: string;
  signature: string;
  signedHeaders: string;
  canonicalRequest: string;
  stringToSign: string;
}

type HmacKey = Awaited<ReturnType<typeof subtle.importKey>>;
const signingKeys = new Map<string, HmacKey>();

/** The derived SigV4 signing key for a day/region/service, imported once as an HMAC CryptoKey. */
async function signingKey(secret: string, date: string, region: string, service: string): Promise<HmacKey> {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  const cached = signingKeys.get(id);
  if (cached) return cached;
  const kDate = await hmac('SHA-256', 'AWS4' + secret, date);
  const kRegion = await hmac('SHA-256', kDate, region);
  const kService = await hmac('SHA-256', kRegion, service);
  const kSigning = await hmac('SHA-256', kService, 'aws4_request');
  const key = await subtle.importKey('raw', kSigning as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  if (signingKeys.size > 32) signingKeys.clear();
  signingKeys.set(id, key);
  return key;
}

export async function signV4(input: SignV4Input): Promise<SignV4Result> {
  const hdrs = new Map<string, string>();
  for (const [k, v] of Object.entries(input.headers)) {
    hdrs.set(k.toLowerCase(), String(v).trim().replace(/\s+/g, ' '));
  }
  const date = hdrs.get('x-amz-date');
  if (!date || !/^\d{8}T\d{6}Z$/.test(date)) throw new Error('signV4: x-amz-date header (YYYYMMDDTHHMMSSZ) is required');
  if (!hdrs.has('host')) throw new Error('signV4: host header is required');
  const names = [...hdrs.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = names.map((n) => `${n}:${hdrs.get(n)}\n`).join('');
  const canonicalRequest = [
    input.method.toUpperCase(),
    input.path || '/',
    canonicalQuery(input.query),
    canonicalHeaders,
    signedHeaders,
    input.payloadHash,
  ].join('\n');
  const day = date.slice(0, 8);
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, await sha256Hex(canonicalRequest)].join('\n');
  const key = await signingKey(input.secretKey, day, input.region, input.service);
  const signature = toHex(new Uint8Array(await subtle.sign('HMAC', key, enc.encode(stringToSign))));
  const authorization = `AWS4-HMAC-SHA256 Credential=${input.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { authorization, signature, signedHeaders, canonicalRequest, stringToSign };
}

/** Sub-resources that take part in a Version 2 signature's canonical resource. */
const V2_SUBRESOURCES = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy',
  'requestPayment', 'response-cache-control', 'response-content-disposition', 'response-content-encoding',
  'response-content-language', 'response-content-type', 'response-expires', 'restore', 'tagging', 'torrent',
  'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
]);

export interface SignV2Input {
  method: string;
  /** '/bucket/key' (percent-encoded as sent), whatever the addressing style. */
  resource: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: Record<string, string>;
  accessKey: string;
  secretKey: string;
}

/** AWS Signature Version 2 (HMAC-SHA1 over the canonical string); returns the Authorization value. */
export async function signV2(input: SignV2Input): Promise<{ authorization: string; stringToSign: string }> {
  const h = new Map<string, string>();
  for (const [k, v] of Object.entries(input.headers)) h.set(k.toLowerCase(), String(v).trim());
  const amz = [...h.keys()].filter((k) => k.startsWith('x-amz-')).sort().map((k) => `${k}:${h.get(k)}\n`).join('');
  // With x-amz-date present, the Date line is empty.
  const date = h.has('x-amz-date') ? '' : (h.get('date') ?? '');
  const sub = input.query
    .filter(([k]) => V2_SUBRESOURCES.has(k))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join('&');
  const resource = input.resource + (sub ? `?${sub}` : '');
  const stringToSign = `${input.method.toUpperCase()}\n${h.get('content-md5') ?? ''}\n${h.get('content-type') ?? ''}\n${date}\n${amz}${resource}`;
  const sig = toBase64(await hmac('SHA-1', input.secretKey, stringToSign));
  return { authorization: `AWS ${input.accessKey}:${sig}`, stringToSign };
}

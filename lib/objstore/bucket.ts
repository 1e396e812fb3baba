// The Bucket interface: objstore's Bucket in Web-standard types. Providers stay plain; prefix,
// metrics, retries and caching wrap them.

export interface ObjectAttributes {
  size: number;
  lastModified: Date;
}

export interface IterOptions {
  /** List every object under dir, not just the next level (directories end with '/'). */
  recursive?: boolean;
}

export interface Bucket {
  /** Names directly under dir ('' = root); directories are returned with a trailing '/'. */
  iter(dir: string, opts?: IterOptions): AsyncIterable<string>;
  get(name: string): Promise<ReadableStream<Uint8Array>>;
  /** len < 0 (or undefined) reads to the end. Reading past the end returns what exists, like S3. */
  getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>>;
  /**
   * Optional: reads up to dst.length bytes of the object from off into dst (the caller's buffer,
   * e.g. one it reuses) and resolves to the bytes read (fewer at the object's end; past it, as
   * getRange). Call it through getRangeInto() below, which falls back to getRange for a provider
   * that cannot fill a caller's buffer. A wrapper defines it whatever its inner bucket offers.
   */
  getRangeInto?(name: string, off: number, dst: Uint8Array): Promise<number>;
  exists(name: string): Promise<boolean>;
  attributes(name: string): Promise<ObjectAttributes>;
  /**
   * A stream body is read once; a retry can send it again only when it came from reopenable()
   * (the retry wrapper re-opens it; providers see a plain stream).
   */
  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
  isObjNotFoundErr(err: unknown): boolean;
  close(): Promise<void>;
  /** Provider name, e.g. FILESYSTEM, S3. */
  readonly provider: string;
}

/** The error every provider throws for a missing object (isObjNotFoundErr recognises it). */
export class ObjectNotFoundError extends Error {
  readonly code = 'ObjectNotFound';
  constructor(public readonly objectName: string, cause?: unknown) {
    super(`object not found: ${objectName}`, cause === undefined ? undefined : { cause });
    this.name = 'ObjectNotFoundError';
  }
}

export function isObjectNotFound(err: unknown): boolean {
  return err instanceof ObjectNotFoundError || (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ObjectNotFound');
}

/** Bucket.exists over a provider's metadata request: true when it answers, false on ObjectNotFound. */
export async function existsBy(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    if (isObjectNotFound(err)) return false;
    throw err;
  }
}

/**
 * Bucket.getRangeInto when the bucket has it; otherwise getRange(name, off, dst.length) copied
 * into dst. The count of bytes read.
 */
export async function getRangeInto(b: Bucket, name: string, off: number, dst: Uint8Array): Promise<number> {
  if (b.getRangeInto) return b.getRangeInto(name, off, dst);
  return streamInto(await b.getRange(name, off, dst.length), dst);
}

/** Reads a stream into dst; past dst's end the stream is cancelled. The count read. */
export async function streamInto(stream: ReadableStream<Uint8Array>, dst: Uint8Array): Promise<number> {
  const reader = stream.getReader();
  let got = 0;
  let done = false;
  try {
    while (!done) {
      const r = await reader.read();
      if (r.done) { done = true; break; }
      const v = r.value;
      const n = Math.min(v.length, dst.length - got);
      dst.set(n === v.length ? v : v.subarray(0, n), got);
      got += n;
      if (n < v.length) break; // more than asked for: the rest is not read
    }
    return got;
  } finally {
    if (!done) reader.cancel().catch(() => {});
  }
}

/** Opens an upload body afresh, from its first byte (e.g. a local file). */
export type OpenBody = () => Promise<ReadableStream<Uint8Array>>;

// A property on the stream rather than a third body type, so every provider (and plugin built
// against the old contract) keeps taking it as a plain ReadableStream. Symbol.for: one key across
// module copies.
const REOPEN = Symbol.for('thanos-ts.objstore.reopen');

/**
 * The stream open() gives, marked as re-openable: when an upload of it fails transiently the retry
 * wrapper calls open() again and sends the body from the start, instead of giving up because the
 * first stream was consumed.
 */
export async function reopenable(open: OpenBody): Promise<ReadableStream<Uint8Array>> {
  return markReopenable(await open(), open);
}

/** Marks an already opened stream as re-openable with open (which must yield the same bytes). */
export function markReopenable(s: ReadableStream<Uint8Array>, open: OpenBody): ReadableStream<Uint8Array> {
  Object.defineProperty(s, REOPEN, { value: open, enumerable: false });
  return s;
}

/** How to open body again from the start, when it is a reopenable() stream. */
export function reopenOf(body: ReadableStream<Uint8Array> | Uint8Array): OpenBody | undefined {
  if (body instanceof Uint8Array) return undefined;
  const f = (body as unknown as Record<symbol, unknown>)[REOPEN];
  return typeof f === 'function' ? (f as OpenBody) : undefined;
}

/** Reads a whole stream into one Uint8Array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
  }
  if (parts.length === 1) return parts[0]!;
  if (parts.length > 1 && adjacent(parts)) return new Uint8Array(parts[0]!.buffer, parts[0]!.byteOffset, total);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/**
 * The parts are consecutive views of one buffer (an isolated plugin's body read into one buffer:
 * lib/isolate/wire.ts landing), so together they are one view and need no copy.
 */
function adjacent(parts: Uint8Array[]): boolean {
  const first = parts[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.buffer !== first.buffer || p.byteOffset !== end) return false;
    end += p.length;
  }
  return true;
}

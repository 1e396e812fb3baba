// A Bucket across the isolation channel (lib/isolate/wire.ts), both ways: the host reads an
// isolated object-store plugin's bucket, and an isolated component reads the host's (ctx.bucket).
// RemoteBucket is the calling side, serveBucket the side that holds the real Bucket.
import type { Bucket, IterOptions, ObjectAttributes } from '../objstore/bucket.ts';
import { isObjectNotFound } from '../objstore/bucket.ts';
import { MAX_CHUNK, type Incoming, type Outgoing, type Peer } from './wire.ts';

/** The Bucket methods that cross the channel (close is the owner's business). */
const METHODS = new Set(['iter', 'get', 'getRange', 'exists', 'attributes', 'upload', 'delete']);

/** An answer's body as a stream: announced streams as they are, small inline ones wrapped. */
export function bodyIn(i: Incoming): ReadableStream<Uint8Array> {
  if (i.stream) return i.stream as ReadableStream<Uint8Array>;
  const b = i.bin ?? new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    start(c) {
      if (b.length) c.enqueue(b);
      c.close();
    },
  });
}

/** Bodies up to this size that arrive in one piece ride inline in the answer's frame. */
const INLINE_BODY = 256 * 1024;

/**
 * A body for the other side: a small one (one chunk, then the end) inline in the answer, else a
 * stream — the source itself, after the chunks read to decide (so a byte stream's source is read
 * into the channel's pooled buffers from there on: wire.ts pumpByob). A body known to be larger
 * than INLINE_BODY (a ranged read's length) is a stream without a look: its first reads too go
 * into the pooled buffers rather than the source's own fresh ones.
 */
export async function bodyOut(s: ReadableStream<Uint8Array>, length?: number): Promise<Outgoing> {
  if (length !== undefined && length > INLINE_BODY) return { bytes: s };
  const r = s.getReader();
  const first = await r.read();
  if (first.done) return { bin: new Uint8Array(0) };
  const pre: Uint8Array[] = [first.value];
  if (first.value.length <= INLINE_BODY) {
    const second = await r.read();
    if (second.done) return { bin: first.value };
    pre.push(second.value);
  }
  r.releaseLock();
  return { bytes: s, pre };
}

/** The calling side: every call crosses the channel as `<prefix><method>`. */
export class RemoteBucket implements Bucket {
  constructor(
    private readonly peer: Peer,
    readonly provider: string,
    private readonly prefix: string,
    private readonly onClose: () => Promise<void>,
  ) {}
  private call(m: string, a: unknown[], bin?: Uint8Array, bytes?: ReadableStream<Uint8Array>, expectBytes?: number) {
    return this.peer.call(this.prefix + m, a, { bin, bytes }, expectBytes);
  }
  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    const r = await this.call('iter', [dir, opts ?? {}]);
    const reader = (r.stream as ReadableStream<string>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  async get(name: string) { return bodyIn(await this.call('get', [name])); }
  async getRange(name: string, off: number, len?: number) {
    // The range's length: a landing peer reads the body into one buffer of it (lib/isolate/wire.ts).
    return bodyIn(await this.call('getRange', [name, off, len ?? null], undefined, undefined, len !== undefined && len > 0 ? len : undefined));
  }
  async exists(name: string) { return (await this.call('exists', [name])).value as boolean; }
  async attributes(name: string): Promise<ObjectAttributes> {
    const v = (await this.call('attributes', [name])).value as { size: number; lastModified: number };
    return { size: v.size, lastModified: new Date(v.lastModified) };
  }
  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array) {
    // A body larger than one frame may carry goes as a stream of it.
    if (body instanceof Uint8Array && body.length <= MAX_CHUNK) await this.call('upload', [name], body);
    else await this.call('upload', [name], undefined, body instanceof Uint8Array ? new Blob([body]).stream() : body);
  }
  async delete(name: string) { await this.call('delete', [name]); }
  isObjNotFoundErr(err: unknown) { return isObjectNotFound(err); }
  close() { return this.onClose(); }
}

/**
 * The serving side: answers a RemoteBucket's call `m` (prefix removed) from `b`; undefined when
 * `m` is not a Bucket method.
 */
export async function serveBucket(b: Bucket, m: string, a: unknown[], inc: Incoming): Promise<Outgoing | undefined> {
  if (!METHODS.has(m)) return undefined;
  switch (m) {
    case 'iter': return { items: b.iter(String(a[0]), a[1] as IterOptions) };
    case 'get': return await bodyOut(await b.get(String(a[0])));
    case 'getRange': {
      const len = a[2] === null || a[2] === undefined ? undefined : Number(a[2]);
      return await bodyOut(await b.getRange(String(a[0]), Number(a[1]), len), len);
    }
    case 'exists': return { value: await b.exists(String(a[0])) };
    case 'attributes': {
      const at = await b.attributes(String(a[0]));
      return { value: { size: at.size, lastModified: at.lastModified.getTime() } };
    }
    case 'upload':
      await b.upload(String(a[0]), inc.bin ?? (inc.stream as ReadableStream<Uint8Array>) ?? new Uint8Array(0));
      return {};
    default:
      await b.delete(String(a[0]));
      return {};
  }
}

// Byte-range sources: the one seam every reader uses, so the same code reads a local file, an
// in-memory block, or ranged GETs from a Bucket.
import type { Bucket } from '../objstore/bucket.ts';
import { readAll } from '../objstore/bucket.ts';
import type { FsCapability } from '../sdk/mod.ts';

export interface ByteSource {
  size(): Promise<number>;
  /** Exactly len bytes at off; throws RangeError when the range is not inside the source. */
  read(off: number, len: number): Promise<Uint8Array>;
  /** Human name used in errors (file path or object name). */
  readonly name?: string;
}

export function bytesSource(b: Uint8Array, name = '<memory>'): ByteSource {
  return {
    name,
    size: async () => b.length,
    read: async (off, len) => {
      if (off < 0 || len < 0 || off + len > b.length) throw new RangeError(`${name}: read [${off}, ${off + len}) outside size ${b.length}`);
      return b.subarray(off, off + len);
    },
  };
}

export function bucketSource(bucket: Bucket, object: string, knownSize?: number): ByteSource {
  let size: Promise<number> | undefined = knownSize === undefined ? undefined : Promise.resolve(knownSize);
  const getSize = () => (size ??= bucket.attributes(object).then((a) => a.size));
  return {
    name: object,
    size: getSize,
    read: async (off, len) => {
      const total = await getSize();
      if (off < 0 || len < 0 || off + len > total) throw new RangeError(`${object}: read [${off}, ${off + len}) outside size ${total}`);
      if (len === 0) return new Uint8Array(0);
      const b = await readAll(await bucket.getRange(object, off, len));
      if (b.length < len) throw new RangeError(`${object}: short ranged read at ${off}: got ${b.length} of ${len} bytes`);
      return b.length === len ? b : b.subarray(0, len);
    },
  };
}

export function fsSource(fs: FsCapability, path: string, knownSize?: number): ByteSource {
  let size: Promise<number> | undefined = knownSize === undefined ? undefined : Promise.resolve(knownSize);
  const getSize = () => (size ??= fs.stat(path).then((s) => s.size));
  return {
    name: path,
    size: getSize,
    read: async (off, len) => {
      const total = await getSize();
      if (off < 0 || len < 0 || off + len > total) throw new RangeError(`${path}: read [${off}, ${off + len}) outside size ${total}`);
      if (len === 0) return new Uint8Array(0);
      const b = await fs.readRange(path, off, len);
      if (b.length < len) throw new RangeError(`${path}: short read at ${off}: got ${b.length} of ${len} bytes`);
      return b;
    },
  };
}

/**
 * Wraps a source with a read-ahead window: a read outside the window fetches max(len, window)
 * bytes starting at its offset. Sequential scans (dump, compaction) then cost one request per
 * window instead of one per chunk. Reads larger than the window pass through.
 */
export function windowedSource(src: ByteSource, window = 4 << 20): ByteSource {
  let wOff = -1;
  let wBuf: Uint8Array = new Uint8Array(0);
  let total: number | undefined;
  return {
    name: src.name,
    size: async () => (total ??= await src.size()),
    read: async (off, len) => {
      if (wOff >= 0 && off >= wOff && off + len <= wOff + wBuf.length) return wBuf.subarray(off - wOff, off - wOff + len);
      total ??= await src.size();
      if (len >= window) return src.read(off, len);
      const n = Math.min(window, total - off);
      if (n < len) return src.read(off, len); // let the source raise its range error
      wBuf = await src.read(off, n);
      wOff = off;
      return wBuf.subarray(0, len);
    },
  };
}

/** Reads the whole source. */
export async function readAllSource(src: ByteSource): Promise<Uint8Array> {
  return src.read(0, await src.size());
}

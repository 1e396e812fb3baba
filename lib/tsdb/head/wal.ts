// A simple write-ahead log for the in-memory head (our own format, not Prometheus's; see WAL.md).
//
// <dir>/<8-digit segment number>, each a sequence of records:
//   length   u32 BE   payload length
//   crc      u32 BE   CRC32C (Castagnoli) of the payload
//   payload  type u8 (1 = samples) + body (decoded samples come back as Float64Arrays, NaN bits kept)
// Samples body: uvarint #series, then per series: uvarint #labels, (uvarint len + UTF-8) name and
// value per label, uvarint #samples, then per sample t and v as f64 big-endian.
//
// Writers append whole records with FsCapability.appendFile (append + datasync) before the write
// is acknowledged. Replay reads the segments in order: an incomplete record at the very end of the
// last segment (a torn write from a crash) is cut off with a warning; a CRC mismatch or a malformed
// record anywhere else is a WalCorruptError naming the segment and byte offset.
import type { FsCapability, Logger } from '../../sdk/mod.ts';
import type { Label } from '../../labels/mod.ts';
import { crc32c } from '../encoding.ts';

export const WAL_RECORD_SAMPLES = 1;
const HEADER = 8;
/** A new segment is started once the current one passes this size. */
export const DEFAULT_SEGMENT_BYTES = 32 << 20;

/**
 * One series' samples in a record. Values are kept in typed arrays end to end: a JS number[] of
 * doubles canonicalises NaN payloads and would turn Prometheus's stale marker into a plain NaN.
 */
export interface WalSeries {
  labels: Label[];
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

export class WalCorruptError extends Error {
  constructor(public readonly segment: string, public readonly offset: number, detail: string) {
    super(`WAL corruption in segment ${segment} at offset ${offset}: ${detail}`);
    this.name = 'WalCorruptError';
  }
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

class Buf {
  b = new Uint8Array(1024);
  n = 0;
  private need(k: number): void {
    if (this.n + k <= this.b.length) return;
    let c = this.b.length * 2;
    while (c < this.n + k) c *= 2;
    const nb = new Uint8Array(c);
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  byte(x: number): void {
    this.need(1);
    this.b[this.n++] = x;
  }
  uvarint(x: number): void {
    this.need(10);
    while (x >= 0x80) {
      this.b[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.b[this.n++] = x;
  }
  str(s: string): void {
    // ASCII fast path (label names and most values): no intermediate allocation
    const len = s.length;
    let ascii = len < 0x80;
    for (let i = 0; ascii && i < len; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
    if (ascii) {
      this.need(1 + len);
      this.b[this.n++] = len;
      for (let i = 0; i < len; i++) this.b[this.n++] = s.charCodeAt(i);
      return;
    }
    const e = te.encode(s);
    this.uvarint(e.length);
    this.need(e.length);
    this.b.set(e, this.n);
    this.n += e.length;
  }
  private dv?: DataView;
  f64(x: number): void {
    this.need(8);
    if (!this.dv || this.dv.buffer !== this.b.buffer) this.dv = new DataView(this.b.buffer);
    this.dv.setFloat64(this.n, x, false);
    this.n += 8;
  }
}

/** Encodes one samples record, header included. */
export function encodeSamplesRecord(series: readonly WalSeries[]): Uint8Array {
  const w = new Buf();
  for (let i = 0; i < HEADER; i++) w.byte(0);
  w.byte(WAL_RECORD_SAMPLES);
  w.uvarint(series.length);
  for (const s of series) {
    w.uvarint(s.labels.length);
    for (const l of s.labels) {
      w.str(l.name);
      w.str(l.value);
    }
    w.uvarint(s.t.length);
    for (let i = 0; i < s.t.length; i++) {
      w.f64(s.t[i]!);
      w.f64(s.v[i]!);
    }
  }
  const out = w.b.slice(0, w.n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, w.n - HEADER, false);
  dv.setUint32(4, crc32c(out, HEADER, w.n), false);
  return out;
}

class Rd {
  p: number;
  constructor(private b: Uint8Array, start: number, private end: number) {
    this.p = start;
  }
  private need(k: number): void {
    if (this.p + k > this.end) throw new Error('record body truncated');
  }
  byte(): number {
    this.need(1);
    return this.b[this.p++]!;
  }
  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const c = this.byte();
      x += (c & 0x7f) * mul;
      if (c < 0x80) return x;
      mul *= 0x80;
    }
    throw new Error('varint too long');
  }
  str(): string {
    const n = this.uvarint();
    this.need(n);
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) if (this.b[this.p + i]! >= 0x80) { ascii = false; break; }
      if (ascii) {
        const s = String.fromCharCode.apply(null, this.b.subarray(this.p, this.p + n) as unknown as number[]);
        this.p += n;
        return s;
      }
    }
    const s = td.decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
  private dv?: DataView;
  f64(): number {
    this.need(8);
    this.dv ??= new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength);
    const x = this.dv.getFloat64(this.p, false);
    this.p += 8;
    return x;
  }
}

function decodePayload(b: Uint8Array, start: number, end: number): WalSeries[] {
  const r = new Rd(b, start, end);
  const type = r.byte();
  if (type !== WAL_RECORD_SAMPLES) throw new Error(`unknown record type ${type}`);
  const ns = r.uvarint();
  const out: WalSeries[] = [];
  // One buffer per record (each sample takes 16 bytes, so this bounds the count); series get views.
  const cap = Math.floor((end - start) / 16);
  const tAll = new Float64Array(cap);
  const vAll = new Float64Array(cap);
  let off = 0;
  for (let i = 0; i < ns; i++) {
    const nl = r.uvarint();
    const labels: Label[] = [];
    for (let k = 0; k < nl; k++) labels.push({ name: r.str(), value: r.str() });
    const n = r.uvarint();
    if (off + n > cap) throw new Error(`sample count ${n} exceeds the record size`);
    for (let k = 0; k < n; k++) {
      tAll[off + k] = r.f64();
      vAll[off + k] = r.f64();
    }
    out.push({ labels, t: tAll.subarray(off, off + n), v: vAll.subarray(off, off + n) });
    off += n;
  }
  if (r.p !== end) throw new Error(`${end - r.p} trailing bytes in record`);
  return out;
}

/**
 * Parses one segment's bytes. Returns the records and how many bytes are valid; a torn tail
 * (incomplete header or payload at the end) is reported as `torn`, anything else throws.
 */
export function parseSegment(name: string, b: Uint8Array): { records: WalSeries[][]; validBytes: number; torn: boolean } {
  const records: WalSeries[][] = [];
  let p = 0;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (p < b.length) {
    if (b.length - p < HEADER) return { records, validBytes: p, torn: true };
    const len = dv.getUint32(p, false);
    const crc = dv.getUint32(p + 4, false);
    if (len === 0) throw new WalCorruptError(name, p, 'empty record');
    if (p + HEADER + len > b.length) return { records, validBytes: p, torn: true };
    const got = crc32c(b, p + HEADER, p + HEADER + len);
    if (got !== crc) throw new WalCorruptError(name, p, `checksum mismatch (stored ${crc.toString(16)}, computed ${got.toString(16)})`);
    try {
      records.push(decodePayload(b, p + HEADER, p + HEADER + len));
    } catch (e) {
      throw new WalCorruptError(name, p, (e as Error).message);
    }
    p += HEADER + len;
  }
  return { records, validBytes: p, torn: false };
}

export interface WalOptions {
  fs: FsCapability;
  dir: string;
  log: Logger;
  segmentBytes?: number;
}

const SEG_RE = /^\d{8}$/;
const segName = (n: number) => String(n).padStart(8, '0');

export class Wal {
  private seg = 0;
  private segSize = 0;
  private readonly segmentBytes: number;

  constructor(private readonly o: WalOptions) {
    if (!o.fs.appendFile) throw new Error('WAL: the file system capability cannot append (FsCapability.appendFile missing)');
    this.segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  }

  /** Segment numbers on disk, ascending. */
  async segments(): Promise<number[]> {
    const { fs, dir } = this.o;
    if (!(await fs.exists(dir))) return [];
    return (await fs.readDir(dir)).filter((f) => f.isFile && SEG_RE.test(f.name)).map((f) => Number(f.name)).sort((a, b) => a - b);
  }

  /**
   * Reads every record (oldest first) and positions the writer after the last one. A torn tail of
   * the last segment is truncated with a warning; corruption elsewhere throws WalCorruptError.
   */
  async replay(onRecord: (series: WalSeries[]) => void): Promise<{ records: number; segments: number; truncatedBytes: number }> {
    const { fs, dir, log } = this.o;
    await fs.mkdir(dir, { recursive: true });
    const segs = await this.segments();
    let records = 0;
    let truncatedBytes = 0;
    for (let i = 0; i < segs.length; i++) {
      const name = segName(segs[i]!);
      const path = fs.resolve(dir, name);
      const bytes = await fs.readFile(path);
      const r = parseSegment(`${dir}/${name}`, bytes);
      if (r.torn) {
        if (i !== segs.length - 1) throw new WalCorruptError(`${dir}/${name}`, r.validBytes, 'incomplete record in the middle of the log (not the last segment)');
        truncatedBytes = bytes.length - r.validBytes;
        log.warn('WAL: torn record at the end of the last segment, truncating', { segment: path, offset: r.validBytes, dropped_bytes: truncatedBytes });
        const tmp = `${path}.tmp`;
        await fs.writeFile(tmp, bytes.subarray(0, r.validBytes));
        await fs.rename(tmp, path);
      }
      for (const rec of r.records) {
        onRecord(rec);
        records++;
      }
      if (i === segs.length - 1) {
        this.seg = segs[i]!;
        this.segSize = r.validBytes;
      }
    }
    if (segs.length === 0) {
      this.seg = 1;
      this.segSize = 0;
    }
    return { records, segments: segs.length, truncatedBytes };
  }

  /** Appends one record durably (returns after the data is synced). */
  async append(series: readonly WalSeries[]): Promise<void> {
    if (series.length === 0) return;
    if (this.seg === 0) this.seg = 1;
    if (this.segSize > 0 && this.segSize >= this.segmentBytes) await this.rotate();
    const rec = encodeSamplesRecord(series);
    await this.o.fs.appendFile!(this.o.fs.resolve(this.o.dir, segName(this.seg)), rec);
    this.segSize += rec.length;
  }

  /** Starts a new segment; returns its number (records appended later go there). */
  async rotate(): Promise<number> {
    await this.o.fs.mkdir(this.o.dir, { recursive: true });
    this.seg = Math.max(this.seg, 0) + 1;
    this.segSize = 0;
    return this.seg;
  }

  /** Deletes the segments numbered below `seg`. */
  async truncateBefore(seg: number): Promise<void> {
    for (const s of await this.segments()) if (s < seg) await this.o.fs.remove(this.o.fs.resolve(this.o.dir, segName(s)));
  }

  get currentSegment(): number {
    return this.seg;
  }
}

// Just enough of a Prometheus block to get at its chunks: the index's symbols and series entries
// (labels + chunk refs) and the chunk segment records (reference §3.4, §3.5). Test-only.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface RawChunk {
  mint: number;
  maxt: number;
  encoding: number;
  data: Uint8Array;
}
export interface RawSeries {
  labels: string; // `{a="b", c="d"}` as promtool dump prints it
  chunks: RawChunk[];
}

class Reader {
  constructor(public b: Uint8Array, public p = 0) {}
  u8(): number {
    if (this.p >= this.b.length) throw new Error('read past end');
    return this.b[this.p++];
  }
  uvarint(): number {
    let x = 0;
    let s = 1;
    for (;;) {
      const c = this.u8();
      x += (c & 0x7f) * s;
      if (c < 0x80) return x;
      s *= 128;
    }
  }
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  be32(): number {
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.p, 4).getUint32(0);
    this.p += 4;
    return v;
  }
  be64(): number {
    const dv = new DataView(this.b.buffer, this.b.byteOffset + this.p, 8);
    this.p += 8;
    return dv.getUint32(0) * 2 ** 32 + dv.getUint32(4);
  }
}

/** Chunk records of one segment file, by byte offset. */
export function readSegment(buf: Uint8Array): Map<number, { encoding: number; data: Uint8Array }> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (dv.getUint32(0) !== 0x85bd40dd) throw new Error('bad chunk segment magic');
  const out = new Map<number, { encoding: number; data: Uint8Array }>();
  const r = new Reader(buf, 8);
  while (r.p < buf.length) {
    const off = r.p;
    const len = r.uvarint();
    const encoding = r.u8();
    const data = buf.subarray(r.p, r.p + len);
    r.p += len + 4;
    out.set(off, { encoding, data });
  }
  return out;
}

function escape(v: string): string {
  return JSON.stringify(v);
}

export function readBlock(dir: string): RawSeries[] {
  const idx = new Uint8Array(readFileSync(join(dir, 'index')));
  const segs = readdirSync(join(dir, 'chunks'))
    .sort()
    .map((f) => readSegment(new Uint8Array(readFileSync(join(dir, 'chunks', f)))));
  const toc = new Reader(idx, idx.length - 52);
  const symOff = toc.be64();
  const seriesOff = toc.be64();
  const rest = [toc.be64(), toc.be64(), toc.be64(), toc.be64()].filter((x) => x > seriesOff);
  const seriesEnd = Math.min(...rest);
  const sr = new Reader(idx, symOff);
  sr.be32(); // len
  const nsym = sr.be32();
  const syms: string[] = [];
  const dec = new TextDecoder();
  for (let i = 0; i < nsym; i++) {
    const l = sr.uvarint();
    syms.push(dec.decode(idx.subarray(sr.p, sr.p + l)));
    sr.p += l;
  }
  const series: RawSeries[] = [];
  let p = seriesOff;
  while (p < seriesEnd) {
    p = Math.ceil(p / 16) * 16;
    if (p >= seriesEnd) break;
    const r = new Reader(idx, p);
    const len = r.uvarint();
    if (len === 0) break;
    const end = r.p + len;
    const nl = r.uvarint();
    const parts: string[] = [];
    for (let i = 0; i < nl; i++) {
      const n = syms[r.uvarint()];
      const v = syms[r.uvarint()];
      parts.push(`${n}=${escape(v)}`);
    }
    const nc = r.uvarint();
    const chunks: RawChunk[] = [];
    let prevMaxt = 0;
    let ref = 0;
    for (let i = 0; i < nc; i++) {
      let mint: number;
      if (i === 0) {
        mint = r.varint();
        const maxt = mint + r.uvarint();
        ref = r.uvarint();
        prevMaxt = maxt;
      } else {
        mint = prevMaxt + r.uvarint();
        prevMaxt = mint + r.uvarint();
        ref += r.varint();
      }
      const seg = Math.floor(ref / 2 ** 32);
      const off = ref % 2 ** 32;
      const rec = segs[seg]?.get(off);
      if (!rec) throw new Error(`chunk ref ${ref} not found`);
      chunks.push({ mint, maxt: prevMaxt, encoding: rec.encoding, data: rec.data });
    }
    series.push({ labels: `{${parts.join(', ')}}`, chunks });
    p = end + 4;
  }
  return series;
}

/** Parses `promtool tsdb dump` output into labels -> [t, v][] (values as printed by Go %g). */
export function parseDump(text: string): Map<string, { t: number[]; v: number[] }> {
  const out = new Map<string, { t: number[]; v: number[] }>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const close = line.lastIndexOf('} ');
    const labels = line.slice(0, close + 1);
    const [vs, ts] = line.slice(close + 2).split(' ');
    const v = vs === '+Inf' ? Infinity : vs === '-Inf' ? -Infinity : Number(vs);
    let e = out.get(labels);
    if (!e) out.set(labels, (e = { t: [], v: [] }));
    e.t.push(Number(ts));
    e.v.push(v);
  }
  return out;
}

// Tombstones file: magic 0x0130BA30 <4B>, format 1 <1B>, {series ref <uvarint64>, mint <varint64>,
// maxt <varint64>}*, CRC32-C <4B> over the entries (not the format byte). Intervals are inclusive.
import { Decbuf, Encbuf, crc32c, readBE32, DecodeError } from './encoding.ts';
import { corrupt, hex } from './index.ts';

export const TOMBSTONES_MAGIC = 0x0130ba30;
export interface Interval { mint: number; maxt: number }
export type Tombstones = Map<number, Interval[]>;

export function parseTombstones(b: Uint8Array, block = ''): Tombstones {
  const file = 'tombstones';
  if (b.length < 5 + 4) corrupt(block, file, 'header', `file is ${b.length} bytes`);
  const magic = readBE32(b, 0);
  if (magic !== TOMBSTONES_MAGIC) corrupt(block, file, 'header', `invalid magic number ${hex(magic)}, want ${hex(TOMBSTONES_MAGIC)}`);
  if (b[4] !== 1) corrupt(block, file, 'header', `invalid tombstone format ${b[4]}`);
  const want = readBE32(b, b.length - 4);
  const got = crc32c(b, 5, b.length - 4);
  if (want !== got) corrupt(block, file, 'entries', `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
  const out: Tombstones = new Map();
  const d = new Decbuf(b, 5, b.length - 4);
  try {
    while (d.remaining > 0) {
      const ref = d.uvarint();
      const mint = d.varint();
      const maxt = d.varint();
      addInterval(out, ref, { mint, maxt });
    }
  } catch (e) {
    if (e instanceof DecodeError) corrupt(block, file, 'entries', e.message, e);
    throw e;
  }
  return out;
}

/** Adds an interval, merging overlapping/adjacent ones like Prometheus's Intervals.Add. */
export function addInterval(ts: Tombstones, ref: number, iv: Interval): void {
  const list = ts.get(ref) ?? [];
  list.push({ ...iv });
  list.sort((a, b) => a.mint - b.mint);
  const merged: Interval[] = [];
  for (const x of list) {
    const last = merged[merged.length - 1];
    if (last && x.mint <= last.maxt + 1) last.maxt = Math.max(last.maxt, x.maxt);
    else merged.push({ ...x });
  }
  ts.set(ref, merged);
}

export function encodeTombstones(ts: Tombstones): Uint8Array {
  const e = new Encbuf(64);
  e.be32(TOMBSTONES_MAGIC);
  e.byte(1);
  for (const ref of [...ts.keys()].sort((a, b) => a - b)) {
    for (const iv of ts.get(ref)!) {
      e.uvarint(ref);
      e.varint(iv.mint);
      e.varint(iv.maxt);
    }
  }
  e.be32(crc32c(e.b, 5, e.len));
  return e.take();
}

export function isDeleted(ivs: readonly Interval[] | undefined, t: number): boolean {
  if (!ivs) return false;
  for (const iv of ivs) if (t >= iv.mint && t <= iv.maxt) return true;
  return false;
}

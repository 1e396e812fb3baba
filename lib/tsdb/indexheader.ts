// Thanos binary index-header (pkg/block/indexheader): a small local file per block holding exact
// copies of the index's symbol table and postings offset table (+ the index TOC), built with two
// ranged reads of the index and reused on restart. Only every Nth postings offset is kept in
// memory; the rest is read from the header file on demand.
//
//   magic 0xBAAAD792 <4B> | version 1 <1B> | index version <1B> | index postings-table offset <8B>
//   index[toc.symbols, toc.series)          (symbol table + padding)
//   index[toc.postingsTable, end of index)  (postings offset table + index TOC)
//   header TOC: symbols offset <8B> | postings offset table offset <8B> | CRC32-C <4B>
import type { Core } from '../core/types.ts';
import type { FsCapability } from '../sdk/mod.ts';
import { compareStrings } from '../labels/mod.ts';
import { bytesSource, fsSource, type ByteSource } from './bytesource.ts';
import { Decbuf, Encbuf, crc32c, readBE32, readBE64, DecodeError } from './encoding.ts';
import {
  IndexReader, MemPostingsOffsets, corrupt, hex, parseTOC, checkedSection, parseSymbols, parsePostingsTable,
  INDEX_MAGIC, INDEX_V2, TOC_LEN, HEADER_LEN,
  type PostingsOffsets, type PostingsRange, type TOC,
} from './index.ts';

export const INDEX_HEADER_MAGIC = 0xbaaad792;
export const INDEX_HEADER_V1 = 1;
export const INDEX_HEADER_FILENAME = 'index-header';
const HDR_LEN = 4 + 1 + 1 + 8;
const HDR_TOC_LEN = 8 + 8 + 4;
export const DEFAULT_POSTINGS_SAMPLING = 32;
/** `sampling` value that keeps the whole postings offset table in memory (no header reads per lookup; the store gateway's choice). */
export const ALL_POSTINGS_OFFSETS = 0;

/** Builds index-header bytes from an index through three ranged reads (header+TOC, symbols, table). */
export async function buildIndexHeader(index: ByteSource, block = ''): Promise<Uint8Array> {
  const file = 'index';
  const size = await index.size();
  if (size < HEADER_LEN + TOC_LEN) corrupt(block, file, 'header', `file is ${size} bytes, too small for an index`);
  const head = await index.read(0, HEADER_LEN);
  const magic = readBE32(head, 0);
  if (magic !== INDEX_MAGIC) corrupt(block, file, 'header', `invalid magic number ${hex(magic)}, want ${hex(INDEX_MAGIC)}`);
  if (head[4] !== INDEX_V2) corrupt(block, file, 'header', `unsupported index format version ${head[4]}`);
  const toc = parseTOC(await index.read(size - TOC_LEN, TOC_LEN), block, file);
  if (!(toc.symbols < toc.series && toc.series <= size && toc.postingsTable < size - TOC_LEN)) corrupt(block, file, 'TOC', 'section offsets out of order or beyond the file');
  const symbols = await index.read(toc.symbols, toc.series - toc.symbols);
  checkedSection(symbols, block, file, 'symbol table');
  const table = await index.read(toc.postingsTable, size - toc.postingsTable);
  checkedSection(table, block, file, 'postings offset table');
  const e = new Encbuf(HDR_LEN + symbols.length + table.length + HDR_TOC_LEN);
  e.be32(INDEX_HEADER_MAGIC);
  e.byte(INDEX_HEADER_V1);
  e.byte(head[4]!);
  e.be64(toc.postingsTable);
  const symOff = e.len;
  e.bytes(symbols);
  const tabOff = e.len;
  e.bytes(table);
  const tocStart = e.len;
  e.be64(symOff);
  e.be64(tabOff);
  e.be32(crc32c(e.b, tocStart, e.len));
  return e.take();
}

interface NameOffsets {
  /** Sampled entries: value and the byte position of its entry in the header. Always includes first and last. */
  samples: { value: string; pos: number }[];
  /** Position just after this name's last entry in the header. */
  endPos: number;
  /** End of this name's last postings list in the index (start of the next name's first list). */
  listEnd: number;
}

/** Postings offsets backed by the index-header file with 1/sampling of the entries in memory. */
class SampledPostingsOffsets implements PostingsOffsets {
  private names: string[];
  constructor(private hdr: ByteSource, private m: Map<string, NameOffsets>, private block: string) {
    this.names = [...m.keys()].filter((n) => n !== '').sort(compareStrings);
  }
  labelNames(): string[] {
    return this.names;
  }
  /** Decodes entries of name from header position `from` up to the name's end. */
  private async scan(name: string, from: number, stop?: (v: string) => boolean): Promise<{ value: string; off: number }[]> {
    const e = this.m.get(name)!;
    const buf = await this.hdr.read(from, e.endPos - from);
    const d = new Decbuf(buf);
    const out: { value: string; off: number }[] = [];
    try {
      while (d.remaining > 0) {
        d.uvarint();
        d.uvarintBytes();
        const value = d.uvarintStr();
        const off = d.uvarint();
        out.push({ value, off });
        if (stop && stop(value)) break;
      }
    } catch (err) {
      if (err instanceof DecodeError) corrupt(this.block, INDEX_HEADER_FILENAME, 'postings offset table', err.message, err);
      throw err;
    }
    return out;
  }
  private toRanges(name: string, entries: { value: string; off: number }[], keep: (v: string) => boolean): PostingsRange[] {
    const e = this.m.get(name)!;
    const out: PostingsRange[] = [];
    for (let i = 0; i < entries.length; i++) {
      if (!keep(entries[i]!.value)) continue;
      out.push({ value: entries[i]!.value, start: entries[i]!.off, end: i + 1 < entries.length ? entries[i + 1]!.off : e.listEnd });
    }
    return out;
  }
  async labelValues(name: string): Promise<string[]> {
    const e = this.m.get(name);
    if (!e) return [];
    return (await this.scan(name, e.samples[0]!.pos)).map((x) => x.value);
  }
  async ranges(name: string, pred: (v: string) => boolean): Promise<PostingsRange[]> {
    const e = this.m.get(name);
    if (!e) return [];
    return this.toRanges(name, await this.scan(name, e.samples[0]!.pos), pred);
  }
  async range(name: string, value: string): Promise<PostingsRange | undefined> {
    const e = this.m.get(name);
    if (!e) return undefined;
    // Last sample <= value, then scan forward (one extra entry gives the list's end).
    let lo = 0, hi = e.samples.length - 1, at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareStrings(e.samples[mid]!.value, value) <= 0) { at = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (at < 0) return undefined;
    let found = false;
    const entries = await this.scan(name, e.samples[at]!.pos, (v) => {
      if (found) return true;
      if (v === value) { found = true; return false; }
      return compareStrings(v, value) > 0;
    });
    const i = entries.findIndex((x) => x.value === value);
    if (i < 0) return undefined;
    return { value, start: entries[i]!.off, end: i + 1 < entries.length ? entries[i + 1]!.off : e.listEnd };
  }
}

export interface IndexHeaderInfo {
  indexVersion: number;
  toc: TOC;
  symbols: string[];
  offsets: PostingsOffsets;
}

/**
 * Parses an index-header (from a local file or memory); keeps 1/sampling postings offsets in memory
 * (ALL_POSTINGS_OFFSETS: the whole table, each postings list ending where the next begins or at the
 * end of the postings section).
 */
export async function openIndexHeader(hdr: ByteSource, opts: { block?: string; sampling?: number; dictionary?: readonly string[] } = {}): Promise<IndexHeaderInfo> {
  const block = opts.block ?? '';
  const file = INDEX_HEADER_FILENAME;
  const sampling = opts.sampling ?? DEFAULT_POSTINGS_SAMPLING;
  const size = await hdr.size();
  if (size < HDR_LEN + HDR_TOC_LEN + TOC_LEN) corrupt(block, file, 'header', `file is ${size} bytes`);
  const h = await hdr.read(0, HDR_LEN);
  const magic = readBE32(h, 0);
  if (magic !== INDEX_HEADER_MAGIC) corrupt(block, file, 'header', `invalid magic number ${hex(magic)}, want ${hex(INDEX_HEADER_MAGIC)}`);
  if (h[4] !== INDEX_HEADER_V1) corrupt(block, file, 'header', `unsupported index-header version ${h[4]}`);
  const indexVersion = h[5]!;
  if (indexVersion !== INDEX_V2) corrupt(block, file, 'header', `unsupported index version ${indexVersion}`);
  const postingsTablePos = readBE64(h, 6);
  const t = await hdr.read(size - HDR_TOC_LEN, HDR_TOC_LEN);
  const want = readBE32(t, 16);
  const got = crc32c(t, 0, 16);
  if (want !== got) corrupt(block, file, 'TOC', `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
  const symOff = readBE64(t, 0);
  const tabOff = readBE64(t, 8);
  if (!(symOff === HDR_LEN && tabOff > symOff && tabOff < size - HDR_TOC_LEN - TOC_LEN)) corrupt(block, file, 'TOC', 'section offsets out of range');
  const toc = parseTOC(await hdr.read(size - HDR_TOC_LEN - TOC_LEN, TOC_LEN), block, file);
  if (toc.postingsTable !== postingsTablePos) corrupt(block, file, 'header', `postings table offset ${postingsTablePos} disagrees with the copied index TOC (${toc.postingsTable})`);
  const symBytes = await hdr.read(symOff, tabOff - symOff);
  const symbols = parseSymbols(checkedSection(symBytes, block, file, 'symbol table'), block, file);
  if (opts.dictionary) internSorted(symbols, opts.dictionary);
  // Postings offset table: walk it once, keeping every sampling-th entry (and each name's last).
  const tabBytes = await hdr.read(tabOff, size - HDR_TOC_LEN - TOC_LEN - tabOff);
  const payload = checkedSection(tabBytes, block, file, 'postings offset table');
  if (sampling === ALL_POSTINGS_OFFSETS) {
    const table = parsePostingsTable(payload, block, file);
    // Every name and value of the table is a symbol: share the symbol's string.
    for (const e of table.values()) internSorted(e.values, symbols);
    return { indexVersion, toc, symbols, offsets: new MemPostingsOffsets(table, toc.labelIndicesTable || toc.postingsTable) };
  }
  const base = tabOff + 4; // header position of payload[0]
  const m = new Map<string, NameOffsets>();
  const order: string[] = [];
  try {
    const d = new Decbuf(payload);
    const n = d.be32();
    let cur: NameOffsets | undefined;
    let curName: string | undefined;
    let k = 0;
    let last: { value: string; pos: number } | undefined;
    const firstOff = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const pos = base + d.pos;
      const keys = d.uvarint();
      if (keys !== 2) corrupt(block, file, 'postings offset table', `entry ${i} has ${keys} keys, want 2`);
      const name = d.uvarintStr();
      const value = d.uvarintStr();
      const off = d.uvarint();
      if (name !== curName) {
        if (cur && last && cur.samples[cur.samples.length - 1] !== last) cur.samples.push(last);
        if (cur) cur.endPos = pos;
        cur = { samples: [], endPos: 0, listEnd: 0 };
        m.set(name, cur);
        order.push(name);
        firstOff.set(name, off);
        curName = name;
        k = 0;
      }
      last = { value, pos };
      if (k % sampling === 0) cur!.samples.push(last);
      k++;
    }
    if (cur && last && cur.samples[cur.samples.length - 1] !== last) cur.samples.push(last);
    if (cur) cur.endPos = base + d.pos;
    for (let i = 0; i < order.length; i++) {
      m.get(order[i]!)!.listEnd = i + 1 < order.length ? firstOff.get(order[i + 1]!)! : postingsTablePos;
    }
  } catch (e) {
    if (e instanceof DecodeError) corrupt(block, file, 'postings offset table', e.message, e);
    throw e;
  }
  return { indexVersion, toc, symbols, offsets: new SampledPostingsOffsets(hdr, m, block) };
}

/** First index in dict[lo, hi) whose string is not below s (dict ascending by compareStrings). */
function lowerBound(dict: readonly string[], s: string, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareStrings(dict[mid]!, s) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Replaces, in place, each string of `strs` that equals a string of `dict` by dict's string object;
 * both are ascending (compareStrings), as a symbol table and each name's values in the postings
 * offset table are: one walk with galloping steps (1-2 comparisons per string where the two mostly
 * agree). The equal string is shared instead of held twice: a block's postings offset table repeats
 * every value of its symbol table, and neighbouring blocks' symbol tables are mostly the same
 * strings (24 blocks of 10k series held 491k strings, 11 MiB, for ~20k distinct ones). Only equal
 * strings are replaced: out-of-order input shares less, never a wrong string. Returns how many.
 */
export function internSorted(strs: string[], dict: readonly string[]): number {
  const n = dict.length;
  if (n === 0 || strs.length === 0) return 0;
  let j = lowerBound(dict, strs[0]!, 0, n);
  let shared = 0;
  for (let i = 0; i < strs.length; i++) {
    const s = strs[i]!;
    if (j >= n) {
      // Past the dictionary's end: only input out of order can still be found.
      if (i === 0 || compareStrings(s, strs[i - 1]!) > 0) continue;
      j = lowerBound(dict, s, 0, n);
      if (j >= n) continue;
    }
    let c = compareStrings(dict[j]!, s);
    if (c < 0) {
      // Gallop forward to a bracket [lo, hi) holding s's lower bound, then bisect it.
      let step = 1;
      let lo = j + 1;
      while (lo + step < n && compareStrings(dict[lo + step - 1]!, s) < 0) {
        lo += step;
        step *= 2;
      }
      j = lowerBound(dict, s, lo, Math.min(n, lo + step));
      if (j >= n) continue;
      c = compareStrings(dict[j]!, s);
    } else if (c > 0 && i > 0 && compareStrings(s, strs[i - 1]!) <= 0) {
      j = lowerBound(dict, s, 0, j);
      c = compareStrings(dict[j]!, s);
    }
    if (c === 0) {
      strs[i] = dict[j]!;
      shared++;
      j++;
    }
  }
  return shared;
}

export interface LoadIndexHeaderOptions {
  core: Core;
  /** The block's full index (e.g. bucketSource(bucket, `${id}/index`)); only postings and series are read from it. */
  index: ByteSource;
  /** Local FS and directory for this block's header (e.g. `<data-dir>/<ulid>`); omit to keep it in memory. */
  fs?: FsCapability;
  dir?: string;
  block?: string;
  sampling?: number;
  /** Another block's symbol table: this block's equal symbols share its strings (see internSorted). */
  dictionary?: readonly string[];
  /** Called when an existing header file is unusable (corrupt or stale) and is rebuilt. */
  onInvalid?: (err: Error) => void;
}

/**
 * The store gateway's entry point: loads `<dir>/index-header` if present and valid, otherwise
 * builds it with ranged reads of the index and writes it (tmp + rename); returns an IndexReader
 * whose symbols and postings offsets come from the header.
 */
export async function loadIndexHeaderReader(o: LoadIndexHeaderOptions): Promise<IndexReader & { built: boolean }> {
  const block = o.block ?? '';
  let info: IndexHeaderInfo | undefined;
  let built = false;
  if (o.fs && o.dir) {
    const path = o.fs.resolve(o.dir, INDEX_HEADER_FILENAME);
    if (await o.fs.exists(path)) {
      try {
        info = await openIndexHeader(fsSource(o.fs, path), { block, sampling: o.sampling, dictionary: o.dictionary });
      } catch (e) {
        info = undefined; // corrupt or stale: rebuild
        o.onInvalid?.(e as Error);
      }
    }
    if (!info) {
      const bytes = await buildIndexHeader(o.index, block);
      await o.fs.mkdir(o.dir, { recursive: true });
      const tmp = path + '.tmp';
      await o.fs.writeFile(tmp, bytes);
      await o.fs.rename(tmp, path);
      info = await openIndexHeader(fsSource(o.fs, path), { block, sampling: o.sampling, dictionary: o.dictionary });
      built = true;
    }
  } else {
    info = await openIndexHeader(bytesSource(await buildIndexHeader(o.index, block)), { block, sampling: o.sampling, dictionary: o.dictionary });
    built = true;
  }
  const size = await o.index.size();
  const r = IndexReader.fromParts(o.index, size, info.toc, info.symbols, info.offsets, { core: o.core, block, file: 'index' });
  return Object.assign(r, { built });
}

// Prometheus index format v2 (tsdb/docs/format/index.md): reader over a ByteSource and a
// streaming writer. Every section's CRC32-C is checked on read; errors name block, file, section.
import type { Core } from '../core/types.ts';
import type { Labels, Matcher, CompiledMatcher } from '../labels/mod.ts';
import { compileMatcher, compareStrings } from '../labels/mod.ts';
import type { ByteSource } from './bytesource.ts';
import { CorruptBlockError } from './errors.ts';
import { Decbuf, DecodeError, Encbuf, crc32c, readBE32, readBE64, decodeString, textEncoder } from './encoding.ts';

export const INDEX_MAGIC = 0xbaaad700;
export const INDEX_V1 = 1;
export const INDEX_V2 = 2;
export const TOC_LEN = 6 * 8 + 4;
export const HEADER_LEN = 5;

export interface TOC {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

export interface ChunkMeta {
  /** segment << 32 | offset (held exactly in f64). */
  ref: number;
  minTime: number;
  maxTime: number;
}

export interface SeriesEntry {
  /** Series reference: byte offset in the index / 16. */
  ref: number;
  labels: Labels;
  chunks: ChunkMeta[];
}

/** One label name's postings lists: sorted values with the byte range of each list in the index. */
export interface PostingsRange { value: string; start: number; end: number }

/**
 * Where postings lists live. The full index keeps the whole postings offset table in memory; the
 * index-header (indexheader.ts) keeps a sample and reads the rest from its local file.
 */
export interface PostingsOffsets {
  labelNames(): string[];
  /** Sorted values of a label name ([] when unknown). */
  labelValues(name: string): Promise<string[]>;
  /** Ranges of the lists whose value satisfies pred, in value order. */
  ranges(name: string, pred: (v: string) => boolean): Promise<PostingsRange[]>;
  /** Range of exactly one list, or undefined. */
  range(name: string, value: string): Promise<PostingsRange | undefined>;
}

export interface IndexOpenOptions {
  core: Core;
  /** Block id (or path) for error messages. */
  block?: string;
  /** File name for error messages (default 'index'). */
  file?: string;
}

/** Raises a CorruptBlockError naming the section. */
export function corrupt(block: string, file: string, section: string, detail: string, cause?: unknown): never {
  throw new CorruptBlockError(block, file, section, detail, cause);
}

export function parseTOC(b: Uint8Array, block: string, file: string): TOC {
  if (b.length !== TOC_LEN) corrupt(block, file, 'TOC', `want ${TOC_LEN} bytes, got ${b.length}`);
  const want = readBE32(b, 48);
  const got = crc32c(b, 0, 48);
  if (want !== got) corrupt(block, file, 'TOC', `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
  return {
    symbols: readBE64(b, 0),
    series: readBE64(b, 8),
    labelIndices: readBE64(b, 16),
    labelIndicesTable: readBE64(b, 24),
    postings: readBE64(b, 32),
    postingsTable: readBE64(b, 40),
  };
}

export function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** Checks a `len<4B> payload crc<4B>` section held in b (b starts at the len field). Returns the payload. */
export function checkedSection(b: Uint8Array, block: string, file: string, section: string): Uint8Array {
  if (b.length < 8) corrupt(block, file, section, `truncated: ${b.length} bytes`);
  const len = readBE32(b, 0);
  if (4 + len + 4 > b.length) corrupt(block, file, section, `truncated: length field says ${len} bytes, only ${b.length - 8} present`);
  const want = readBE32(b, 4 + len);
  const got = crc32c(b, 4, 4 + len);
  if (want !== got) corrupt(block, file, section, `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
  return b.subarray(4, 4 + len);
}

/** Reads a `len<4B> payload crc<4B>` section from a source, bounds-checked against limit. */
export async function readSection(src: ByteSource, off: number, limit: number, block: string, file: string, section: string): Promise<Uint8Array> {
  if (off + 4 > limit) corrupt(block, file, section, `section offset ${off} beyond end ${limit}`);
  let head: Uint8Array;
  try {
    head = await src.read(off, 4);
  } catch (e) {
    corrupt(block, file, section, `cannot read length at ${off}: ${(e as Error).message}`, e);
  }
  const len = readBE32(head, 0);
  if (off + 4 + len + 4 > limit) corrupt(block, file, section, `truncated: section at ${off} claims ${len} bytes but the file ends at ${limit}`);
  const b = await src.read(off, 4 + len + 4);
  return checkedSection(b, block, file, section);
}

export function parseSymbols(payload: Uint8Array, block: string, file: string): string[] {
  try {
    const d = new Decbuf(payload);
    const n = d.be32();
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = d.uvarintStr();
    if (d.remaining !== 0) corrupt(block, file, 'symbol table', `${d.remaining} trailing bytes after ${n} symbols`);
    return out;
  } catch (e) {
    if (e instanceof DecodeError) corrupt(block, file, 'symbol table', e.message, e);
    throw e;
  }
}

/** Parses the postings offset table payload into name → (values, offsets). */
export function parsePostingsTable(payload: Uint8Array, block: string, file: string): Map<string, { values: string[]; offsets: number[] }> {
  const m = new Map<string, { values: string[]; offsets: number[] }>();
  try {
    const d = new Decbuf(payload);
    const n = d.be32();
    let cur: { values: string[]; offsets: number[] } | undefined;
    let curName: string | undefined;
    for (let i = 0; i < n; i++) {
      const keys = d.uvarint();
      if (keys !== 2) corrupt(block, file, 'postings offset table', `entry ${i} has ${keys} keys, want 2`);
      const name = d.uvarintStr();
      const value = d.uvarintStr();
      const off = d.uvarint();
      if (name !== curName) {
        cur = m.get(name);
        if (!cur) m.set(name, (cur = { values: [], offsets: [] }));
        curName = name;
      }
      cur!.values.push(value);
      cur!.offsets.push(off);
    }
    if (d.remaining !== 0) corrupt(block, file, 'postings offset table', `${d.remaining} trailing bytes`);
  } catch (e) {
    if (e instanceof DecodeError) corrupt(block, file, 'postings offset table', e.message, e);
    throw e;
  }
  return m;
}

/** The whole postings offset table in memory (what a reader of a full index uses). */
export class MemPostingsOffsets implements PostingsOffsets {
  private names: string[];
  /** Per name: end of its last list = start of the next name's first list (or postings end). */
  private ends = new Map<string, number>();
  constructor(private table: Map<string, { values: string[]; offsets: number[] }>, postingsEnd: number) {
    // Lists are laid out in (name, value) order, so the next entry's start bounds each list.
    const ordered = [...table.entries()].sort((a, b) => (a[1].offsets[0] ?? 0) - (b[1].offsets[0] ?? 0));
    for (let i = 0; i < ordered.length; i++) {
      const next = ordered[i + 1];
      this.ends.set(ordered[i]![0], next ? next[1].offsets[0]! : postingsEnd);
    }
    this.names = [...table.keys()].filter((n) => n !== '').sort(compareStrings);
  }
  labelNames(): string[] {
    return this.names;
  }
  async labelValues(name: string): Promise<string[]> {
    return this.table.get(name)?.values ?? [];
  }
  private rangeAt(name: string, e: { values: string[]; offsets: number[] }, i: number): PostingsRange {
    const end = i + 1 < e.offsets.length ? e.offsets[i + 1]! : this.ends.get(name)!;
    return { value: e.values[i]!, start: e.offsets[i]!, end };
  }
  async ranges(name: string, pred: (v: string) => boolean): Promise<PostingsRange[]> {
    const e = this.table.get(name);
    if (!e) return [];
    const out: PostingsRange[] = [];
    for (let i = 0; i < e.values.length; i++) if (pred(e.values[i]!)) out.push(this.rangeAt(name, e, i));
    return out;
  }
  async range(name: string, value: string): Promise<PostingsRange | undefined> {
    const e = this.table.get(name);
    if (!e) return undefined;
    // binary search (values sorted byte-wise)
    let lo = 0, hi = e.values.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = compareStrings(e.values[mid]!, value);
      if (c === 0) return this.rangeAt(name, e, mid);
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/** Decodes one postings list held at b[0..] (len, entries, crc); padding after it is ignored. */
export function decodePostingsList(b: Uint8Array, block: string, file: string, what: string): Uint32Array {
  const payload = checkedSection(b, block, file, `postings list ${what}`);
  const n = readBE32(payload, 0);
  if (payload.length !== 4 + 4 * n) corrupt(block, file, `postings list ${what}`, `length ${payload.length} does not hold ${n} entries`);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = readBE32(payload, 4 + 4 * i);
  for (let i = 1; i < n; i++) if (out[i]! <= out[i - 1]!) corrupt(block, file, `postings list ${what}`, `entries not strictly increasing at ${i}`);
  return out;
}

/**
 * A series entry's fields (tsdb/docs/format/index.md "Series"), decoded into flat arrays reused from
 * entry to entry: no object per label or chunk. `start`/`end`: the body's span in the buffer last
 * framed (frameSeriesAt) — what follows the entry's length, without its CRC: the bytes Thanos's
 * index cache holds for a series.
 */
export class SeriesFields {
  start = 0;
  end = 0;
  /** decodeSeriesFields's read position. */
  pos = 0;
  nLabels = 0;
  nChunks = 0;
  /** Label symbol references, name then value per label. */
  readonly labelRefs: number[] = [];
  /** Chunk metas, ref then minTime then maxTime per chunk. */
  readonly chunks: number[] = [];
}

/**
 * Frames the series entry whose `len` uvarint starts at b[pos]: checks its CRC and sets f.start/f.end
 * to its body. False when b is too short to hold the entry.
 */
export function frameSeriesAt(b: Uint8Array, pos: number, ref: number, block: string, file: string, f: SeriesFields): boolean {
  const d = new Decbuf(b, pos);
  let len: number;
  try {
    len = d.uvarint();
  } catch {
    return false;
  }
  if (d.remaining < len + 4) return false;
  const start = d.pos;
  const want = readBE32(b, start + len);
  const got = crc32c(b, start, start + len);
  if (want !== got) corrupt(block, file, `series ${ref}`, `checksum mismatch: stored ${hex(want)}, computed ${hex(got)}`);
  f.start = start;
  f.end = start + len;
  return true;
}

/** Decodes a series entry's body b[start, end) into f; throws DecodeError when the bytes are not one. */
export function decodeSeriesFields(b: Uint8Array, start: number, end: number, f: SeriesFields): void {
  f.pos = start;
  const nl = uvarintAt(b, end, f);
  const lr = f.labelRefs;
  for (let i = 0; i < 2 * nl; i++) lr[i] = uvarintAt(b, end, f);
  const nc = uvarintAt(b, end, f);
  const c = f.chunks;
  if (nc > 0) {
    let mint = zigzag(uvarintAt(b, end, f));
    let maxt = mint + uvarintAt(b, end, f);
    let cref = uvarintAt(b, end, f);
    c[0] = cref;
    c[1] = mint;
    c[2] = maxt;
    for (let i = 1; i < nc; i++) {
      const p = f.pos;
      let d = uvarintAt(b, end, f);
      if (d >= 2 ** 53) d = new Decbuf(b, p, end).uvarintAsInt64(); // negative (wrapped) when chunks overlap
      mint = maxt + d;
      maxt = mint + uvarintAt(b, end, f);
      cref += zigzag(uvarintAt(b, end, f));
      c[3 * i] = cref;
      c[3 * i + 1] = mint;
      c[3 * i + 2] = maxt;
    }
  }
  if (f.pos !== end) throw new DecodeError(`${end - f.pos} trailing bytes`);
  f.nLabels = nl;
  f.nChunks = nc;
}

/**
 * Decbuf.uvarint at f.pos (advanced), without a Decbuf per entry. Hot for cached entries (every
 * series of every request): small enough to be inlined for the one- to three-byte values (symbol
 * references, most deltas); longer ones in uvarintLong.
 */
function uvarintAt(b: Uint8Array, end: number, f: SeriesFields): number {
  const p = f.pos;
  if (p + 3 <= end) {
    const c0 = b[p]!;
    if (c0 < 0x80) {
      f.pos = p + 1;
      return c0;
    }
    const c1 = b[p + 1]!;
    if (c1 < 0x80) {
      f.pos = p + 2;
      return (c0 & 0x7f) | (c1 << 7);
    }
    const c2 = b[p + 2]!;
    if (c2 < 0x80) {
      f.pos = p + 3;
      return (c0 & 0x7f) | ((c1 & 0x7f) << 7) | (c2 << 14);
    }
  }
  return uvarintLong(b, end, f);
}

function uvarintLong(b: Uint8Array, end: number, f: SeriesFields): number {
  let p = f.pos;
  let x = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new DecodeError('unexpected end of data in varint');
    const c = b[p++]!;
    if (c < 0x80) {
      f.pos = p;
      return x + c * mul;
    }
    x += (c & 0x7f) * mul;
    mul *= 128;
  }
  throw new DecodeError('varint overflows 64 bits');
}

/** Zig-zag decoding (Decbuf.varint), without a floating-point modulo (a C call for values past 31 bits). */
function zigzag(u: number): number {
  const h = Math.floor(u / 2);
  return u === 2 * h ? h : -h - 1;
}

/** decodeSeriesFields of an entry read from the index: errors name the block, file and series. */
export function decodeIndexSeriesFields(b: Uint8Array, ref: number, symbols: number, block: string, file: string, f: SeriesFields): void {
  try {
    decodeSeriesFields(b, f.start, f.end, f);
  } catch (e) {
    if (e instanceof DecodeError) corrupt(block, file, `series ${ref}`, e.message, e);
    throw e;
  }
  const lr = f.labelRefs;
  for (let i = 0; i < 2 * f.nLabels; i++) {
    if (lr[i]! >= symbols) corrupt(block, file, `series ${ref}`, `symbol reference ${lr[i]} out of range (${symbols} symbols)`);
  }
}

/** Decodes a series entry whose `len` uvarint starts at b[pos]; returns undefined when b is too short. */
export function decodeSeriesAt(b: Uint8Array, pos: number, ref: number, symbols: readonly string[], block: string, file: string, f = new SeriesFields()): SeriesEntry | undefined {
  if (!frameSeriesAt(b, pos, ref, block, file, f)) return undefined;
  return seriesEntry(b, ref, symbols, block, file, f);
}

/** The SeriesEntry of the entry framed in f. */
function seriesEntry(b: Uint8Array, ref: number, symbols: readonly string[], block: string, file: string, f: SeriesFields): SeriesEntry {
  decodeIndexSeriesFields(b, ref, symbols.length, block, file, f);
  const nl = f.nLabels;
  const lr = f.labelRefs;
  const labels: { name: string; value: string }[] = new Array(nl);
  for (let i = 0; i < nl; i++) labels[i] = { name: symbols[lr[2 * i]!]!, value: symbols[lr[2 * i + 1]!]! };
  const nc = f.nChunks;
  const c = f.chunks;
  const chunks: ChunkMeta[] = new Array(nc);
  for (let i = 0; i < nc; i++) chunks[i] = { ref: c[3 * i]!, minTime: c[3 * i + 1]!, maxTime: c[3 * i + 2]! };
  return { ref, labels, chunks };
}

/** Matchers accepted by the query methods: plain or compiled. */
export type MatcherLike = Matcher | CompiledMatcher;
function compiled(ms: readonly MatcherLike[]): CompiledMatcher[] {
  return ms.map((m) => ('matches' in m ? m : compileMatcher(m)));
}

export class IndexReader {
  readonly block: string;
  readonly file: string;
  private constructor(
    readonly src: ByteSource,
    readonly size: number,
    readonly version: number,
    readonly toc: TOC,
    readonly symbols: readonly string[],
    readonly postingsOffsets: PostingsOffsets,
    private core: Core,
    block: string,
    file: string,
  ) {
    this.block = block;
    this.file = file;
  }

  /** Opens a full index: reads header, TOC, symbol table and postings offset table. */
  static async open(src: ByteSource, opts: IndexOpenOptions): Promise<IndexReader> {
    const block = opts.block ?? '';
    const file = opts.file ?? 'index';
    const size = await src.size();
    if (size < HEADER_LEN + TOC_LEN) corrupt(block, file, 'header', `file is ${size} bytes, too small for an index`);
    const head = await src.read(0, HEADER_LEN);
    const magic = readBE32(head, 0);
    if (magic !== INDEX_MAGIC) corrupt(block, file, 'header', `invalid magic number ${hex(magic)}, want ${hex(INDEX_MAGIC)}`);
    const version = head[4]!;
    if (version !== INDEX_V2) corrupt(block, file, 'header', version === INDEX_V1 ? 'index format v1 is not supported (Prometheus < 2.9)' : `unknown index format version ${version}`);
    const toc = parseTOC(await src.read(size - TOC_LEN, TOC_LEN), block, file);
    const limit = size - TOC_LEN;
    for (const [k, v] of Object.entries(toc)) if (v > limit) corrupt(block, file, 'TOC', `${k} offset ${v} beyond end of data ${limit}`);
    if (toc.symbols === 0 || toc.postingsTable === 0) corrupt(block, file, 'TOC', 'symbol table or postings offset table missing');
    const symbols = parseSymbols(await readSection(src, toc.symbols, limit, block, file, 'symbol table'), block, file);
    const table = parsePostingsTable(await readSection(src, toc.postingsTable, limit, block, file, 'postings offset table'), block, file);
    const postingsEnd = toc.labelIndicesTable || toc.postingsTable;
    return new IndexReader(src, size, version, toc, symbols, new MemPostingsOffsets(table, postingsEnd), opts.core, block, file);
  }

  /** Builds a reader from an index-header's parts; postings and series still come from src. */
  static fromParts(src: ByteSource, size: number, toc: TOC, symbols: readonly string[], offsets: PostingsOffsets, opts: IndexOpenOptions): IndexReader {
    return new IndexReader(src, size, INDEX_V2, toc, symbols, offsets, opts.core, opts.block ?? '', opts.file ?? 'index');
  }

  private seriesEnd(): number {
    return this.toc.labelIndices || this.toc.postings || this.toc.labelIndicesTable || this.toc.postingsTable;
  }

  /** Label names present in the block (optionally only in series matching ms). */
  async labelNames(ms?: readonly MatcherLike[]): Promise<string[]> {
    if (!ms || ms.length === 0) return this.postingsOffsets.labelNames().slice();
    const refs = await this.postingsForMatchers(ms);
    const names = new Set<string>();
    for await (const s of this.seriesMany(refs)) for (const l of s.labels) names.add(l.name);
    return [...names].sort(compareStrings);
  }

  /** Sorted values of a label (optionally only in series matching ms). */
  async labelValues(name: string, ms?: readonly MatcherLike[]): Promise<string[]> {
    const all = await this.postingsOffsets.labelValues(name);
    if (!ms || ms.length === 0) return all.slice();
    const matched = await this.postingsForMatchers(ms);
    if (matched.length === 0) return [];
    const out: string[] = [];
    // Either intersect each value's list with the match, or read the matched series: pick the cheaper.
    if (all.length <= matched.length) {
      const ranges = await this.postingsOffsets.ranges(name, () => true);
      const lists = await this.readPostingsRanges(name, ranges);
      for (let i = 0; i < ranges.length; i++) {
        if (this.core.intersect([lists[i]!, matched]).length > 0) out.push(ranges[i]!.value);
      }
      return out;
    }
    const vals = new Set<string>();
    for await (const s of this.seriesMany(matched)) for (const l of s.labels) if (l.name === name) vals.add(l.value);
    return [...vals].sort(compareStrings);
  }

  /** All series refs ("" = "" list). */
  async allPostings(): Promise<Uint32Array> {
    return this.postings('', ['']);
  }

  /** Union of the postings lists of name=value for the given values. */
  async postings(name: string, values: readonly string[]): Promise<Uint32Array> {
    const ranges: PostingsRange[] = [];
    for (const v of values) {
      const r = await this.postingsOffsets.range(name, v);
      if (r) ranges.push(r);
    }
    // readPostingsRanges coalesces neighbours and needs ranges in file order (values may come unsorted, e.g. a|b regex sets).
    ranges.sort((a, b) => a.start - b.start);
    const lists = await this.readPostingsRanges(name, ranges);
    if (lists.length === 0) return new Uint32Array(0);
    return lists.length === 1 ? lists[0]! : this.core.merge(lists);
  }

  /** Union of postings of name=v for every v satisfying pred. */
  async postingsWhere(name: string, pred: (v: string) => boolean): Promise<Uint32Array> {
    const ranges = await this.postingsOffsets.ranges(name, pred);
    const lists = await this.readPostingsRanges(name, ranges);
    if (lists.length === 0) return new Uint32Array(0);
    return lists.length === 1 ? lists[0]! : this.core.merge(lists);
  }

  /** Reads the lists, coalescing neighbouring ranges into one read (gap < 512 KiB). */
  async readPostingsRanges(name: string, ranges: readonly PostingsRange[]): Promise<Uint32Array[]> {
    const out: Uint32Array[] = new Array(ranges.length);
    const limit = this.size - TOC_LEN;
    let i = 0;
    while (i < ranges.length) {
      let j = i;
      while (j + 1 < ranges.length && ranges[j + 1]!.start - ranges[j]!.end < 512 * 1024 && ranges[j + 1]!.end - ranges[i]!.start < 32 << 20) j++;
      const start = ranges[i]!.start;
      const end = ranges[j]!.end;
      if (end > limit || start >= end) corrupt(this.block, this.file, `postings list ${name}`, `range [${start}, ${end}) outside the index`);
      let buf: Uint8Array;
      try {
        buf = await this.src.read(start, end - start);
      } catch (e) {
        corrupt(this.block, this.file, `postings list ${name}`, (e as Error).message, e);
      }
      for (let k = i; k <= j; k++) {
        const r = ranges[k]!;
        out[k] = decodePostingsList(buf.subarray(r.start - start, r.end - start), this.block, this.file, `${name}=${JSON.stringify(r.value)}`);
      }
      i = j + 1;
    }
    return out;
  }

  /**
   * Series refs matching all matchers, with Prometheus semantics (PostingsForMatchers): a matcher
   * that matches "" also selects series without the label; results are sorted refs.
   */
  async postingsForMatchers(matchers: readonly MatcherLike[]): Promise<Uint32Array> {
    const ms = compiled(matchers);
    const its: Uint32Array[] = [];
    const notIts: Uint32Array[] = [];
    // Positive matchers first: they are the selective ones.
    for (const m of ms) {
      if (m.matchesEmpty) continue;
      let p: Uint32Array;
      if (m.type === '=') p = await this.postings(m.name, [m.value]);
      else if (m.setMatches && m.type === '=~') p = await this.postings(m.name, m.setMatches);
      else p = await this.postingsWhere(m.name, (v) => m.matches(v));
      if (p.length === 0) return new Uint32Array(0);
      its.push(p);
    }
    for (const m of ms) {
      if (!m.matchesEmpty) continue;
      // Matches "" (so series without the label): remove series whose value does NOT match.
      if (m.type === '=~' && m.value === '.*') continue; // matches everything
      let p: Uint32Array;
      if (m.type === '!=') p = await this.postings(m.name, [m.value]);
      else if (m.type === '!~') {
        const inv = compileMatcher({ type: '=~', name: m.name, value: m.value });
        p = inv.setMatches ? await this.postings(m.name, inv.setMatches) : await this.postingsWhere(m.name, (v) => !m.matches(v));
      } else p = await this.postingsWhere(m.name, (v) => !m.matches(v));
      if (p.length > 0) notIts.push(p);
    }
    let res = its.length === 0 ? await this.allPostings() : its.length === 1 ? its[0]! : this.core.intersect(its);
    if (notIts.length > 0 && res.length > 0) res = this.core.without(res, notIts.length === 1 ? notIts[0]! : this.core.merge(notIts));
    return res;
  }

  /** Reads one series by ref. */
  async series(ref: number): Promise<SeriesEntry> {
    const f = new SeriesFields();
    return seriesEntry(await this.readSeries(ref, f), ref, this.symbols, this.block, this.file, f);
  }

  /** Reads one series entry: the buffer holding it, framed in f. */
  private async readSeries(ref: number, f: SeriesFields): Promise<Uint8Array> {
    const off = ref * 16;
    const end = this.seriesEnd();
    if (off < this.toc.series || off >= end) corrupt(this.block, this.file, `series ${ref}`, `reference out of range: offset ${off} outside series section [${this.toc.series}, ${end})`);
    let want = Math.min(512, end - off);
    for (;;) {
      const buf = await this.src.read(off, want);
      if (frameSeriesAt(buf, 0, ref, this.block, this.file, f)) return buf;
      if (want >= end - off) corrupt(this.block, this.file, `series ${ref}`, 'truncated series entry');
      const d = new Decbuf(buf);
      let need = want * 4;
      try { need = d.uvarint() + d.pos + 4; } catch { /* keep growing */ }
      want = Math.min(Math.max(need, want * 2), end - off);
    }
  }

  /** Reads many series (refs sorted ascending), coalescing neighbours into ranged reads. */
  async *seriesMany(refs: ArrayLike<number>, opts: SeriesReadOptions = {}): AsyncGenerator<SeriesEntry> {
    const f = new SeriesFields();
    for (let i = 0; i < refs.length;) {
      const r = await this.readSeriesGroup(refs, i, opts);
      for (let k = i; k <= r.last; k++) {
        const ref = refs[k]!;
        const b = frameSeriesAt(r.buf, ref * 16 - r.first, ref, this.block, this.file, f) ? r.buf : await this.readSeries(ref, f);
        yield seriesEntry(b, ref, this.symbols, this.block, this.file, f);
      }
      i = r.last + 1;
    }
  }

  /**
   * seriesMany's reads, its entries not decoded: fn(k, b, f) for refs[k] in order, f framing the
   * entry's body in b (CRC checked; f.start/f.end valid during the call only).
   */
  async forEachSeries(refs: ArrayLike<number>, fn: (k: number, b: Uint8Array, f: SeriesFields) => void, opts: SeriesReadOptions = {}): Promise<void> {
    const f = new SeriesFields();
    for (let i = 0; i < refs.length;) {
      const r = await this.readSeriesGroup(refs, i, opts);
      for (let k = i; k <= r.last; k++) {
        const ref = refs[k]!;
        fn(k, frameSeriesAt(r.buf, ref * 16 - r.first, ref, this.block, this.file, f) ? r.buf : await this.readSeries(ref, f), f);
      }
      i = r.last + 1;
    }
  }

  /** One ranged read for refs[i..last]: neighbours closer than maxGap, at most maxRead bytes. */
  private async readSeriesGroup(refs: ArrayLike<number>, i: number, opts: SeriesReadOptions): Promise<{ buf: Uint8Array; first: number; last: number }> {
    const maxGap = opts.maxGap ?? 64 * 1024;
    const maxRead = opts.maxRead ?? 8 << 20;
    const end = this.seriesEnd();
    let j = i;
    const first = refs[i]! * 16;
    while (j + 1 < refs.length && refs[j + 1]! * 16 - refs[j]! * 16 < maxGap && refs[j + 1]! * 16 - first < maxRead) j++;
    if (first < this.toc.series || first >= end) corrupt(this.block, this.file, `series ${refs[i]}`, `reference out of range: offset ${first} outside series section [${this.toc.series}, ${end})`);
    const last = refs[j]! * 16;
    if (last >= end) corrupt(this.block, this.file, `series ${refs[j]}`, `reference out of range: offset ${last} outside series section [${this.toc.series}, ${end})`);
    const readEnd = Math.min(end, last + 4096);
    return { buf: await this.src.read(first, readEnd - first), first, last: j };
  }
}

/** How seriesMany / forEachSeries coalesce reads. */
export interface SeriesReadOptions { maxGap?: number; maxRead?: number }

// ------------------------------------------------------------------------------------------------
// Writer

/** Where writers put bytes: a sequential sink (file, object upload, memory). */
export interface FileSink {
  /**
   * Appends b. The sink is done with b once the promise resolves (it has written or copied it):
   * writers reuse one buffer instead of handing a fresh one over per write.
   */
  write(b: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Discard what was written (best effort). */
  abort?(err?: unknown): Promise<void>;
}

/** Writes an index sequentially; symbols first (sorted), then series in label order, then finish(). */
export class IndexWriter {
  private pos = 0;
  private buf = new Encbuf(1 << 16);
  private symIndex = new Map<string, number>();
  private symbols: string[] = [];
  private toc: TOC = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
  private stage: 'init' | 'series' | 'done' = 'init';
  private lastLabels: Labels | undefined;
  /** name symbol → value symbol → series refs (what the postings section needs). */
  private post = new Map<number, Map<number, number[]>>();
  private all: number[] = [];
  private tmp = new Encbuf(1024);
  private scratch = new Encbuf(1024);
  seriesMaxSize = 0;

  constructor(private sink: FileSink) {}

  private async flush(force = false): Promise<void> {
    if (this.buf.len >= 1 << 16 || (force && this.buf.len > 0)) {
      await this.sink.write(this.buf.get());
      this.buf.reset();
    }
  }
  private async put(b: Uint8Array): Promise<void> {
    this.buf.bytes(b);
    this.pos += b.length;
    await this.flush();
  }
  private async pad(align: number): Promise<void> {
    const n = (align - (this.pos % align)) % align;
    if (n) await this.put(new Uint8Array(n));
  }

  /** Writes the header and symbol table. symbols must be sorted (byte-wise) and unique. */
  async addSymbols(symbols: readonly string[]): Promise<void> {
    if (this.stage !== 'init') throw new Error('index writer: symbols already written');
    const h = new Encbuf(8);
    h.be32(INDEX_MAGIC);
    h.byte(INDEX_V2);
    await this.put(h.get());
    this.toc.symbols = this.pos;
    const e = new Encbuf(1 << 16);
    e.be32(0); // len placeholder
    e.be32(symbols.length);
    let prev: string | undefined;
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i]!;
      if (prev !== undefined && compareStrings(prev, s) >= 0) throw new Error(`index writer: symbol ${JSON.stringify(s)} out of order`);
      prev = s;
      e.uvarintStr(s);
      this.symIndex.set(s, i);
    }
    this.symbols = symbols.slice();
    const len = e.len - 4;
    const b = e.get();
    b[0] = len >>> 24; b[1] = len >>> 16; b[2] = len >>> 8; b[3] = len;
    e.crc32(4);
    await this.put(e.get());
    this.toc.series = this.pos;
    this.stage = 'series';
  }

  private sym(s: string): number {
    const i = this.symIndex.get(s);
    if (i === undefined) throw new Error(`index writer: symbol ${JSON.stringify(s)} missing from the symbol table`);
    return i;
  }

  /** Adds a series (labels sorted by name, series in Prometheus label order); returns its ref. */
  async addSeries(labels: Labels, chunks: readonly ChunkMeta[]): Promise<number> {
    if (this.stage !== 'series') throw new Error('index writer: addSeries before addSymbols or after finish');
    if (this.lastLabels && compareLabelsLocal(labels, this.lastLabels) <= 0) throw new Error(`index writer: out-of-order series ${fmt(labels)} after ${fmt(this.lastLabels)}`);
    await this.pad(16);
    const ref = this.pos / 16;
    if (ref > 0xffffffff) throw new Error('index writer: series section exceeds 64 GiB (4-byte series references)');
    const e = this.tmp.reset();
    e.uvarint(labels.length);
    for (const l of labels) {
      const n = this.sym(l.name);
      const v = this.sym(l.value);
      e.uvarint(n);
      e.uvarint(v);
      let byVal = this.post.get(n);
      if (!byVal) this.post.set(n, (byVal = new Map()));
      let list = byVal.get(v);
      if (!list) byVal.set(v, (list = []));
      list.push(ref);
    }
    e.uvarint(chunks.length);
    if (chunks.length > 0) {
      const c0 = chunks[0]!;
      e.varint(c0.minTime);
      e.uvarint(c0.maxTime - c0.minTime);
      e.uvarint(c0.ref);
      let t0 = c0.maxTime;
      let r0 = c0.ref;
      for (let i = 1; i < chunks.length; i++) {
        const c = chunks[i]!;
        if (c.minTime < chunks[i - 1]!.minTime || c.maxTime < c.minTime) throw new Error(`index writer: chunks of ${fmt(labels)} are not ordered by min time`);
        e.uvarintFromInt64(c.minTime - t0); // Go writes uint64(mint - prev maxt): wraps for overlapping chunks
        e.uvarint(c.maxTime - c.minTime);
        e.varint(c.ref - r0);
        t0 = c.maxTime;
        r0 = c.ref;
      }
    }
    const s = this.scratch.reset();
    s.uvarint(e.len);
    s.bytes(e.get());
    s.be32(crc32c(e.b, 0, e.len));
    if (s.len > this.seriesMaxSize) this.seriesMaxSize = s.len;
    await this.put(s.get());
    this.all.push(ref);
    this.lastLabels = labels;
    return ref;
  }

  /** Writes label indices, postings, both offset tables and the TOC; closes the sink. */
  async finish(): Promise<void> {
    if (this.stage === 'init') await this.addSymbols([]);
    if (this.stage !== 'series') throw new Error('index writer: finished twice');
    this.stage = 'done';
    const names = [...this.post.keys()].sort((a, b) => a - b); // symbol order = string order
    // Label indices (legacy but still written by Prometheus 2.x): one per label name.
    this.toc.labelIndices = this.pos;
    const labelIdx: { name: string; off: number }[] = [];
    for (const n of names) {
      await this.pad(4);
      labelIdx.push({ name: this.symbols[n]!, off: this.pos });
      const vals = [...this.post.get(n)!.keys()].sort((a, b) => a - b);
      const e = new Encbuf(12 + vals.length * 4);
      e.be32(4 + 4 + 4 * vals.length);
      e.be32(1);
      e.be32(vals.length);
      for (const v of vals) e.be32(v);
      e.crc32(4);
      await this.put(e.get());
    }
    // Postings: the all-series list under ("", ""), then per (name, value) in order.
    await this.pad(4);
    this.toc.postings = this.pos;
    const offsets: { name: string; value: string; off: number }[] = [];
    const writeList = async (name: string, value: string, refs: ArrayLike<number>) => {
      await this.pad(4);
      offsets.push({ name, value, off: this.pos });
      const e = new Encbuf(12 + refs.length * 4);
      e.be32(4 + 4 * refs.length);
      e.be32(refs.length);
      for (let i = 0; i < refs.length; i++) e.be32(refs[i]!);
      e.crc32(4);
      await this.put(e.get());
    };
    await writeList('', '', this.all);
    this.all = [];
    for (const n of names) {
      const byVal = this.post.get(n)!;
      const vals = [...byVal.keys()].sort((a, b) => a - b);
      for (const v of vals) await writeList(this.symbols[n]!, this.symbols[v]!, byVal.get(v)!);
      this.post.delete(n);
    }
    // Label offset table.
    this.toc.labelIndicesTable = this.pos;
    {
      const e = new Encbuf(1024);
      e.be32(0);
      e.be32(labelIdx.length);
      for (const li of labelIdx) {
        e.uvarint(1);
        e.uvarintStr(li.name);
        e.uvarint(li.off);
      }
      setLen(e);
      e.crc32(4);
      await this.put(e.get());
    }
    // Postings offset table.
    this.toc.postingsTable = this.pos;
    {
      const e = new Encbuf(1 << 16);
      e.be32(0);
      e.be32(offsets.length);
      for (const o of offsets) {
        e.uvarint(2);
        e.uvarintStr(o.name);
        e.uvarintStr(o.value);
        e.uvarint(o.off);
      }
      setLen(e);
      e.crc32(4);
      await this.put(e.get());
    }
    const t = new Encbuf(TOC_LEN);
    t.be64(this.toc.symbols);
    t.be64(this.toc.series);
    t.be64(this.toc.labelIndices);
    t.be64(this.toc.labelIndicesTable);
    t.be64(this.toc.postings);
    t.be64(this.toc.postingsTable);
    t.crc32(0);
    await this.put(t.get());
    await this.flush(true);
    await this.sink.close();
  }

  get bytesWritten(): number {
    return this.pos;
  }
}

function setLen(e: Encbuf): void {
  const len = e.len - 4;
  const b = e.b;
  b[0] = len >>> 24; b[1] = len >>> 16; b[2] = len >>> 8; b[3] = len;
}

function compareLabelsLocal(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.name !== y.name) return compareStrings(x.name, y.name);
    if (x.value !== y.value) return compareStrings(x.value, y.value);
  }
  return a.length - b.length;
}

function fmt(ls: Labels): string {
  return '{' + ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ') + '}';
}

export { textEncoder, decodeString };

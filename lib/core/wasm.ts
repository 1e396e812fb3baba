// The WASM backend: loads wasm/build/core.wasm with web-standard APIs (Node, Deno and Bun), lays out
// each batch in the module's linear memory (a bump arena from arenaBase, reset every call), makes one
// call per batch and copies the results out. Typed-array views are cached and rebuilt when memory grows.
import { CorruptChunkError, type AggrSeries, type ChunkBatch, type Core, type HistogramSamples, type SampleBatch, type Samples } from './types.ts';
import { AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER } from './aggr.ts';
import { emptyAggrSeries } from './js/downsample.ts';
import { badTimestamp, checkBatchStarts, checkEncodeArgs } from './js/xor.ts';
import { checkHistogramShape, checkHistogramValues } from './js/histogram.ts';
import { copyBytes, copyF64 } from './pool.ts';
import { checkedDecodedLength, decompress, maxCompressedLength, SnappyError } from '../remote/snappy.ts';

// Minimal typings for the WebAssembly global (tsconfig has no DOM lib, @types/node 20 lacks them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {}
interface WasmApi {
  compile(bytes: Uint8Array | ArrayBuffer): Promise<WasmModule>;
  instantiate(mod: WasmModule, imports: object): Promise<{ exports: object }>;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Exports {
  memory: WasmMemory;
  version(): number;
  arenaBase(): number;
  /** Added without a version bump: checked by name (WasmCore's constructor). */
  snappyCompress(src: number, n: number, dst: number, table: number): number;
  snappyDecode(src: number, s: number, end: number, dst: number, n: number): number;
  lastErrorSample(): number;
  lastErrorChunk(): number;
  xorDecodeBatch(desc: number, k: number, outT: number, outV: number, cap: number, start: number): number;
  xorDecodeBatchUpTo(desc: number, k: number, outT: number, outV: number, cap: number, start: number, maxt: number): number;
  xorEncodeBatch(tPtr: number, vPtr: number, start: number, k: number, out: number, offset: number): number;
  xorDecode(inPtr: number, inLen: number, outT: number, outV: number, cap: number): number;
  xorEncode(tPtr: number, vPtr: number, n: number, out: number): number;
  xorMaxBytes(n: number): number;
  intersect(desc: number, k: number, out: number, scratch: number): number;
  merge(desc: number, k: number, out: number, scratch: number): number;
  without(a: number, na: number, b: number, nb: number, out: number): number;
  downsample(tPtr: number, vPtr: number, n: number, res: number, out: number): number;
  histogramEncode(desc: number, out: number, scratch: number): number;
  histogramDecode(inPtr: number, inLen: number, float: number, desc: number, arena: number): number;
  histogramMaxBytes(n: number, spanPairs: number, custom: number, buckets: number): number;
  crc32cBatch(desc: number, k: number, crc: number): void;
}

/** The exports/layout version this wrapper speaks (wasm/index.ts version()). */
export const WASM_ABI_VERSION = 6;

export const DEFAULT_WASM_URL = new URL('../../wasm/build/core.wasm', import.meta.url);

const ERRORS: Record<number, string> = {
  [-1]: 'chunk shorter than its 2-byte header',
  [-2]: 'truncated',
  [-3]: 'varint overflows 64 bits',
  [-4]: 'bad value header (leading + significant bits > 64)',
  [-5]: 'output too small',
  [-6]: 'timestamp not an integer within ±2^51',
};

// wasm/histogram.ts HERR_* codes
const HIST_ERRORS: Record<number, string> = {
  [-1]: 'shorter than its 3-byte header',
  [-2]: 'truncated',
  [-4]: 'bad value header (leading + significant bits > 64)',
  [-7]: 'integer beyond ±2^53',
  [-8]: 'unknown schema',
  [-10]: 'more spans, buckets or bounds than bits left',
  [-11]: 'span length or offset beyond int32',
  [-12]: 'negative count (uint64 wrap)',
  [-13]: 'out of memory',
};
// wasm/histogram.ts descriptor (HD_*): byte offsets
const HD_SIZE = 96;

// Runtime detection for reading a local file without node: imports in the common path.
declare const Deno: { readFile(path: URL): Promise<Uint8Array> } | undefined;

/** Reads the module bytes: Deno.readFile, fetch() for non-file URLs and in Bun, node:fs in Node. */
export async function readWasmBytes(url: URL = DEFAULT_WASM_URL): Promise<Uint8Array> {
  try {
    if (typeof Deno !== 'undefined') return await Deno.readFile(url);
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
    if (url.protocol !== 'file:' || isBun) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }
    const fsName = 'node:fs/promises'; // Node's fetch() does not read file: URLs
    const fs = (await import(fsName)) as { readFile(p: URL): Promise<Uint8Array> };
    return new Uint8Array(await fs.readFile(url));
  } catch (err) {
    throw new Error(`core: cannot read the WASM module at ${url.href} (run \`npm run build:wasm\`): ${(err as Error).message}`);
  }
}

const moduleCache = new Map<string, Promise<WasmModule>>();

export interface WasmCoreOptions {
  /** The module bytes, if the caller already has them (skips reading the file). */
  wasmBytes?: Uint8Array | ArrayBuffer;
  /** Where to read the module from (default: wasm/build/core.wasm next to this repository). */
  wasmUrl?: URL;
}

export async function createWasmCore(opts: WasmCoreOptions = {}): Promise<Core> {
  let modP: Promise<WasmModule>;
  if (opts.wasmBytes) {
    modP = WA.compile(opts.wasmBytes);
  } else {
    const url = opts.wasmUrl ?? DEFAULT_WASM_URL;
    let cached = moduleCache.get(url.href);
    if (!cached) {
      cached = readWasmBytes(url).then((b) => WA.compile(b));
      moduleCache.set(url.href, cached);
      cached.catch(() => moduleCache.delete(url.href));
    }
    modP = cached;
  }
  const mod = await modP;
  const inst = await WA.instantiate(mod, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`core wasm: abort at ${line}:${col}`);
      },
    },
  });
  const ex = inst.exports as unknown as Exports;
  const v = ex.version();
  if (v !== WASM_ABI_VERSION) {
    throw new Error(`core: wasm/build/core.wasm has ABI version ${v}, expected ${WASM_ABI_VERSION} (run \`npm run build:wasm\`)`);
  }
  // Exports added without a version bump (older builds lack them; see wasm/index.ts version()).
  for (const name of ['crc32cBatch'] as const) {
    if (typeof ex[name] !== 'function') throw new Error(`core: wasm/build/core.wasm has no ${name} export (an older build: run \`npm run build:wasm\`)`);
  }
  return new WasmCore(ex);
}

// (no bit ops: pointers may exceed 2^31 once memory grows past 2 GiB)
const align16 = (p: number): number => Math.ceil(p / 16) * 16;
const MAX_SAMPLES = 65536;
// xorDecodeBatch's maxt: at or past it, no bound (an f64 below 2^63 converts to i64 exactly)
const BOUND_LIMIT = 2 ** 63;
// xorMaxBytes(65535) = 40 + 19 * 65535, rounded up
const MAX_CHUNK = 1245760;
// wasm/snappy.ts SNAPPY_TABLE_BYTES: the match table's scratch
const SNAPPY_TABLE_BYTES = 32768;

class WasmCore implements Core {
  readonly backend = 'wasm' as const;
  private ex: Exports;
  private mem: WasmMemory;
  private base: number;
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private f64!: Float64Array;
  // xorDecode result views by sample count (rebuilt with the other views when memory grows)
  private decT: Float64Array[] = [];
  private decV: Float64Array[] = [];
  // xorEncode result views by chunk length
  private encV: Uint8Array[] = [];
  // Batch results: arena views over fixed layouts sized by these capacities (grown by doubling),
  // reused from call to call and rebuilt when a capacity or the memory grows.
  private decCapSamples = 0;
  private decCapChunks = 0;
  private decBatch: SampleBatch | undefined;
  private encCapBytes = 0;
  private encCapChunks = 0;
  private encBatch: ChunkBatch | undefined;

  constructor(ex: Exports) {
    for (const name of ['snappyCompress', 'snappyDecode'] as const) {
      if (typeof ex[name] !== 'function') throw new Error(`core: wasm/build/core.wasm has no ${name} export (an older build: run \`npm run build:wasm\`)`);
    }
    this.ex = ex;
    this.mem = ex.memory;
    this.base = ex.arenaBase();
    this.views();
  }

  private views(): void {
    const b = this.mem.buffer;
    this.u8 = new Uint8Array(b);
    this.u32 = new Uint32Array(b);
    this.f64 = new Float64Array(b);
    this.decT = [];
    this.decV = [];
    this.encV = [];
    this.decBatch = undefined;
    this.encBatch = undefined;
  }

  /** Makes sure [0, end) is addressable; rebuilds the views if memory grew. */
  private ensure(end: number): void {
    if (this.u8.length === 0) this.views(); // grown by a kernel (old buffer detached)
    if (end <= this.u8.length) return;
    const pages = Math.ceil((end - this.u8.length) / 65536);
    try {
      this.mem.grow(pages);
    } catch {
      throw new RangeError(`core wasm: cannot grow memory to ${end} bytes`);
    }
    this.views();
  }

  private refresh(): void {
    if (this.u8.length === 0) this.views();
  }

  xorDecode(chunk: Uint8Array, out?: Samples): Samples {
    const len = chunk.length;
    if (len < 2) throw new CorruptChunkError(`xor chunk too short: ${len} bytes`);
    const total = (chunk[0] << 8) | chunk[1];
    // Fixed layout, so that result views can be cached per sample count:
    // [t: 65536 f64][v: 65536 f64][chunk bytes][16 bytes the kernel may load but never uses]
    const outT = this.base;
    const outV = outT + MAX_SAMPLES * 8;
    const inPtr = outV + MAX_SAMPLES * 8;
    this.ensure(inPtr + len + 16);
    this.u8.set(chunk, inPtr);
    const r = this.ex.xorDecode(inPtr, len, outT, outV, total);
    if (r < 0) {
      const at = r === -1 ? '' : ` at sample ${this.ex.lastErrorSample()}`;
      throw new CorruptChunkError(`xor chunk ${ERRORS[r] ?? `error ${r}`}${at}`);
    }
    let tv = this.decT[r];
    let vv = this.decV[r];
    if (tv === undefined) {
      tv = this.decT[r] = this.f64.subarray(outT >>> 3, (outT >>> 3) + r);
      vv = this.decV[r] = this.f64.subarray(outV >>> 3, (outV >>> 3) + r);
    }
    if (out && out.t.length >= r && out.v.length >= r) {
      out.t.set(tv);
      out.v.set(vv);
      out.n = r;
      return out;
    }
    return { t: copyF64(tv), v: copyF64(vv), n: r };
  }

  snappyCompressInto(src: Uint8Array, dst: Uint8Array, at: number): number {
    const n = src.length;
    const max = maxCompressedLength(n);
    if (dst.length - at < max) throw new RangeError(`snappy: ${dst.length - at} bytes of output for ${n} input bytes (want ${max})`);
    // [src: n + 8 readable bytes][dst: max + 8, short literals are copied 8 bytes a step][table]
    const sPtr = this.base;
    const dPtr = align16(sPtr + n + 8);
    const tPtr = align16(dPtr + max + 8);
    this.ensure(tPtr + SNAPPY_TABLE_BYTES);
    const u8 = this.u8;
    u8.set(src, sPtr);
    const len = this.ex.snappyCompress(sPtr, n, dPtr, tPtr);
    dst.set(u8.subarray(dPtr, dPtr + len), at);
    return at + len;
  }

  snappyDecompress(src: Uint8Array, maxDecodedBytes?: number): Uint8Array {
    const { length: n, headerBytes } = checkedDecodedLength(src, maxDecodedBytes);
    // [src + 8 readable bytes][dst: n + 8, elements are moved 8 bytes a step]
    const sPtr = this.base;
    const dPtr = align16(sPtr + src.length + 8);
    this.ensure(dPtr + n + 8);
    const u8 = this.u8;
    u8.set(src, sPtr);
    if (this.ex.snappyDecode(sPtr, headerBytes, src.length, dPtr, n) !== 0) {
      // malformed: the twin names the element and the reason
      decompress(src, { maxDecodedBytes });
      throw new SnappyError('the WASM decoder refused a block the TS decoder accepts');
    }
    return u8.subarray(dPtr, dPtr + n);
  }

  xorEncode(t: Float64Array, v: Float64Array, n: number): Uint8Array {
    checkEncodeArgs(t, v, n);
    // Fixed layout, so that result views can be cached per chunk length:
    // [chunk: up to MAX_CHUNK bytes][t: n f64][v: n f64]
    const out = this.base;
    const tPtr = out + MAX_CHUNK;
    const vPtr = tPtr + n * 8;
    this.ensure(vPtr + n * 8);
    const f = this.f64;
    f.set(n === t.length ? t : t.subarray(0, n), tPtr >>> 3);
    f.set(n === v.length ? v : v.subarray(0, n), vPtr >>> 3);
    const len = this.ex.xorEncode(tPtr, vPtr, n, out);
    if (len < 0) throw badTimestamp(t, this.ex.lastErrorSample());
    let view = this.encV[len];
    if (view === undefined) view = this.encV[len] = this.u8.subarray(out, out + len);
    return copyBytes(view);
  }

  xorDecodeBatch(chunks: readonly Uint8Array[], maxt?: number): SampleBatch {
    const k = chunks.length;
    let total = 0;
    let bytes = 0;
    for (let i = 0; i < k; i++) {
      const c = chunks[i]!;
      if (c.length < 2) throw new CorruptChunkError(`xor chunk ${i}: too short: ${c.length} bytes`, i);
      total += (c[0]! << 8) | c[1]!;
      bytes += c.length;
    }
    if (total > this.decCapSamples || k > this.decCapChunks) {
      this.decCapSamples = Math.max(total, this.decCapSamples * 2, 1024);
      this.decCapChunks = Math.max(k, this.decCapChunks * 2, 64);
      this.decBatch = undefined;
    }
    const capS = this.decCapSamples;
    const capK = this.decCapChunks;
    // [t: capS f64][v: capS f64][start: capK + 1 u32][desc: capK (offset, length) u32 pairs][chunks][16 spare bytes]
    const outT = this.base;
    const outV = outT + capS * 8;
    const start = outV + capS * 8;
    const desc = align16(start + (capK + 1) * 4);
    const input = align16(desc + capK * 8);
    this.ensure(input + bytes + 16);
    this.putArrays(chunks, desc, input);
    const u32 = this.u32;
    // A bound the kernel takes as an integer within ±2^63: t > maxt is t > floor(maxt) for integer
    // t; none (or NaN, or past every i64) decodes whole chunks with the unbounded kernel.
    const r =
      maxt === undefined || !(maxt < BOUND_LIMIT)
        ? this.ex.xorDecodeBatch(desc, k, outT, outV, total, start)
        : this.ex.xorDecodeBatchUpTo(desc, k, outT, outV, total, start, Math.max(Math.floor(maxt), -BOUND_LIMIT));
    if (r < 0) {
      const bad = this.ex.lastErrorChunk();
      throw new CorruptChunkError(`xor chunk ${bad}: ${ERRORS[r] ?? `error ${r}`} at sample ${this.ex.lastErrorSample()}`, bad);
    }
    let b = this.decBatch;
    if (b === undefined) {
      b = this.decBatch = {
        t: this.f64.subarray(outT >>> 3, (outT >>> 3) + capS),
        v: this.f64.subarray(outV >>> 3, (outV >>> 3) + capS),
        n: 0,
        chunks: 0,
        start: u32.subarray(start >>> 2, (start >>> 2) + capK + 1),
      };
    }
    b.n = r;
    b.chunks = k;
    return b;
  }

  xorEncodeBatch(t: Float64Array, v: Float64Array, starts: ArrayLike<number>, n: number): ChunkBatch {
    checkBatchStarts(t, v, starts, n);
    const k = starts.length;
    const maxBytes = k * 56 + n * 19 + 16; // wasm/xor.ts xorBatchMaxBytes
    if (maxBytes > this.encCapBytes || k + 1 > this.encCapChunks) {
      this.encCapBytes = Math.max(maxBytes, this.encCapBytes * 2, 65536);
      this.encCapChunks = Math.max(k + 1, this.encCapChunks * 2, 64);
      this.encBatch = undefined;
    }
    const capB = this.encCapBytes;
    const capK = this.encCapChunks;
    // [chunks: capB bytes][offset: capK u32][start: capK u32][t: n f64][v: n f64]
    const out = this.base;
    const offset = align16(out + capB);
    const start = align16(offset + capK * 4);
    const tPtr = align16(start + capK * 4);
    const vPtr = tPtr + n * 8;
    this.ensure(vPtr + n * 8);
    const f = this.f64;
    f.set(n === t.length ? t : t.subarray(0, n), tPtr >>> 3);
    f.set(n === v.length ? v : v.subarray(0, n), vPtr >>> 3);
    const u32 = this.u32;
    u32.set(starts, start >>> 2);
    u32[(start >>> 2) + k] = n;
    const r = this.ex.xorEncodeBatch(tPtr, vPtr, start, k, out, offset);
    if (r < 0) throw badTimestamp(t, starts[this.ex.lastErrorChunk()]! + this.ex.lastErrorSample());
    let b = this.encBatch;
    if (b === undefined) b = this.encBatch = { bytes: this.u8.subarray(out, out + capB), chunks: 0, offset: u32.subarray(offset >>> 2, (offset >>> 2) + capK) };
    b.chunks = k;
    return b;
  }

  /** Copies byte arrays one after another from `input`, with (offset, length) u32 pairs at `desc` (memory ensured). */
  private putArrays(arrays: readonly Uint8Array[], desc: number, input: number): void {
    const u8 = this.u8;
    const u32 = this.u32;
    let p = input;
    let d = desc >>> 2;
    for (let i = 0; i < arrays.length; i++) {
      const c = arrays[i]!;
      u32[d++] = p;
      u32[d++] = c.length;
      u8.set(c, p);
      p += c.length;
    }
  }

  /** Copies lists into memory behind k descriptors; returns the end of the copied data. */
  private putLists(lists: readonly Uint32Array[], extra: number): number {
    const k = lists.length;
    let total = 0;
    for (const l of lists) total += l.length;
    const desc = this.base;
    let p = align16(desc + k * 8);
    this.ensure(p + total * 4 + k * 16 + extra);
    const u = this.u32;
    for (let i = 0; i < k; i++) {
      const l = lists[i];
      u[(desc >>> 2) + 2 * i] = p;
      u[(desc >>> 2) + 2 * i + 1] = l.length;
      u.set(l, p >>> 2);
      p = align16(p + l.length * 4);
    }
    return p;
  }

  intersect(lists: readonly Uint32Array[]): Uint32Array {
    const k = lists.length;
    if (k === 0) return new Uint32Array(0);
    if (k === 1) return lists[0].slice();
    let min = lists[0].length;
    for (const l of lists) if (l.length < min) min = l.length;
    if (min === 0) return new Uint32Array(0);
    const end = this.putLists(lists, min * 4 + 32);
    const out = end;
    const scratch = align16(out + min * 4 + 16);
    const r = this.ex.intersect(this.base, k, out, scratch);
    this.refresh();
    if (r < 0) throw new RangeError('core wasm: out of memory in intersect');
    return this.u32.slice(out >>> 2, (out >>> 2) + r);
  }

  merge(lists: readonly Uint32Array[]): Uint32Array {
    const k = lists.length;
    if (k === 0) return new Uint32Array(0);
    let total = 0;
    for (const l of lists) total += l.length;
    const end = this.putLists(lists, total * 4 + 32);
    const out = end;
    const scratch = align16(out + total * 4 + 16);
    const r = this.ex.merge(this.base, k, out, scratch);
    this.refresh();
    if (r < 0) throw new RangeError('core wasm: out of memory in merge');
    return this.u32.slice(out >>> 2, (out >>> 2) + r);
  }

  without(a: Uint32Array, b: Uint32Array): Uint32Array {
    if (a.length === 0) return new Uint32Array(0);
    if (b.length === 0) return a.slice();
    const pa = this.base;
    const pb = align16(pa + a.length * 4);
    const out = align16(pb + b.length * 4);
    this.ensure(out + a.length * 4 + 32);
    const u = this.u32;
    u.set(a, pa >>> 2);
    u.set(b, pb >>> 2);
    const r = this.ex.without(pa, a.length, pb, b.length, out);
    return u.slice(out >>> 2, (out >>> 2) + r);
  }

  downsample(t: Float64Array, v: Float64Array, n: number, res: number): AggrSeries {
    if (!(res > 0) || !Number.isInteger(res)) throw new RangeError(`downsample: resolution must be a positive integer (ms), got ${res}`);
    if (!(n >= 0) || n > t.length || n > v.length) throw new RangeError(`downsample: n=${n} out of range`);
    if (n === 0) return emptyAggrSeries();
    const tPtr = this.base;
    const vPtr = tPtr + n * 8;
    const out = align16(vPtr + n * 8);
    this.ensure(out + 16 + 9 * 8 * n + 4 * (n + 1) + 16);
    const f = this.f64;
    f.set(n === t.length ? t : t.subarray(0, n), tPtr >>> 3);
    f.set(n === v.length ? v : v.subarray(0, n), vPtr >>> 3);
    this.ex.downsample(tPtr, vPtr, n, res, out);
    const w = this.u32[out >>> 2];
    const c = this.u32[(out >>> 2) + 1];
    const at = (i: number, len: number) => {
      const s = (out + 16) / 8 + i * n;
      return f.slice(s, s + len);
    };
    const startIdx = (out + 16 + 9 * 8 * n) >>> 2;
    return {
      n: w,
      t: at(0, w),
      // array 1 + AGGR_x is aggregate x (wasm/downsample.ts mirrors lib/core/aggr.ts's numbering)
      count: at(1 + AGGR_COUNT, w),
      sum: at(1 + AGGR_SUM, w),
      min: at(1 + AGGR_MIN, w),
      max: at(1 + AGGR_MAX, w),
      counter: at(1 + AGGR_COUNTER, w),
      chunks: c,
      chunkStart: this.u32.slice(startIdx, startIdx + c + 1),
      firstT: at(6, c),
      firstV: at(7, c),
      lastV: at(8, c),
    };
  }

  crc32cBatch(data: readonly Uint8Array[], crc: Uint32Array): void {
    const k = data.length;
    if (crc.length < k) throw new RangeError(`crc32cBatch: ${k} arrays but ${crc.length} CRCs`);
    if (k === 0) return;
    let bytes = 0;
    for (let i = 0; i < k; i++) bytes += data[i]!.length;
    // [desc: k (offset, length) u32 pairs][crc: k u32][data]
    const desc = this.base;
    const out = desc + k * 8;
    const input = align16(out + k * 4);
    this.ensure(input + bytes);
    this.putArrays(data, desc, input);
    const u32 = this.u32;
    u32.set(k === crc.length ? crc : crc.subarray(0, k), out >>> 2);
    this.ex.crc32cBatch(desc, k, out);
    crc.set(u32.subarray(out >>> 2, (out >>> 2) + k));
  }

  histogramEncode(h: HistogramSamples): Uint8Array {
    // the shape here; the numbers in the kernel (HERR_VALUE), whose refusal the twin then names
    const [P, N] = checkHistogramShape(h);
    const { n, layout: l } = h;
    const ps = l.positiveSpans;
    const ns = l.negativeSpans;
    const cv = l.customValues;
    // [desc][positive spans][negative spans][custom][t][count][zeroCount][sum][positive][negative][scratch][out]
    const d = this.base;
    const pS = d + HD_SIZE;
    const nS = align16(pS + ps.length * 4);
    const cV = align16(nS + ns.length * 4);
    const tP = align16(cV + cv.length * 8);
    const cP = tP + n * 8;
    const zP = cP + n * 8;
    const sP = zP + n * 8;
    const pP = sP + n * 8;
    const nP = pP + n * P * 8;
    const scratch = align16(nP + n * N * 8);
    const out = align16(scratch + (P + N + 3) * 16 + 16);
    const maxBytes = 56 + ((ps.length + ns.length) >> 1) * 18 + cv.length * 9 + n * (50 + 10 * (P + N));
    this.ensure(out + maxBytes + 16);
    const u = this.u32;
    const f = this.f64;
    const dw = d >>> 2;
    u[dw] = n;
    u[dw + 1] = h.float ? 1 : 0;
    u[dw + 2] = h.header;
    new Int32Array(u.buffer, d + 12, 1)[0] = l.schema;
    f[(d + 16) >>> 3] = l.zeroThreshold;
    u[dw + 6] = pS;
    u[dw + 7] = ps.length >> 1;
    u[dw + 8] = nS;
    u[dw + 9] = ns.length >> 1;
    u[dw + 10] = cV;
    u[dw + 11] = cv.length;
    u[dw + 12] = tP;
    u[dw + 13] = cP;
    u[dw + 14] = zP;
    u[dw + 15] = sP;
    u[dw + 16] = pP;
    u[dw + 17] = nP;
    u[dw + 18] = P;
    u[dw + 19] = N;
    u.set(new Uint32Array(ps.buffer, ps.byteOffset, ps.length), pS >>> 2);
    u.set(new Uint32Array(ns.buffer, ns.byteOffset, ns.length), nS >>> 2);
    f.set(cv, cV >>> 3);
    f.set(h.t.subarray(0, n), tP >>> 3);
    f.set(h.count.subarray(0, n), cP >>> 3);
    f.set(h.zeroCount.subarray(0, n), zP >>> 3);
    f.set(h.sum.subarray(0, n), sP >>> 3);
    f.set(h.positive.subarray(0, n * P), pP >>> 3);
    f.set(h.negative.subarray(0, n * N), nP >>> 3);
    const len = this.ex.histogramEncode(d, out, scratch);
    if (len < 0) {
      checkHistogramValues(h, P, N);
      throw new RangeError('histogramEncode: a timestamp or count is out of range');
    }
    return copyBytes(this.u8.subarray(out, out + len));
  }

  histogramDecode(chunk: Uint8Array, float: boolean): HistogramSamples {
    const len = chunk.length;
    const d = this.base;
    const inPtr = d + HD_SIZE;
    const arena = align16(inPtr + len + 16);
    this.ensure(arena);
    this.u8.set(chunk, inPtr);
    const r = this.ex.histogramDecode(inPtr, len, float ? 1 : 0, d, arena);
    this.refresh(); // the kernel may have grown memory for its outputs
    if (r < 0) {
      if (r === -9) {
        const schema = new Int32Array(this.u8.buffer, d + 12, 1)[0];
        throw new Error(`histogram chunk: schema ${schema} (reserved; reading it needs resolution reduction, not implemented)`);
      }
      throw new CorruptChunkError(`histogram chunk ${HIST_ERRORS[r] ?? `error ${r}`}`);
    }
    const u = this.u32;
    const f = this.f64;
    const dw = d >>> 2;
    const n = u[dw];
    const P = u[dw + 18];
    const N = u[dw + 19];
    const i32 = (p: number, k: number) => new Int32Array(this.u8.buffer.slice(p, p + k * 8));
    const f64 = (p: number, k: number) => f.slice(p >>> 3, (p >>> 3) + k);
    const schema = new Int32Array(this.u8.buffer, d + 12, 1)[0];
    const empty = new Float64Array(0);
    return {
      float,
      header: u[dw + 2],
      layout: {
        schema,
        zeroThreshold: f[(d + 16) >>> 3],
        positiveSpans: i32(u[dw + 6], u[dw + 7]),
        negativeSpans: i32(u[dw + 8], u[dw + 9]),
        customValues: u[dw + 11] > 0 ? f64(u[dw + 10], u[dw + 11]) : new Float64Array(0),
      },
      n,
      t: n ? f64(u[dw + 12], n) : empty,
      count: n ? f64(u[dw + 13], n) : empty,
      zeroCount: n ? f64(u[dw + 14], n) : empty,
      sum: n ? f64(u[dw + 15], n) : empty,
      positive: n ? f64(u[dw + 16], n * P) : empty,
      negative: n ? f64(u[dw + 17], n * N) : empty,
    };
  }
}

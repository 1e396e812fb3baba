// The TS twin's batch XOR calls (Core.xorDecodeBatch / xorEncodeBatch): the per-chunk codec over
// arrays the core reuses from call to call (grown by doubling, never shrunk), with the WASM
// backend's contract: a result is valid until the next call on the same core.
import { CorruptChunkError, type ChunkBatch, type SampleBatch } from '../types.ts';
import { checkBatchStarts, xorDecode, xorEncode } from './xor.ts';

const grown = (have: number, need: number): number => Math.max(need, have * 2, 64);

export class JsXorBatcher {
  private dec: SampleBatch = { t: new Float64Array(0), v: new Float64Array(0), n: 0, chunks: 0, start: new Uint32Array(0) };
  private enc: ChunkBatch = { bytes: new Uint8Array(0), chunks: 0, offset: new Uint32Array(0) };

  xorDecodeBatch(chunks: readonly Uint8Array[], maxt = Infinity): SampleBatch {
    const k = chunks.length;
    let total = 0;
    for (let i = 0; i < k; i++) {
      const c = chunks[i]!;
      if (c.length < 2) throw new CorruptChunkError(`xor chunk ${i}: too short: ${c.length} bytes`, i);
      total += (c[0]! << 8) | c[1]!;
    }
    const b = this.dec;
    if (b.t.length < total) {
      const cap = grown(b.t.length, total);
      b.t = new Float64Array(cap);
      b.v = new Float64Array(cap);
    }
    if (b.start.length < k + 1) b.start = new Uint32Array(grown(b.start.length, k + 1));
    let off = 0;
    for (let i = 0; i < k; i++) {
      b.start[i] = off;
      let r;
      try {
        r = xorDecode(chunks[i]!, { t: b.t.subarray(off), v: b.v.subarray(off), n: 0 }, maxt);
      } catch (e) {
        if (e instanceof CorruptChunkError) throw new CorruptChunkError(`xor chunk ${i}: ${e.message}`, i);
        throw e;
      }
      off += r.n;
    }
    b.start[k] = off;
    b.n = off;
    b.chunks = k;
    return b;
  }

  xorEncodeBatch(t: Float64Array, v: Float64Array, starts: ArrayLike<number>, n: number): ChunkBatch {
    checkBatchStarts(t, v, starts, n);
    const k = starts.length;
    const b = this.enc;
    if (b.offset.length < k + 1) b.offset = new Uint32Array(grown(b.offset.length, k + 1));
    let o = 0;
    for (let i = 0; i < k; i++) {
      const s = starts[i]!;
      const e = i + 1 < k ? starts[i + 1]! : n;
      let c: Uint8Array;
      try {
        c = xorEncode(t.subarray(s, e), v.subarray(s, e), e - s);
      } catch (err) {
        // name the bad timestamp by its index in t, not in the chunk
        const m = /^xorEncode: timestamp t\[(\d+)\]/.exec((err as Error).message);
        if (m) throw new RangeError(`xorEncode: timestamp t[${s + Number(m[1])}]=${t[s + Number(m[1])]} is not an integer millisecond within ±2^51`);
        throw err;
      }
      if (b.bytes.length < o + c.length) {
        const nb = new Uint8Array(grown(b.bytes.length, o + c.length));
        nb.set(b.bytes.subarray(0, o));
        b.bytes = nb;
      }
      b.offset[i] = o;
      b.bytes.set(c, o);
      o += c.length;
    }
    b.offset[k] = o;
    b.chunks = k;
    return b;
  }
}

// Small result arrays come out of shared slabs, like Node's Buffer pool: a typed array of more than
// 64 bytes gets its own external backing store in V8, and allocating (and later finalising) one per
// chunk costs more than encoding the chunk. A slab is dropped when full; it lives as long as any
// array cut from it, so a retained result pins at most one slab (8 KiB of bytes, 16 KiB of f64).
// Consequence for callers: `result.buffer` may be shared; use byteOffset/byteLength with it.

const BYTE_SLAB = 8192;
const BYTE_MAX = 2048;
let bytes = new Uint8Array(BYTE_SLAB);
let bytesOff = 0;

/** A zero-filled or scratch Uint8Array of `len` bytes (contents unspecified: caller overwrites). */
export function poolBytes(len: number): Uint8Array {
  if (len > BYTE_MAX) return new Uint8Array(len);
  if (bytesOff + len > BYTE_SLAB) {
    bytes = new Uint8Array(BYTE_SLAB);
    bytesOff = 0;
  }
  const r = bytes.subarray(bytesOff, bytesOff + len);
  bytesOff = (bytesOff + len + 7) & ~7;
  return r;
}

/** A copy of src in pooled memory. */
export function copyBytes(src: Uint8Array): Uint8Array {
  const r = poolBytes(src.length);
  r.set(src);
  return r;
}

const F64_SLAB = 2048;
const F64_MAX = 256;
let f64 = new Float64Array(F64_SLAB);
let f64Off = 0;

/** A Float64Array of n entries (contents unspecified: caller overwrites). */
export function poolF64(n: number): Float64Array {
  if (n > F64_MAX) return new Float64Array(n);
  if (f64Off + n > F64_SLAB) {
    f64 = new Float64Array(F64_SLAB);
    f64Off = 0;
  }
  const r = f64.subarray(f64Off, f64Off + n);
  f64Off += n;
  return r;
}

export function copyF64(src: Float64Array): Float64Array {
  const r = poolF64(src.length);
  r.set(src);
  return r;
}

// Snappy block-format compression (not the framed format): the elements lib/remote/snappy.ts's
// compressInto writes, byte for byte (that TypeScript function is the twin and the oracle of the
// tests). Blocks of 64 KiB; per block a 16K-slot table of the last position of each 4-byte hash;
// a match is extended 8, then 4, then 1 byte at a time (the same longest match as the twin's 4 and 1).
//
// Memory (laid out by the host): src [src, src + n) followed by at least 8 readable bytes; dst with
// room for maxCompressedLength(n) = 32 + n + n / 6 bytes plus 8 (short literals are copied 8 bytes a
// step and may write up to 7 bytes past their end, which the next element or the slack takes);
// table: SNAPPY_TABLE_BYTES of scratch.

const HASH_BITS: u32 = 14;
const BLOCK_SIZE: i32 = 65536;
const INPUT_MARGIN: i32 = 15;
const MIN_BLOCK_FOR_MATCHING: i32 = 1 + 1 + INPUT_MARGIN;

/** Scratch bytes snappyCompress needs at `table`. */
export const SNAPPY_TABLE_BYTES: i32 = 2 << HASH_BITS;

// @ts-ignore: decorator
@inline function hash32(x: u32): u32 {
  return (x * 0x1e35a7bd) >> (32 - HASH_BITS);
}

// @ts-ignore: decorator
@inline function emitLiteral(p: usize, src: usize, from: i32, to: i32): usize {
  const n = to - from - 1;
  if (n < 60) {
    store<u8>(p++, <u8>(n << 2));
  } else if (n < 0x100) {
    store<u8>(p++, 60 << 2);
    store<u8>(p++, <u8>n);
  } else if (n < 0x10000) {
    store<u8>(p++, 61 << 2);
    store<u16>(p, <u16>n);
    p += 2;
  } else if (n < 0x1000000) {
    store<u8>(p++, 62 << 2);
    store<u16>(p, <u16>n);
    store<u8>(p + 2, <u8>(n >>> 16));
    p += 3;
  } else {
    store<u8>(p++, 63 << 2);
    store<u32>(p, <u32>n);
    p += 4;
  }
  const len = to - from;
  if (len <= 32) {
    // most literals are short: 8 bytes a step (memory.copy is a call per element)
    const s = src + <usize>from;
    for (let k = 0; k < len; k += 8) store<u64>(p + <usize>k, load<u64>(s + <usize>k));
  } else {
    memory.copy(p, src + <usize>from, <usize>len);
  }
  return p + <usize>len;
}

// @ts-ignore: decorator
@inline function copy2(p: usize, offset: i32, length: i32): usize {
  store<u8>(p, <u8>(((length - 1) << 2) | 2));
  store<u16>(p + 1, <u16>offset);
  return p + 3;
}

// @ts-ignore: decorator
@inline function emitCopy(p: usize, offset: i32, length: i32): usize {
  while (length >= 68) {
    p = copy2(p, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    p = copy2(p, offset, 60);
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) return copy2(p, offset, length);
  store<u8>(p, <u8>(((offset >>> 8) << 5) | ((length - 4) << 2) | 1));
  store<u8>(p + 1, <u8>offset);
  return p + 2;
}

function compressBlock(src: usize, start: i32, end: i32, p: usize, table: usize): usize {
  if (end - start < MIN_BLOCK_FOR_MATCHING) return emitLiteral(p, src, start, end);
  memory.fill(table, 0, <usize>SNAPPY_TABLE_BYTES);
  const limit = end - INPUT_MARGIN;
  let lit = start; // next byte not yet emitted
  let i = start + 1;
  store<u16>(table + (<usize>hash32(load<u32>(src + <usize>start)) << 1), 0);
  while (i < limit) {
    const cur = load<u32>(src + <usize>i);
    const slot = table + (<usize>hash32(cur) << 1);
    const cand = start + <i32>load<u16>(slot);
    store<u16>(slot, <u16>(i - start));
    if (cand < i && load<u32>(src + <usize>cand) == cur) {
      if (lit < i) p = emitLiteral(p, src, lit, i);
      let m = 4;
      const max = end - i;
      while (m + 8 <= max && load<u64>(src + <usize>(cand + m)) == load<u64>(src + <usize>(i + m))) m += 8;
      while (m + 4 <= max && load<u32>(src + <usize>(cand + m)) == load<u32>(src + <usize>(i + m))) m += 4;
      while (m < max && load<u8>(src + <usize>(cand + m)) == load<u8>(src + <usize>(i + m))) m++;
      p = emitCopy(p, i - cand, m);
      i += m;
      lit = i;
      if (i < limit) store<u16>(table + (<usize>hash32(load<u32>(src + <usize>(i - 1))) << 1), <u16>(i - 1 - start));
      continue;
    }
    // skip faster through incompressible data
    i += 1 + ((i - lit) >>> 5);
  }
  if (lit < end) p = emitLiteral(p, src, lit, end);
  return p;
}

/** Compresses src[0, n) into dst (see the layout above); returns the bytes written. */
export function snappyCompress(src: usize, n: i32, dst: usize, table: usize): i32 {
  let p = dst;
  let x = <u32>n;
  do {
    store<u8>(p++, <u8>(x > 0x7f ? (x & 0x7f) | 0x80 : x));
    x >>>= 7;
  } while (x > 0);
  for (let s = 0; s < n; s += BLOCK_SIZE) p = compressBlock(src, s, min(n, s + BLOCK_SIZE), p, table);
  return <i32>(p - dst);
}

/**
 * Decodes the elements of src[s, end) into dst[0, n) (the block's length header, at src[0, s), is
 * checked by the host): 0, or -1 when the input is malformed (an element past the input or the
 * declared length, a copy from before the output's start, fewer bytes than declared); the host then
 * runs the TS twin (lib/remote/snappy.ts decompress) for its error. The validation is the twin's.
 * Memory: 8 readable bytes after src[end) and 8 writable bytes after dst[n) (literals and copies
 * move 8 bytes a step where that much room is left; lengths are read 4 bytes at a time).
 */
export function snappyDecode(src: usize, s: i32, end: i32, dst: usize, n: i32): i32 {
  let d: i32 = 0;
  while (s < end) {
    const tag = <u32>load<u8>(src + <usize>s);
    let length: i32;
    let offset: u32;
    const kind = tag & 3;
    if (kind == 0) {
      let x: u32 = tag >>> 2;
      if (x < 60) {
        s += 1;
      } else {
        const nb = <i32>x - 59;
        if (s + 1 + nb > end) return -1;
        x = load<u32>(src + <usize>(s + 1)) & (<u32>0xffffffff >>> <u32>(32 - 8 * nb));
        s += 1 + nb;
      }
      // length x + 1 past the input or the declared length
      if (x >= <u32>(end - s) || x >= <u32>(n - d)) return -1;
      length = <i32>x + 1;
      if (length <= 64 && d + length + 8 <= n && s + length + 8 <= end) {
        for (let k = 0; k < length; k += 8) store<u64>(dst + <usize>(d + k), load<u64>(src + <usize>(s + k)));
      } else {
        memory.copy(dst + <usize>d, src + <usize>s, <usize>length);
      }
      s += length;
      d += length;
      continue;
    }
    if (kind == 1) {
      if (s + 2 > end) return -1;
      length = 4 + <i32>((tag >>> 2) & 7);
      offset = ((tag & 0xe0) << 3) | <u32>load<u8>(src + <usize>(s + 1));
      s += 2;
    } else if (kind == 2) {
      if (s + 3 > end) return -1;
      length = 1 + <i32>(tag >>> 2);
      offset = <u32>load<u16>(src + <usize>(s + 1));
      s += 3;
    } else {
      if (s + 5 > end) return -1;
      length = 1 + <i32>(tag >>> 2);
      offset = load<u32>(src + <usize>(s + 1));
      s += 5;
    }
    if (offset == 0 || offset > <u32>d || length > n - d) return -1;
    let from = d - <i32>offset;
    if (offset >= 8 && d + length + 8 <= n) {
      // 8 bytes a step read only bytes already final (offset >= 8), overlapping copies included
      for (let k = 0; k < length; k += 8) store<u64>(dst + <usize>(d + k), load<u64>(dst + <usize>(from + k)));
      d += length;
    } else {
      for (let k = 0; k < length; k++) store<u8>(dst + <usize>(d++), load<u8>(dst + <usize>(from++)));
    }
  }
  return d == n ? 0 : -1;
}

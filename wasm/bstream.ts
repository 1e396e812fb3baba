// Bit stream primitives (Prometheus tsdb/chunkenc/bstream.go): bits MSB-first within a byte.
// Reads take a bit position and the caller's bound check; the host pads every input with at least
// 8 zero bytes, so a 64-bit load at any in-bounds bit position stays inside memory it owns.

/** Stores x big-endian at p. */
// @ts-ignore: decorator
@inline export function storeBe64(p: usize, x: u64): void {
  store<u64>(p, bswap<u64>(x));
}

/** 64 bits starting at bit `pos` of the stream at `base`, left-aligned; the low (pos & 7) bits are 0. */
// @ts-ignore: decorator
@inline export function peek64(base: usize, pos: usize): u64 {
  return bswap<u64>(load<u64>(base + (pos >> 3))) << (<u64>(pos & 7));
}

/** n (1..56) bits at bit `pos`, as an unsigned number. */
// @ts-ignore: decorator
@inline export function readSmall(base: usize, pos: usize, n: u32): u64 {
  return peek64(base, pos) >> (<u64>(64 - n));
}

/** n (1..64) bits at bit `pos`. */
// @ts-ignore: decorator
@inline export function readBits(base: usize, pos: usize, n: u32): u64 {
  if (n <= 56) return readSmall(base, pos, n);
  const hi = readSmall(base, pos, n - 32);
  const lo = readSmall(base, pos + n - 32, 32);
  return (hi << 32) | lo;
}

// Writer state: `acc` holds `fill` pending bits, left-aligned; full words go out big-endian.
export let wPtr: usize = 0;
let acc: u64 = 0;
let fill: u32 = 0;

export function writerStart(p: usize): void {
  wPtr = p;
  acc = 0;
  fill = 0;
}

/** Writes the n (1..64) low bits of x (x must have no bits above n). */
// @ts-ignore: decorator
@inline export function writeBits(x: u64, n: u32): void {
  const free: u32 = 64 - fill;
  if (n < free) {
    acc |= x << (<u64>(free - n));
    fill += n;
  } else {
    const rem = n - free;
    acc |= x >> (<u64>rem);
    store<u64>(wPtr, bswap<u64>(acc));
    wPtr += 8;
    fill = rem;
    acc = rem == 0 ? 0 : x << (<u64>(64 - rem));
  }
}

/** The writer's pending bits and their count, for a kernel that keeps them in locals in a hot loop. */
// @ts-ignore: decorator
@inline export function writerAcc(): u64 {
  return acc;
}
// @ts-ignore: decorator
@inline export function writerFill(): u32 {
  return fill;
}
/** Hands the writer state back after such a loop. */
// @ts-ignore: decorator
@inline export function writerSet(p: usize, a: u64, f: u32): void {
  wPtr = p;
  acc = a;
  fill = f;
}

/** True when the bits written so far end on a byte boundary. */
export function writerAligned(): bool {
  return (fill & 7) == 0;
}

/** Flushes the pending bits (zero padded to a byte); returns the end pointer. */
export function writerFinish(): usize {
  let p = wPtr;
  let a = acc;
  let f = fill;
  while (f > 0) {
    store<u8>(p, <u8>(a >> 56));
    p++;
    a <<= 8;
    f = f > 8 ? f - 8 : 0;
  }
  wPtr = p;
  acc = 0;
  fill = 0;
  return p;
}

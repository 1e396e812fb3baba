// Postings kernels over sorted, duplicate-free u32 lists (series references).
// Lists are described by (ptr, len) u32 pairs; outputs need 4 spare u32 slots (SIMD stores).
import { arenaAlloc, arenaReset } from './arena';

/** Above this length ratio intersect/without gallop through the longer list. */
export const GALLOP_RATIO: u32 = 32;

// i8x16.swizzle masks that pack the u32 lanes selected by a 4-bit mask to the front.
const COMPRESS = memory.data<u8>([
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128,
  8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128,
  12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128,
  8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
]);

// @ts-ignore: decorator
@inline function at(p: usize, i: u32): u32 {
  return load<u32>(p + ((<usize>i) << 2));
}

/** First index >= lo with b[index] >= x. */
function gallop(b: usize, nb: u32, lo: u32, x: u32): u32 {
  let step: u32 = 1;
  let hi = lo;
  while (hi < nb && at(b, hi) < x) {
    lo = hi + 1;
    hi += step;
    step <<= 1;
  }
  if (hi > nb) hi = nb;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at(b, mid) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function intersectGallop(a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  let k: u32 = 0;
  let j: u32 = 0;
  for (let i: u32 = 0; i < na; i++) {
    const x = at(a, i);
    j = gallop(b, nb, j, x);
    if (j >= nb) break;
    if (at(b, j) == x) {
      store<u32>(out + ((<usize>k) << 2), x);
      k++;
    }
  }
  return k;
}

function intersectMerge(a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  let i: u32 = 0;
  let j: u32 = 0;
  let k: u32 = 0;
  // SIMD block step: compare 4 of a with all 4 rotations of 4 of b.
  if (na >= 4 && nb >= 4) {
    const na4 = na - 4;
    const nb4 = nb - 4;
    while (i <= na4 && j <= nb4) {
      const va = v128.load(a + ((<usize>i) << 2));
      const vb = v128.load(b + ((<usize>j) << 2));
      const r1 = i32x4.shuffle(vb, vb, 1, 2, 3, 0);
      const r2 = i32x4.shuffle(vb, vb, 2, 3, 0, 1);
      const r3 = i32x4.shuffle(vb, vb, 3, 0, 1, 2);
      const m = v128.or(v128.or(i32x4.eq(va, vb), i32x4.eq(va, r1)), v128.or(i32x4.eq(va, r2), i32x4.eq(va, r3)));
      const mask = i32x4.bitmask(m);
      const packed = i8x16.swizzle(va, v128.load(COMPRESS + ((<usize>mask) << 4)));
      v128.store(out + ((<usize>k) << 2), packed);
      k += <u32>popcnt<i32>(mask);
      const amax = at(a, i + 3);
      const bmax = at(b, j + 3);
      i += (<u32>(amax <= bmax)) << 2;
      j += (<u32>(bmax <= amax)) << 2;
    }
  }
  while (i < na && j < nb) {
    const x = at(a, i);
    const y = at(b, j);
    store<u32>(out + ((<usize>k) << 2), x);
    k += <u32>(x == y);
    i += <u32>(x <= y);
    j += <u32>(y <= x);
  }
  return k;
}

// @ts-ignore: decorator
@inline function intersect2(a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  if (na > nb) {
    const tp = a;
    a = b;
    b = tp;
    const tn = na;
    na = nb;
    nb = tn;
  }
  if (na == 0) return 0;
  if (nb / na > GALLOP_RATIO) return intersectGallop(a, na, b, nb, out);
  return intersectMerge(a, na, b, nb, out);
}

// Sorts the k (ptr, len) descriptors by len, ascending (k is small: insertion sort).
function sortDesc(desc: usize, k: u32): void {
  for (let i: u32 = 1; i < k; i++) {
    const p = load<u32>(desc + ((<usize>i) << 3));
    const l = load<u32>(desc + ((<usize>i) << 3) + 4);
    let j = i;
    while (j > 0 && load<u32>(desc + ((<usize>(j - 1)) << 3) + 4) > l) {
      store<u64>(desc + ((<usize>j) << 3), load<u64>(desc + ((<usize>(j - 1)) << 3)));
      j--;
    }
    store<u32>(desc + ((<usize>j) << 3), p);
    store<u32>(desc + ((<usize>j) << 3) + 4, l);
  }
}

/**
 * Intersection of k lists described at `desc`; writes to `out` (room: shortest length + 4) and
 * uses scratch from the arena starting at `scratch`. Returns the count (or -1 if memory ran out).
 */
export function intersect(desc: usize, k: u32, out: usize, scratch: usize): i32 {
  if (k == 0) return 0;
  sortDesc(desc, k);
  let cur = <usize>load<u32>(desc);
  let n = load<u32>(desc + 4);
  if (k == 1) {
    memory.copy(out, cur, (<usize>n) << 2);
    return <i32>n;
  }
  let other: usize = out;
  if (k > 2) {
    arenaReset(scratch);
    other = arenaAlloc(((<usize>n) << 2) + 16);
    if (other == 0) return -1;
  }
  // ping-pong so that the last intersection lands in out
  let dst: usize = ((k - 1) & 1) ? out : other;
  for (let i: u32 = 1; i < k && n > 0; i++) {
    const p = <usize>load<u32>(desc + ((<usize>i) << 3));
    const l = load<u32>(desc + ((<usize>i) << 3) + 4);
    n = intersect2(cur, n, p, l, dst);
    cur = dst;
    dst = dst == out ? other : out;
  }
  if (cur != out) memory.copy(out, cur, (<usize>n) << 2);
  return <i32>n;
}

function merge2(a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  let i: u32 = 0;
  let j: u32 = 0;
  let k: u32 = 0;
  let last: i64 = -1;
  while (i < na && j < nb) {
    const x = at(a, i);
    const y = at(b, j);
    const z = x < y ? x : y;
    store<u32>(out + ((<usize>k) << 2), z);
    k += <u32>(<i64>z != last);
    last = <i64>z;
    i += <u32>(x <= y);
    j += <u32>(y <= x);
  }
  while (i < na) {
    const z = at(a, i++);
    store<u32>(out + ((<usize>k) << 2), z);
    k += <u32>(<i64>z != last);
    last = <i64>z;
  }
  while (j < nb) {
    const z = at(b, j++);
    store<u32>(out + ((<usize>k) << 2), z);
    k += <u32>(<i64>z != last);
    last = <i64>z;
  }
  return k;
}

/**
 * Union of k lists described at `desc` (the descriptors are overwritten). Writes to `out`
 * (room: total length + 4); takes scratch from the arena at `scratch`. Returns the count or -1.
 */
export function merge(desc: usize, k: u32, out: usize, scratch: usize): i32 {
  if (k == 0) return 0;
  let total: usize = 0;
  for (let i: u32 = 0; i < k; i++) total += <usize>load<u32>(desc + ((<usize>i) << 3) + 4);
  if (k == 1) {
    return <i32>merge2(<usize>load<u32>(desc), load<u32>(desc + 4), 0, 0, out);
  }
  if (k == 2) {
    return <i32>merge2(<usize>load<u32>(desc), load<u32>(desc + 4), <usize>load<u32>(desc + 8), load<u32>(desc + 12), out);
  }
  arenaReset(scratch);
  const bufA = arenaAlloc((total << 2) + 16);
  const bufB = arenaAlloc((total << 2) + 16);
  if (bufA == 0 || bufB == 0) return -1;
  let region = bufA;
  let m = k;
  while (m > 2) {
    let w: usize = region;
    let o: u32 = 0;
    let i: u32 = 0;
    for (; i + 1 < m; i += 2) {
      const pa = <usize>load<u32>(desc + ((<usize>i) << 3));
      const la = load<u32>(desc + ((<usize>i) << 3) + 4);
      const pb = <usize>load<u32>(desc + ((<usize>(i + 1)) << 3));
      const lb = load<u32>(desc + ((<usize>(i + 1)) << 3) + 4);
      const c = merge2(pa, la, pb, lb, w);
      store<u32>(desc + ((<usize>o) << 3), <u32>w);
      store<u32>(desc + ((<usize>o) << 3) + 4, c);
      w += (<usize>c) << 2;
      o++;
    }
    if (i < m) {
      // carry the odd list into this level's region so the next level may reuse the other one
      const pa = <usize>load<u32>(desc + ((<usize>i) << 3));
      const la = load<u32>(desc + ((<usize>i) << 3) + 4);
      memory.copy(w, pa, (<usize>la) << 2);
      store<u32>(desc + ((<usize>o) << 3), <u32>w);
      store<u32>(desc + ((<usize>o) << 3) + 4, la);
      o++;
    }
    m = o;
    region = region == bufA ? bufB : bufA;
  }
  return <i32>merge2(<usize>load<u32>(desc), load<u32>(desc + 4), <usize>load<u32>(desc + 8), load<u32>(desc + 12), out);
}

/** a minus b; out needs room for na + 4. */
export function without(a: usize, na: u32, b: usize, nb: u32, out: usize): i32 {
  let k: u32 = 0;
  if (na > 0 && nb / na > GALLOP_RATIO) {
    let j: u32 = 0;
    for (let i: u32 = 0; i < na; i++) {
      const x = at(a, i);
      j = gallop(b, nb, j, x);
      if (j >= nb || at(b, j) != x) {
        store<u32>(out + ((<usize>k) << 2), x);
        k++;
      }
    }
    return <i32>k;
  }
  let i: u32 = 0;
  let j: u32 = 0;
  while (i < na && j < nb) {
    const x = at(a, i);
    const y = at(b, j);
    store<u32>(out + ((<usize>k) << 2), x);
    k += <u32>(x < y);
    i += <u32>(x <= y);
    j += <u32>(y <= x);
  }
  while (i < na) {
    store<u32>(out + ((<usize>k) << 2), at(a, i++));
    k++;
  }
  return <i32>k;
}

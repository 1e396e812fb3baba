// Pure-TS twin of the postings kernels: sorted u32 series references.
const EMPTY = new Uint32Array(0);
/** Above this size ratio intersect/without gallop through the longer list instead of a linear merge. */
export const GALLOP_RATIO = 32;

/** First index i >= lo with b[i] >= x (b sorted), exponential then binary search. */
function gallop(b: Uint32Array, lo: number, x: number): number {
  const n = b.length;
  let step = 1;
  let hi = lo;
  while (hi < n && b[hi] < x) {
    lo = hi + 1;
    hi += step;
    step <<= 1;
  }
  if (hi > n) hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (b[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function intersect2(a: Uint32Array, b: Uint32Array, out: Uint32Array): number {
  // a is the shorter list
  let k = 0;
  if (b.length > GALLOP_RATIO * a.length) {
    let j = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      j = gallop(b, j, x);
      if (j >= b.length) break;
      if (b[j] === x) out[k++] = x;
    }
    return k;
  }
  let i = 0;
  let j = 0;
  const na = a.length;
  const nb = b.length;
  while (i < na && j < nb) {
    const x = a[i];
    const y = b[j];
    if (x < y) i++;
    else if (x > y) j++;
    else {
      out[k++] = x;
      i++;
      j++;
    }
  }
  return k;
}

export function intersect(lists: readonly Uint32Array[]): Uint32Array {
  if (lists.length === 0) return EMPTY.slice();
  if (lists.length === 1) return lists[0].slice();
  const sorted = [...lists].sort((x, y) => x.length - y.length);
  let cur = sorted[0];
  let buf = new Uint32Array(cur.length);
  for (let i = 1; i < sorted.length && cur.length > 0; i++) {
    const k = intersect2(cur, sorted[i], buf);
    cur = buf.subarray(0, k);
    // reuse buf in place: intersect2 writes at k <= read index, so aliasing cur and out is safe
  }
  return cur.slice();
}

function merge2(a: Uint32Array, b: Uint32Array, out: Uint32Array): number {
  let i = 0;
  let j = 0;
  let k = 0;
  const na = a.length;
  const nb = b.length;
  let last = -1;
  while (i < na && j < nb) {
    const x = a[i];
    const y = b[j];
    let z: number;
    if (x < y) {
      z = x;
      i++;
    } else if (x > y) {
      z = y;
      j++;
    } else {
      z = x;
      i++;
      j++;
    }
    if (z !== last) out[k++] = last = z;
  }
  while (i < na) {
    const z = a[i++];
    if (z !== last) out[k++] = last = z;
  }
  while (j < nb) {
    const z = b[j++];
    if (z !== last) out[k++] = last = z;
  }
  return k;
}

function dedup(a: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  let k = 0;
  let last = -1;
  for (let i = 0; i < a.length; i++) {
    const z = a[i];
    if (z !== last) out[k++] = last = z;
  }
  return out.slice(0, k);
}

export function merge(lists: readonly Uint32Array[]): Uint32Array {
  if (lists.length === 0) return EMPTY.slice();
  if (lists.length === 1) return dedup(lists[0]);
  // pairwise merge tree: O(N log k)
  let level: Uint32Array[] = [...lists];
  while (level.length > 1) {
    const next: Uint32Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      const a = level[i];
      const b = level[i + 1];
      const out = new Uint32Array(a.length + b.length);
      next.push(out.subarray(0, merge2(a, b, out)));
    }
    if (level.length & 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0].slice();
}

export function without(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  let k = 0;
  const na = a.length;
  const nb = b.length;
  let j = 0;
  if (nb > GALLOP_RATIO * na) {
    for (let i = 0; i < na; i++) {
      const x = a[i];
      j = gallop(b, j, x);
      if (j >= nb || b[j] !== x) out[k++] = x;
    }
    return out.slice(0, k);
  }
  for (let i = 0; i < na; i++) {
    const x = a[i];
    while (j < nb && b[j] < x) j++;
    if (j >= nb || b[j] !== x) out[k++] = x;
  }
  return out.slice(0, k);
}

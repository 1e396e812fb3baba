// XXH64 (seed 0), the hash Thanos's hashrings use (github.com/cespare/xxhash/v2 Sum64): the ring
// must put a series on the same receiver as a Go Thanos router would, so the exact function matters.
// BigInt arithmetic mod 2^64; input is processed in 8-byte little-endian lanes. Vectors checked
// against the reference C library in test/receive/hashring.test.ts.
const M = (x: bigint) => BigInt.asUintN(64, x);
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

const rotl = (x: bigint, r: bigint) => M((x << r) | (x >> (64n - r)));
const round = (acc: bigint, lane: bigint) => M(rotl(M(acc + M(lane * P2)), 31n) * P1);
const merge = (acc: bigint, v: bigint) => M(M((acc ^ round(0n, v)) * P1) + P4);

/** XXH64 of `b` with seed 0, as an unsigned 64-bit bigint. */
export function xxhash64(b: Uint8Array): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length;
  let p = 0;
  let h: bigint;
  if (n >= 32) {
    let v1 = M(P1 + P2);
    let v2 = P2;
    let v3 = 0n;
    let v4 = M(-P1);
    for (; p + 32 <= n; p += 32) {
      v1 = round(v1, dv.getBigUint64(p, true));
      v2 = round(v2, dv.getBigUint64(p + 8, true));
      v3 = round(v3, dv.getBigUint64(p + 16, true));
      v4 = round(v4, dv.getBigUint64(p + 24, true));
    }
    h = M(rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n));
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = P5;
  }
  h = M(h + BigInt(n));
  for (; p + 8 <= n; p += 8) {
    h ^= round(0n, dv.getBigUint64(p, true));
    h = M(M(rotl(h, 27n) * P1) + P4);
  }
  if (p + 4 <= n) {
    h ^= M(BigInt(dv.getUint32(p, true)) * P1);
    h = M(M(rotl(h, 23n) * P2) + P3);
    p += 4;
  }
  for (; p < n; p++) {
    h ^= M(BigInt(b[p]!) * P5);
    h = M(rotl(h, 11n) * P1);
  }
  h ^= h >> 33n;
  h = M(h * P2);
  h ^= h >> 29n;
  h = M(h * P3);
  h ^= h >> 32n;
  return h;
}

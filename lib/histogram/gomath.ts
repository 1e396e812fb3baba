// Go's math.Log, Log2 and Exp2 (amd64, the platform Prometheus's answers come from), operation by
// operation, so that histogram_quantile/histogram_fraction give the same float64 as Prometheus:
// JS engines are free to compute Math.log2/Math.pow(2, x) differently in the last bit, and Go's
// Log2 is not the correctly rounded one either. Go's algorithms are FreeBSD's msun (fdlibm) ones.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer); // little-endian: u32[1] holds sign, exponent, high mantissa

/** Go math.Frexp: x = frac × 2^exp with |frac| in [0.5, 1). */
export function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  let exp = 0;
  if (Math.abs(x) < 2.2250738585072014e-308) {
    x *= 2 ** 52; // normalise a subnormal
    exp = -52;
  }
  f64[0] = x;
  exp += ((u32[1]! >>> 20) & 0x7ff) - 1022;
  u32[1] = (u32[1]! & 0x800fffff) | 0x3fe00000;
  return [f64[0]!, exp];
}

const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const L1 = 6.666666666666735130e-1;
const L2 = 3.999999999940941908e-1;
const L3 = 2.857142874366239149e-1;
const L4 = 2.222219843214978396e-1;
const L5 = 1.818357216161805012e-1;
const L6 = 1.531383769920937332e-1;
const L7 = 1.479819860511658591e-1;

/** Go math.Log. */
export function goLog(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x < 0) return NaN;
  if (x === 0) return -Infinity;
  let [f1, ki] = frexp(x);
  if (f1 < Math.SQRT2 / 2) {
    f1 *= 2;
    ki--;
  }
  const f = f1 - 1;
  const k = ki;
  const s = f / (2 + f);
  const s2 = s * s;
  const s4 = s2 * s2;
  const t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
  const t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
  const R = t1 + t2;
  const hfsq = 0.5 * f * f;
  return k * LN2_HI - (hfsq - (s * (hfsq + R) + k * LN2_LO) - f);
}

/** Go math.Log2: exact for powers of two, else Log(frac)·(1/Ln2) + exp. */
export function goLog2(x: number): number {
  const [frac, exp] = frexp(x);
  if (frac === 0.5) return exp - 1;
  return goLog(frac) * Math.LOG2E + exp;
}

const P1 = 1.66666666666666657415e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.65339022054652515390e-6;
const P5 = 4.13813679705723846039e-8;

// 2^e for every normal exponent e (-1022..1023), exact: a lookup instead of Math.pow, which is
// the hot spot of bucket-bound computation.
const POW2 = new Float64Array(2046);
for (let e = -1022, v = 2 ** -1022; e <= 1023; e++, v *= 2) POW2[e + 1022] = v;

/** Go math.Ldexp: frac × 2^exp, rounded once. */
export function ldexp(frac: number, exp: number): number {
  if (exp >= -1022 && exp <= 1023) return frac * POW2[exp + 1022]!;
  if (frac === 0 || !Number.isFinite(frac)) return frac;
  if (exp > 1023) return exp > 2100 ? frac * Infinity : frac * 2 ** 1023 * 2 ** (exp - 1023);
  return exp < -2200 ? frac * 0 : frac * 2 ** (exp + 200) * 2 ** -200;
}

/** Go math.Exp2. */
export function goExp2(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x > 1.0239999999999999e3) return Infinity;
  if (x < -1.074e3) return 0;
  const k = x > 0 ? Math.trunc(x + 0.5) : x < 0 ? Math.trunc(x - 0.5) : 0;
  const t = x - k;
  const hi = t * LN2_HI;
  const lo = -t * LN2_LO;
  const r = hi - lo;
  const tt = r * r;
  const c = r - tt * (P1 + tt * (P2 + tt * (P3 + tt * (P4 + tt * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  return ldexp(y, k);
}

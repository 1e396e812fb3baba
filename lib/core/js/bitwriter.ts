// The bit writer of the pure-TS chunk codecs (XOR and histogram): bits MSB first into a reusable
// byte buffer, the way Prometheus's bstream writes them. No BigInt: 64-bit quantities travel as
// two u32 halves.
import { copyBytes } from '../pool.ts';

// f64 -> two u32 halves (little-endian hosts, as the codecs assume).
const cf = new Float64Array(1);
const cu = new Uint32Array(cf.buffer);

export class BitWriter {
  buf: Uint8Array;
  pos = 0; // next byte to fill
  acc = 0; // pending bits (fewer than 8)
  fill = 0; // how many pending bits
  constructor(size = 4096) {
    this.buf = new Uint8Array(size);
  }
  reset(size: number): void {
    if (this.buf.length < size) this.buf = new Uint8Array(Math.max(size, this.buf.length * 2));
    this.pos = 0;
    this.acc = 0;
    this.fill = 0;
  }
  /** Writes the n (0..32) low bits of x, MSB first. */
  bits(x: number, n: number): void {
    while (n > 0) {
      const room = 8 - this.fill;
      if (n >= room) {
        n -= room;
        this.buf[this.pos++] = (this.acc << room) | ((x >>> n) & ((1 << room) - 1));
        this.acc = 0;
        this.fill = 0;
      } else {
        this.acc = (this.acc << n) | (x & ((1 << n) - 1));
        this.fill += n;
        n = 0;
      }
    }
  }
  bit(b: number): void {
    this.acc = (this.acc << 1) | b;
    if (++this.fill === 8) {
      this.buf[this.pos++] = this.acc;
      this.acc = 0;
      this.fill = 0;
    }
  }
  /** n (0..64) low bits of the 64-bit value hi:lo. */
  bits64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.bits(hi, n - 32);
      this.bits(lo, 32);
    } else this.bits(lo, n);
  }
  /** The 64 bits of a float64. */
  f64(x: number): void {
    cf[0] = x;
    this.bits(cu[1]!, 32);
    this.bits(cu[0]!, 32);
  }
  /** The bytes written, the last one zero padded (no spare 0x00 after a byte-aligned end). */
  finish(): Uint8Array {
    if (this.fill > 0) {
      this.buf[this.pos++] = this.acc << (8 - this.fill);
      this.acc = 0;
      this.fill = 0;
    }
    return copyBytes(this.buf.subarray(0, this.pos));
  }
}

const TWO32 = 4294967296;

/** The two's complement halves `splitInt64` last produced (module state: no allocation per call). */
export const int64 = { hi: 0, lo: 0 };

/** Two's complement halves of an integer-valued f64 (|x| < 2^64), into `int64`. */
export function splitInt64(x: number): void {
  const neg = x < 0;
  const y = neg ? -x : x;
  let lo = y % TWO32;
  let hi = ((y - lo) / TWO32) % TWO32;
  lo >>>= 0;
  hi >>>= 0;
  if (neg) {
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    lo = (~lo + 1) >>> 0;
  }
  int64.hi = hi;
  int64.lo = lo;
}

// MD5 (RFC 1321), pure TypeScript (WebCrypto has no MD5; plugins have no node:crypto). The one MD5
// of the code base: S3 Content-MD5 and the SSE-C key digest, Swift ETags, Prometheus' hashmod
// relabel action, index-cache keys. Not used for anything security-relevant. Only the tail block
// is copied for padding, so hashing a large upload body does not duplicate it.

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;
const G = new Uint8Array(64);
for (let i = 0; i < 64; i++) G[i] = i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16;

function blocks(state: Int32Array, data: Uint8Array, off: number, end: number, m: Int32Array): void {
  for (; off + 64 <= end; off += 64) {
    for (let j = 0; j < 16; j++) {
      const p = off + j * 4;
      m[j] = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24);
    }
    let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
    for (let i = 0; i < 64; i++) {
      let f: number;
      if (i < 16) f = (b & c) | (~b & d);
      else if (i < 32) f = (d & b) | (~d & c);
      else if (i < 48) f = b ^ c ^ d;
      else f = c ^ (b | ~d);
      f = (f + a + K[i]! + m[G[i]!]!) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((f << S[i]!) | (f >>> (32 - S[i]!)))) | 0;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + b) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
  }
}

export function md5(data: Uint8Array): Uint8Array {
  const state = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
  const m = new Int32Array(16);
  const full = data.length - (data.length % 64);
  blocks(state, data, 0, full, m);
  const restLen = data.length - full;
  const tail = new Uint8Array(restLen < 56 ? 64 : 128);
  tail.set(data.subarray(full));
  tail[restLen] = 0x80;
  const bits = data.length * 8;
  const lenAt = tail.length - 8;
  const lo = bits >>> 0;
  const hi = Math.floor(bits / 2 ** 32) >>> 0;
  for (let i = 0; i < 4; i++) {
    tail[lenAt + i] = (lo >>> (8 * i)) & 0xff;
    tail[lenAt + 4 + i] = (hi >>> (8 * i)) & 0xff;
  }
  blocks(state, tail, 0, tail.length, m);
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = state[i]!;
    out[i * 4] = w & 0xff;
    out[i * 4 + 1] = (w >>> 8) & 0xff;
    out[i * 4 + 2] = (w >>> 16) & 0xff;
    out[i * 4 + 3] = (w >>> 24) & 0xff;
  }
  return out;
}

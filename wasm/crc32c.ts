// CRC32-C (Castagnoli), slicing-by-16, over many byte ranges in one call: the store gateway checks
// every chunk it fetches (a GET's chunks are verified together). The pure-TS twin is
// lib/core/js/crc32c.ts (same tables, same results).

// Sixteen 256-entry u32 tables (16 KiB): table k holds the CRC of a byte followed by k zero bytes.
const T: usize = memory.data(16 * 256 * 4, 16);

function fillTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(T + ((<usize>i) << 2), c);
  }
  for (let k: u32 = 1; k < 16; k++) {
    for (let i: u32 = 0; i < 256; i++) {
      const prev = load<u32>(T + ((<usize>((k - 1) * 256 + i)) << 2));
      store<u32>(T + ((<usize>(k * 256 + i)) << 2), (prev >>> 8) ^ load<u32>(T + ((<usize>(prev & 0xff)) << 2)));
    }
  }
}
fillTables();

// @ts-ignore: decorator
@inline function tab(k: u32, b: u32): u32 {
  return load<u32>(T + (((<usize>k) << 10) | ((<usize>b) << 2)));
}

/** Continues a CRC32-C (crc: the previous result, or 0) over [p, end). */
export function crc32cRange(p: usize, end: usize, crc: u32): u32 {
  let c = ~crc;
  // byte j of a 16-byte step goes through table 15-j (little-endian words)
  while (end - p >= 16) {
    const a = c ^ load<u32>(p);
    const b = load<u32>(p, 4);
    const d = load<u32>(p, 8);
    const e = load<u32>(p, 12);
    c = tab(15, a & 0xff) ^ tab(14, (a >>> 8) & 0xff) ^ tab(13, (a >>> 16) & 0xff) ^ tab(12, a >>> 24) ^
      tab(11, b & 0xff) ^ tab(10, (b >>> 8) & 0xff) ^ tab(9, (b >>> 16) & 0xff) ^ tab(8, b >>> 24) ^
      tab(7, d & 0xff) ^ tab(6, (d >>> 8) & 0xff) ^ tab(5, (d >>> 16) & 0xff) ^ tab(4, d >>> 24) ^
      tab(3, e & 0xff) ^ tab(2, (e >>> 8) & 0xff) ^ tab(1, (e >>> 16) & 0xff) ^ tab(0, e >>> 24);
    p += 16;
  }
  while (p < end) {
    c = tab(0, (c ^ <u32>load<u8>(p)) & 0xff) ^ (c >>> 8);
    p++;
  }
  return ~c;
}

/**
 * k ranges at desc as (offset, length) u32 pairs; crc holds k u32: each range's CRC continues from
 * crc[i] (the CRC of the bytes before it, 0 to start) and replaces it.
 */
export function crc32cBatch(desc: usize, k: i32, crc: usize): void {
  for (let i = 0; i < k; i++) {
    const d = desc + ((<usize>i) << 3);
    const p = <usize>load<u32>(d);
    const q = crc + ((<usize>i) << 2);
    store<u32>(q, crc32cRange(p, p + <usize>load<u32>(d, 4), load<u32>(q)));
  }
}

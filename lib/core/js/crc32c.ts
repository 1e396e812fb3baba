// CRC32-C (Castagnoli), slicing-by-16: the pure-TS twin of wasm/crc32c.ts (Core.crc32cBatch) and
// the checksum of the TSDB formats (chunks, index, WAL, tombstones; lib/tsdb/encoding.ts re-exports it).
// Sixteen 256-entry tables in one flat Int32Array (16 KiB, stays in L1): one typed-array object for
// V8 to bounds-check instead of eight, and 16 bytes per step. About 2× the slicing-by-8 over eight
// Uint32Arrays it replaces (1.5 GB/s; compaction verifies every chunk it reads).
const CRC_TABLE: Int32Array = (() => {
  const poly = 0x82f63b78;
  const t = new Int32Array(16 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c;
  }
  for (let k = 1; k < 16; k++) for (let i = 0; i < 256; i++) t[k * 256 + i] = (t[(k - 1) * 256 + i]! >>> 8) ^ t[t[(k - 1) * 256 + i]! & 0xff]!;
  return t;
})();

/** Continues a CRC32-C over b[start, end); pass the previous result (or 0) as crc. */
export function crc32c(b: Uint8Array, start = 0, end = b.length, crc = 0): number {
  const t = CRC_TABLE;
  let c = ~crc;
  let i = start;
  // table k*256 holds the CRC of a byte followed by k zero bytes: byte j of a 16-byte step uses table 15-j
  while (end - i >= 16) {
    const a = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    c = t[3840 + (a & 0xff)]! ^ t[3584 + ((a >>> 8) & 0xff)]! ^ t[3328 + ((a >>> 16) & 0xff)]! ^ t[3072 + (a >>> 24)]! ^
      t[2816 + b[i + 4]!]! ^ t[2560 + b[i + 5]!]! ^ t[2304 + b[i + 6]!]! ^ t[2048 + b[i + 7]!]! ^
      t[1792 + b[i + 8]!]! ^ t[1536 + b[i + 9]!]! ^ t[1280 + b[i + 10]!]! ^ t[1024 + b[i + 11]!]! ^
      t[768 + b[i + 12]!]! ^ t[512 + b[i + 13]!]! ^ t[256 + b[i + 14]!]! ^ t[b[i + 15]!]!;
    i += 16;
  }
  while (i < end) c = t[(c ^ b[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Core.crc32cBatch of the TS backend: crc[i] becomes the CRC32-C of data[i] continued from crc[i]. */
export function crc32cBatch(data: readonly Uint8Array[], crc: Uint32Array): void {
  if (crc.length < data.length) throw new RangeError(`crc32cBatch: ${data.length} arrays but ${crc.length} CRCs`);
  for (let i = 0; i < data.length; i++) crc[i] = crc32c(data[i]!, 0, data[i]!.length, crc[i]!);
}

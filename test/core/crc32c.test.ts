// Core.crc32cBatch: the WASM kernel (wasm/crc32c.ts) and the TS twin (lib/core/js/crc32c.ts) against
// the RFC 3720 vectors, a bit-at-a-time reference, every chunk record of a Prometheus 2.42 block
// (its stored CRCs), and each other on random data of every length 0..300 and at odd offsets.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, type Core } from '../../lib/core/mod.ts';
import { rng } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

/** The definition: reflected polynomial 0x82F63B78, one bit at a time. */
function bitwise(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

function both(data: Uint8Array[], seeds?: number[]): [Uint32Array, Uint32Array] {
  const a = new Uint32Array(data.length);
  const b = new Uint32Array(data.length);
  if (seeds) { a.set(seeds); b.set(seeds); }
  wasm.crc32cBatch(data, a);
  js.crc32cBatch(data, b);
  return [a, b];
}

test('RFC 3720 B.4 vectors and "123456789"', () => {
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
  const cases: Array<[Uint8Array, number]> = [
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [ascending, 0x46dd794e],
    [descending, 0x113fdb5c],
    [new TextEncoder().encode('123456789'), 0xe3069283],
    [new Uint8Array(0), 0],
  ];
  const [w, j] = both(cases.map((c) => c[0]));
  cases.forEach(([b, want], i) => {
    assert.is(bitwise(b), want, `reference, case ${i}`);
    assert.is(w[i], want, `wasm, case ${i}`);
    assert.is(j[i], want, `js, case ${i}`);
  });
});

test('every chunk record of a Prometheus 2.42 block matches its stored CRC', () => {
  const seg = readFileSync(new URL('../tsdb/fixtures/histogram-block-242/01M979KV986ZT3MDTY05B8JANC/chunks/000001', import.meta.url));
  const records: Uint8Array[] = [];
  const stored: number[] = [];
  let p = 8; // magic, version, padding
  while (p < seg.length) {
    let len = 0;
    let s = 1;
    let c: number;
    do { c = seg[p++]!; len += (c & 0x7f) * s; s *= 128; } while (c >= 0x80);
    records.push(seg.subarray(p, p + 1 + len)); // encoding byte + data: what the CRC covers
    stored.push(seg.readUInt32BE(p + 1 + len));
    p += 1 + len + 4;
  }
  assert.ok(records.length >= 10, `${records.length} records`);
  const [w, j] = both(records);
  assert.equal([...w], stored);
  assert.equal([...j], stored);
  // continued from the encoding byte's CRC (how the store gateway checks a chunk's data view)
  const [w2] = both(records.map((r) => r.subarray(1)), records.map((r) => bitwise(r.subarray(0, 1))));
  assert.equal([...w2], stored);
});

test('wasm and js agree on random data of every length 0..300, at odd offsets, with seeds', () => {
  const r = rng(18);
  const big = Uint8Array.from({ length: 1 << 16 }, () => Math.floor(r() * 256));
  const data: Uint8Array[] = [];
  const seeds: number[] = [];
  for (let len = 0; len <= 300; len++) {
    const off = Math.floor(r() * (big.length - len));
    data.push(big.subarray(off, off + len));
    seeds.push(len % 3 === 0 ? 0 : Math.floor(r() * 2 ** 32));
  }
  const [w, j] = both(data, seeds);
  for (let i = 0; i < data.length; i++) {
    assert.is(j[i], bitwise(data[i]!, seeds[i]), `js, length ${i}`);
    assert.is(w[i], j[i], `wasm vs js, length ${i}`);
  }
  // large batches (memory grows), and a call after them reuses the arena
  const many = Array.from({ length: 5000 }, () => { const off = Math.floor(r() * 60000); return big.subarray(off, off + 1 + Math.floor(r() * 5000)); });
  const [wm, jm] = both(many);
  assert.equal([...wm], [...jm]);
  const [w3, j3] = both([big]);
  assert.is(w3[0], j3[0]);
  assert.is(w3[0], bitwise(big));
});

test('crc shorter than data is refused; an empty batch is a no-op', () => {
  for (const c of [wasm, js]) {
    assert.throws(() => c.crc32cBatch([new Uint8Array(1), new Uint8Array(2)], new Uint32Array(1)), /2 arrays but 1 CRCs/, c.backend);
    const crc = Uint32Array.of(7);
    c.crc32cBatch([], crc);
    assert.is(crc[0], 7);
  }
});

test.run();

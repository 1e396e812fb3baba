// Golden: XOR chunks written by Prometheus 3.14 (test/core/fixtures/xor-3x, from
// /work/shared/golden/xor-3x). Every one ends its bitstream on a byte boundary, where Prometheus
// 2.42 left one spare 0x00 byte (bstream.writeByte, fixed upstream in 3.0 by PR 14854) and 3.x does
// not. Both encoders must give 3.x's bytes exactly; both decoders must accept 3.x's bytes and
// 2.42's (the same plus 0x00).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createCore, createJsCore, CorruptChunkError, type Core } from '../../lib/core/mod.ts';
import { hex, samplesEqual, xorCases } from './helpers.ts';

interface Golden {
  dataset: string;
  index: number;
  samples: [number, number][];
  chunk_hex_prometheus_3_14: string;
}

const golden = JSON.parse(readFileSync(new URL('./fixtures/xor-3x/chunks.json', import.meta.url), 'utf8')) as Golden[];
let wasm: Core;
const js = createJsCore();

test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

function unhex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function samplesOf(g: Golden) {
  const n = g.samples.length;
  return { t: Float64Array.from(g.samples, (s) => s[0]), v: Float64Array.from(g.samples, (s) => s[1]), n };
}

test('fixture: 12 chunks of 120 samples, three datasets', () => {
  assert.is(golden.length, 12);
  assert.equal([...new Set(golden.map((g) => g.dataset))].sort(), ['counter', 'counter_frac', 'gauge_random']);
  for (const g of golden) {
    assert.is(g.samples.length, 120);
    const b = unhex(g.chunk_hex_prometheus_3_14);
    assert.is((b[0]! << 8) | b[1]!, 120, `${g.dataset}#${g.index} header`);
  }
});

test('encode == Prometheus 3.14 bytes exactly (no spare trailing 0x00), both backends', () => {
  for (const g of golden) {
    const s = samplesOf(g);
    for (const core of [js, wasm]) {
      const got = core.xorEncode(s.t, s.v, s.n);
      assert.is(hex(got), g.chunk_hex_prometheus_3_14, `${core.backend} ${g.dataset}#${g.index}`);
    }
  }
});

test('decode accepts the 3.14 bytes and the 2.42 form (+ one 0x00), both backends', () => {
  for (const g of golden) {
    const want = samplesOf(g);
    const b3 = unhex(g.chunk_hex_prometheus_3_14);
    const b2 = new Uint8Array(b3.length + 1);
    b2.set(b3);
    for (const core of [js, wasm]) {
      for (const [form, bytes] of [['3.14', b3], ['2.42', b2]] as const) {
        assert.is(samplesEqual(core.xorDecode(bytes), want), null, `${core.backend} ${form} ${g.dataset}#${g.index}`);
      }
    }
  }
});

test('known bytes: a 1-sample chunk ends with its value (2.42 added a 0x00)', () => {
  // 0001 | varint(1000) = d0 0f | 3ff0000000000000 (1.0); Prometheus 2.42: the same then 00
  for (const core of [js, wasm]) {
    assert.is(hex(core.xorEncode(Float64Array.of(1000), Float64Array.of(1), 1)), '0001d00f3ff0000000000000', core.backend);
  }
});

test('no chunk carries a spare byte: without its last byte every chunk is truncated', () => {
  let checked = 0;
  for (const c of xorCases(3)) {
    if (c.n > 5000) continue; // keep it quick; the shape does not depend on size
    for (const core of [js, wasm]) {
      const b = core.xorEncode(c.t, c.v, c.n);
      assert.throws(() => core.xorDecode(b.subarray(0, b.length - 1)), (e: unknown) => e instanceof CorruptChunkError, `${core.backend} ${c.name}: last byte is spare`);
      checked++;
    }
  }
  assert.ok(checked > 100);
});

test.run();

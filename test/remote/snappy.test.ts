import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compress, compressInto, decompress, maxCompressedLength, SnappyError } from '../../lib/remote/snappy.ts';

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

const isSnappy = (re?: RegExp) => (e: unknown) => e instanceof SnappyError && (!re || re.test((e as Error).message));

test('round trips: empty, tiny, text, random, repetitive, multi-block', () => {
  const r = rng(7);
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([1]),
    new TextEncoder().encode('hello hello hello hello hello hello hello'),
    Uint8Array.from({ length: 100_000 }, () => Math.floor(r() * 256)),
    new Uint8Array(300_000).fill(0xab),
    Uint8Array.from({ length: 1_000_000 }, (_, i) => (i % 251) ^ (i >> 12)),
    new TextEncoder().encode('{__name__="http_requests_total", job="api", instance="10.0.0.1:8080"} '.repeat(5000)),
  ];
  for (const x of inputs) {
    const c = compress(x);
    assert.ok(c.length <= maxCompressedLength(x.length));
    const d = decompress(c);
    assert.is(d.length, x.length);
    assert.ok(d.every((v, i) => v === x[i]));
  }
  // compressible data actually compresses
  assert.ok(compress(inputs[4]!).length < 20_000);
  assert.ok(compress(inputs[6]!).length < inputs[6]!.length / 10);
});

test('compressInto writes what compress returns at an offset of a reused buffer, and refuses a short one', () => {
  const r = rng(11);
  const dst = new Uint8Array(maxCompressedLength(200_000) + 9).fill(0xee);
  for (const src of [new Uint8Array(0), Uint8Array.from({ length: 200_000 }, (_, i) => (i % 97 === 0 ? Math.floor(r() * 256) : i & 0x3f)), new Uint8Array(70_000).fill(3)]) {
    const end = compressInto(src, dst, 9);
    assert.equal(dst.subarray(9, end), compress(src));
    assert.equal(decompress(dst.subarray(9, end)), src);
  }
  assert.equal([...dst.subarray(0, 9)], new Array(9).fill(0xee), 'bytes before the offset untouched');
  assert.throws(() => compressInto(new Uint8Array(100), new Uint8Array(50), 0), (e: unknown) => e instanceof RangeError);
});

test('decompress into a caller\'s buffer: a view of it when it is large enough, a new buffer otherwise; overlapping copies of every offset below 8', () => {
  const r = rng(5);
  const src = Uint8Array.from({ length: 150_000 }, (_, i) => (i % 1000 < 500 ? Math.floor(r() * 256) : i % (1 + ((i >> 10) % 9))));
  const c = compress(src);
  const into = new Uint8Array(200_000).fill(0x55);
  const d = decompress(c, { into });
  assert.ok(d.buffer === into.buffer && d.length === src.length);
  assert.equal(d, src);
  const small = new Uint8Array(10);
  const d2 = decompress(c, { into: small });
  assert.ok(d2.buffer !== small.buffer);
  assert.equal(d2, src);
  // "abcdefg" then copies of offsets 1..7 and lengths 1..64 (overlapping: repeat the last bytes), at
  // the end of the output and with room after it (the 8-byte steps and the byte loop)
  for (let offset = 1; offset <= 7; offset++) {
    for (const length of [1, 5, 8, 9, 17, 64]) {
      for (const tail of [0, 20]) {
        const want = [...'abcdefg'].map((ch) => ch.charCodeAt(0));
        for (let k = 0; k < length; k++) want.push(want[want.length - offset]!);
        for (let k = 0; k < tail; k++) want.push(k);
        const body = [7 - 1 << 2, ...want.slice(0, 7), ((length - 1) << 2) | 2, offset, 0];
        if (tail > 0) body.push((tail - 1) << 2, ...want.slice(7 + length));
        const stream = new Uint8Array([want.length, ...body]);
        assert.equal([...decompress(stream)], want, `offset ${offset} length ${length} tail ${tail}`);
      }
    }
  }
});

test('decodes hand-made streams with every element kind (spec vectors)', () => {
  // "abcd" literal, then copy-1 (offset 4, len 8) -> "abcdabcdabcd"
  assert.equal([...decompress(new Uint8Array([12, 3 << 2, 97, 98, 99, 100, ((8 - 4) << 2) | 1, 4]))], [...new TextEncoder().encode('abcdabcdabcd')]);
  // copy-2: "ab" then offset 2 len 6 (overlapping) -> "abababab"
  assert.equal(new TextDecoder().decode(decompress(new Uint8Array([8, 1 << 2, 97, 98, ((6 - 1) << 2) | 2, 2, 0]))), 'abababab');
  // copy-4: same with a 4-byte offset
  assert.equal(new TextDecoder().decode(decompress(new Uint8Array([8, 1 << 2, 97, 98, ((6 - 1) << 2) | 3, 2, 0, 0, 0]))), 'abababab');
  // literal with a 1-byte length (tag 60): 61 bytes
  const lit = new Uint8Array(2 + 1 + 61);
  lit[0] = 61;
  lit[1] = 60 << 2;
  lit[2] = 60;
  lit.fill(7, 3);
  assert.is(decompress(lit).length, 61);
  // literal with a 2-byte length (tag 61): 300 bytes
  const lit2 = new Uint8Array(2 + 3 + 300);
  lit2[0] = 0xac;
  lit2[1] = 2; // 300 as uvarint
  lit2[2] = 61 << 2;
  lit2[3] = 299 & 0xff;
  lit2[4] = 299 >> 8;
  assert.is(decompress(lit2).length, 300);
});

test('malformed input: clear errors, never out-of-bounds', () => {
  assert.throws(() => decompress(new Uint8Array([])), isSnappy(/truncated length/));
  assert.throws(() => decompress(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), isSnappy(/longer than 5 bytes/));
  assert.throws(() => decompress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f])), isSnappy(/exceeds/));
  assert.throws(() => decompress(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 0])), isSnappy(/limit|impossible/));
  assert.throws(() => decompress(new Uint8Array([0x80, 0x80, 0x40, 0, 1, 2])), isSnappy(/impossible/));
  // literal longer than the input
  assert.throws(() => decompress(new Uint8Array([5, 4 << 2, 1, 2])), isSnappy(/past the end of the input/));
  // literal longer than the declared output
  assert.throws(() => decompress(new Uint8Array([1, 1 << 2, 1, 2])), isSnappy(/overflows the declared length/));
  // truncated extended literal length
  assert.throws(() => decompress(new Uint8Array([100, 61 << 2, 1])), isSnappy(/truncated literal length/));
  // copy with offset 0, and offset beyond what was written
  assert.throws(() => decompress(new Uint8Array([8, 1 << 2, 97, 98, ((6 - 1) << 2) | 2, 0, 0])), isSnappy(/offset 0/));
  assert.throws(() => decompress(new Uint8Array([8, 1 << 2, 97, 98, ((6 - 1) << 2) | 2, 3, 0])), isSnappy(/offset 3 points before/));
  assert.throws(() => decompress(new Uint8Array([8, ((6 - 1) << 2) | 3, 1, 0, 0, 0])), isSnappy(/points before/));
  // copy past the declared length
  assert.throws(() => decompress(new Uint8Array([4, 1 << 2, 97, 98, ((6 - 1) << 2) | 2, 2, 0])), isSnappy(/overflows/));
  // truncated copies
  assert.throws(() => decompress(new Uint8Array([8, 1 << 2, 97, 98, 1])), isSnappy(/truncated copy \(1-byte/));
  assert.throws(() => decompress(new Uint8Array([8, 1 << 2, 97, 98, 2, 1])), isSnappy(/truncated copy \(2-byte/));
  assert.throws(() => decompress(new Uint8Array([8, 1 << 2, 97, 98, 3, 1, 0])), isSnappy(/truncated copy \(4-byte/));
  // declared longer than produced
  assert.throws(() => decompress(new Uint8Array([9, 1 << 2, 97, 98])), isSnappy(/declared 9/));
  // every truncation and every single-byte corruption of a real stream: SnappyError or a correct-length output
  const src = new TextEncoder().encode('metric{a="b"} 1 1700000000000\n'.repeat(200));
  const c = compress(src);
  for (let n = 0; n < c.length; n++) assert.throws(() => decompress(c.subarray(0, n)), isSnappy(), `prefix ${n}`);
  for (let i = 0; i < c.length; i++) {
    for (const x of [0x01, 0x80, 0xff]) {
      const bad = c.slice();
      bad[i] = bad[i]! ^ x;
      try {
        const d = decompress(bad);
        assert.ok(d.length > 0);
      } catch (e) {
        assert.ok(e instanceof SnappyError, `byte ${i}: ${e}`);
      }
    }
  }
  // maxDecodedBytes option
  assert.throws(() => decompress(compress(new Uint8Array(1000)), { maxDecodedBytes: 999 }), isSnappy(/limit of 999/));
});

test.run();

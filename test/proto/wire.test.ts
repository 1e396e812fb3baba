import { test } from 'uvu';
import * as assert from 'uvu/assert';
import protobuf from 'protobufjs';
import { ProtobufError, Reader, Writer, decodeMessage, nested, sizeInt64, sizeString, utf8Length } from '../../lib/proto/wire.ts';

const isPb = (re?: RegExp) => (e: unknown) => e instanceof ProtobufError && (!re || re.test((e as Error).message));

test('int64 varints agree with protobufjs, including negatives and MaxInt64', () => {
  const values = [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35 + 7, 1700000000123, 2 ** 53 - 1, -1, -2, -128, -1700000000123, -(2 ** 53) + 1, -9223372036854775808];
  for (const v of values) {
    const w = new Writer(4);
    w.int64(v);
    const ours = w.finish();
    const pw = protobuf.Writer.create();
    pw.int64(v);
    assert.equal(Array.from(ours), Array.from(pw.finish()), `int64 ${v}`);
    assert.is(sizeInt64(v), ours.length, `size ${v}`);
    assert.is(new Reader(ours).int64(), v);
  }
  const w = new Writer();
  w.int64(9223372036854775807);
  const pw = protobuf.Writer.create();
  pw.int64('9223372036854775807');
  assert.equal(Array.from(w.finish()), Array.from(pw.finish()));
  assert.is(new Reader(pw.finish()).int64(), 9223372036854775807);
});

test('sint32/sint64 zigzag, uint64, doubles, bools agree with protobufjs', () => {
  for (const v of [0, 1, -1, 2, -2, 1000, -1000, 2 ** 31 - 1, -(2 ** 31)]) {
    const w = new Writer();
    w.sint32(v);
    const pw = protobuf.Writer.create();
    pw.sint32(v);
    assert.equal(Array.from(w.finish()), Array.from(pw.finish()));
    assert.is(new Reader(w.finish()).sint32(), v);
  }
  for (const v of [0, 1, -1, 63, -64, 2 ** 40, -(2 ** 40), 2 ** 52, -(2 ** 52)]) {
    const w = new Writer();
    w.sint64(v);
    const pw = protobuf.Writer.create();
    pw.sint64(v);
    assert.equal(Array.from(w.finish()), Array.from(pw.finish()), `sint64 ${v}`);
    assert.is(new Reader(w.finish()).sint64(), v, `sint64 ${v}`);
  }
  const w = new Writer();
  w.uint64(0xfedcba9876543210n);
  const pw = protobuf.Writer.create();
  pw.uint64('18364758544493064720');
  assert.equal(Array.from(w.finish()), Array.from(pw.finish()));
  assert.is(new Reader(w.finish()).uint64Big(), 0xfedcba9876543210n);
  for (const d of [0, -0, 1.5, -3.25e300, NaN, Infinity, -Infinity, 5e-324]) {
    const w2 = new Writer();
    w2.double(d);
    assert.ok(Object.is(new Reader(w2.finish()).double(), d));
  }
});

test('sint64 at the int64 extremes: doubles at or past ±2^63 are MinInt64/MaxInt64 zigzagged (was -1 for -2^63)', () => {
  const hex = (v: number) => {
    const w = new Writer(4);
    w.sint64(v);
    return Buffer.from(w.finish()).toString('hex');
  };
  assert.is(hex(-(2 ** 63)), 'ffffffffffffffffff01'); // zigzag(MinInt64) = 2^64-1
  assert.is(hex(-(2 ** 64)), 'ffffffffffffffffff01');
  assert.is(hex(2 ** 63), 'feffffffffffffffff01'); // zigzag(MaxInt64) = 2^64-2
  assert.is(hex(Infinity), 'feffffffffffffffff01');
  assert.is(new Reader(Buffer.from('ffffffffffffffffff01', 'hex')).sint64(), -(2 ** 63));
  assert.is(new Reader(Buffer.from('feffffffffffffffff01', 'hex')).sint64(), 2 ** 63);
});

test('strings: ASCII fast path, multi-byte, surrogate pairs, long strings', () => {
  const cases = ['', 'a', 'job', 'ü', '日本語', '😀x', 'x'.repeat(42), 'é'.repeat(42), 'y'.repeat(200), '€'.repeat(100), '\ud800lone'];
  for (const s of cases) {
    const w = new Writer(1);
    w.string(s);
    const out = w.finish();
    const expected = new TextEncoder().encode(s);
    assert.is(utf8Length(s), expected.length, `len ${s}`);
    assert.is(sizeString(s), out.length);
    const r = new Reader(out);
    const back = r.string();
    assert.is(back, new TextDecoder().decode(expected));
  }
});

test('short ASCII strings through the intern table: repeats, same-length neighbours and slot collisions decode as written', () => {
  // Many distinct strings of equal length (1-3 characters differ) share the table's slots: every
  // one must come back as itself, first time and again, interleaved with repeats of common ones.
  const words: string[] = ['', '__name__', 'job', 'instance', 'x_total'];
  for (let i = 0; i < 40_000; i++) words.push(`inst-${i}`, `j${i % 97}`, String.fromCharCode(33 + (i % 90), 33 + ((i * 7) % 90)));
  words.push('x'.repeat(32), 'x'.repeat(31) + 'y', 'x'.repeat(33));
  const w = new Writer(1024);
  for (const s of words) w.string(s);
  for (const s of words) w.string(s);
  const r = new Reader(w.finish());
  for (let round = 0; round < 2; round++) for (let i = 0; i < words.length; i++) assert.is(r.string(), words[i], `round ${round} string ${i}`);
});

test('fork/ldelim shifts bodies longer than 127 bytes', () => {
  for (const n of [0, 1, 127, 128, 16383, 16384, 300000]) {
    const w = new Writer(8);
    w.byte(0x0a);
    const at = w.fork();
    w.raw(new Uint8Array(n).fill(7));
    w.ldelim(at);
    w.byte(0x10);
    w.byte(1);
    const r = new Reader(w.finish());
    assert.is(r.tag(), 0x0a);
    const b = r.bytes();
    assert.is(b.length, n);
    assert.ok(b.every((x) => x === 7));
    assert.is(r.tag(), 0x10);
    assert.is(r.uint32(), 1);
    assert.ok(r.done);
  }
});

test('malformed input: truncated varints, oversized lengths, bad wire types, 11-byte varints', () => {
  assert.throws(() => new Reader(new Uint8Array([0x80])).int64(), isPb(/truncated varint/));
  assert.throws(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).int64(), isPb(/longer than 10 bytes/));
  assert.throws(() => new Reader(new Uint8Array([0x05, 1, 2])).bytes(), isPb(/exceeds/));
  assert.throws(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f])).bytes(), isPb(/exceeds|too large/));
  assert.throws(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).bytes(), isPb(/too large/));
  assert.throws(() => new Reader(new Uint8Array([1, 2, 3])).double(), isPb(/truncated fixed64/));
  assert.throws(() => new Reader(new Uint8Array([0x0f])).skip(7), isPb(/invalid wire type/));
  assert.throws(() => new Reader(new Uint8Array([0x00])).tag(), isPb(/field number 0/));
  // a nested message whose field runs past the nested length but not past the buffer
  const buf = new Uint8Array([0x0a, 0x01, 0x08, 0x01]);
  assert.throws(
    () =>
      decodeMessage(buf, (r) => {
        r.tag();
        nested(r, (rr) => {
          rr.tag();
          return rr.int64();
        });
      }),
    isPb(/truncated/),
  );
  // unterminated group
  assert.throws(() => new Reader(new Uint8Array([0x08, 0x01])).skip(3), isPb(/truncated group/));
  // trailing garbage detection via decodeMessage
  assert.throws(() => decodeMessage(new Uint8Array([0x08, 0x01]), (r) => r.tag()), isPb(/trailing/));
});

test.run();

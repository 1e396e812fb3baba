// Properties of the bucket algebra on random histograms (seeded, deterministic): add/sub agree with
// a per-index reference sum after merging to the lower schema, results are valid layouts, compact
// keeps every populated bucket and is idempotent, copyToSchema preserves totals. These reach span
// shapes (zero-length and adjacent spans, gaps, leading/trailing empties) the tables do not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FloatHistogram, type BucketSpan } from '../../lib/histogram/float.ts';
import { targetIdx } from '../../lib/histogram/buckets.ts';

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSide(r: () => number): { spans: BucketSpan[]; buckets: number[] } {
  const spans: BucketSpan[] = [];
  const buckets: number[] = [];
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) {
    // First offset may be negative; later ones 0 (adjacent) or a gap. Zero-length spans happen, but
    // not first: Prometheus's addBuckets adds into the first bucket when the first span's offset
    // equals the index even if that span is empty, and we keep its behaviour (Compact never leaves
    // such a span, and no producer writes one).
    const offset = i === 0 ? Math.floor(r() * 20) - 10 : Math.floor(r() * 4);
    const length = i === 0 ? 1 + Math.floor(r() * 4) : Math.floor(r() * 5);
    spans.push({ offset, length });
    for (let j = 0; j < length; j++) buckets.push(r() < 0.25 ? 0 : Math.floor(r() * 10));
  }
  return { spans, buckets };
}

function randomHistogram(r: () => number, schema: number): FloatHistogram {
  const p = randomSide(r);
  const n = randomSide(r);
  const total = [...p.buckets, ...n.buckets].reduce((a, b) => a + b, 0);
  return new FloatHistogram({
    schema, count: total, sum: Math.floor(r() * 100),
    positiveSpans: p.spans, positiveBuckets: p.buckets, negativeSpans: n.spans, negativeBuckets: n.buckets,
  });
}

/** index → count of one side, merged into targetSchema, empty buckets left out. */
function byIndex(spans: readonly BucketSpan[], buckets: readonly number[], schema: number, target: number, sign = 1, into = new Map<number, number>()): Map<number, number> {
  let idx = 0;
  let k = 0;
  for (const s of spans) {
    idx += s.offset;
    for (let j = 0; j < s.length; j++, idx++, k++) {
      const t = targetIdx(idx, schema, target);
      into.set(t, (into.get(t) ?? 0) + sign * buckets[k]!);
    }
  }
  for (const [i, c] of into) if (c === 0) into.delete(i);
  return into;
}

const sorted = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]);

test('add/sub equal the per-index sum in the lower schema; layouts stay valid; the argument is untouched', () => {
  const r = rng(17);
  for (let i = 0; i < 3000; i++) {
    const a = randomHistogram(r, Math.floor(r() * 4));
    const b = randomHistogram(r, Math.floor(r() * 4));
    const op = r() < 0.5 ? 'add' : 'sub';
    const target = Math.min(a.schema, b.schema);
    const sign = op === 'add' ? 1 : -1;
    const wantPos = byIndex(b.positiveSpans, b.positiveBuckets, b.schema, target, sign, byIndex(a.positiveSpans, a.positiveBuckets, a.schema, target));
    const wantNeg = byIndex(b.negativeSpans, b.negativeBuckets, b.schema, target, sign, byIndex(a.negativeSpans, a.negativeBuckets, a.schema, target));
    const bBefore = JSON.stringify(b);
    const res = a.copy();
    res[op](b);
    const what = `case ${i}: a=${JSON.stringify(a)} ${op} b=${JSON.stringify(b)}`;
    assert.is(JSON.stringify(b), bBefore, `${what}: argument mutated`);
    assert.is(res.schema, target, what);
    for (const side of ['positive', 'negative'] as const) {
      const spans = res[`${side}Spans`];
      const n = spans.reduce((x, s) => x + s.length, 0);
      assert.is(n, res[`${side}Buckets`].length, `${what}: ${side} spans do not fit buckets`);
      spans.forEach((s, k) => assert.ok(k === 0 || s.offset >= 0, `${what}: negative offset`));
    }
    assert.equal(sorted(byIndex(res.positiveSpans, res.positiveBuckets, target, target)), sorted(wantPos), `${what}: positive`);
    assert.equal(sorted(byIndex(res.negativeSpans, res.negativeBuckets, target, target)), sorted(wantNeg), `${what}: negative`);
    assert.is(res.count, op === 'add' ? a.count + b.count : a.count - b.count, what);
  }
});

test('compact(n): same populated buckets, no empty bucket at a span edge, idempotent', () => {
  const r = rng(4242);
  for (let i = 0; i < 3000; i++) {
    const h = randomHistogram(r, 0);
    const maxEmpty = Math.floor(r() * 3);
    const c = h.copy().compact(maxEmpty);
    const what = `case ${i}: ${JSON.stringify(h.positiveSpans)} ${JSON.stringify(h.positiveBuckets)} compact(${maxEmpty})`;
    assert.equal(sorted(byIndex(c.positiveSpans, c.positiveBuckets, 0, 0)), sorted(byIndex(h.positiveSpans, h.positiveBuckets, 0, 0)), what);
    let k = 0;
    c.positiveSpans.forEach((s, si) => {
      assert.ok(s.length > 0, `${what}: empty span`);
      assert.ok(si === 0 || s.offset > maxEmpty, `${what}: spans ${maxEmpty} or fewer apart not merged`);
      assert.ok(c.positiveBuckets[k] !== 0 && c.positiveBuckets[k + s.length - 1] !== 0, `${what}: empty bucket at a span edge`);
      k += s.length;
    });
    assert.is(JSON.stringify(c.copy().compact(maxEmpty)), JSON.stringify(c), `${what}: not idempotent`);
  }
});

test('copyToSchema keeps every count; detectReset: none against itself, one after a schema increase', () => {
  const r = rng(99);
  for (let i = 0; i < 1000; i++) {
    const h = randomHistogram(r, 3);
    const target = Math.floor(r() * 8) - 4;
    const c = h.copyToSchema(target);
    const tot = (x: FloatHistogram) => [...x.positiveBuckets, ...x.negativeBuckets].reduce((a, b) => a + b, 0);
    assert.is(tot(c), tot(h), `case ${i}`);
    assert.not.ok(h.detectReset(h.copy()), `case ${i}: reset against itself`);
    // A higher resolution than before can only come with a reset (Prometheus DetectReset).
    if (target < 3) assert.ok(h.detectReset(c), `case ${i}: schema increase not a reset`);
  }
});

test('add with different zero thresholds: totals kept, the wider threshold wins, no bucket left inside it', () => {
  const r = rng(2026);
  // Thresholds on bucket boundaries (powers of two are boundaries in schemas 0..2), and no populated
  // bucket inside a histogram's own zero bucket: what valid histograms look like.
  const thresholds = [0, 0.25, 0.5, 1, 2, 4, 64];
  const clearInside = (x: FloatHistogram) => {
    x.positiveBucketList().forEach((bk, k) => bk.upper <= x.zeroThreshold && (x.positiveBuckets[k] = 0));
    x.negativeBucketList().forEach((bk, k) => bk.lower >= -x.zeroThreshold && (x.negativeBuckets[k] = 0));
  };
  const total = (x: FloatHistogram) => x.zeroCount + [...x.positiveBuckets, ...x.negativeBuckets].reduce((a, b) => a + b, 0);
  for (let i = 0; i < 2000; i++) {
    const a = randomHistogram(r, Math.floor(r() * 3));
    const b = randomHistogram(r, Math.floor(r() * 3));
    a.zeroThreshold = thresholds[Math.floor(r() * thresholds.length)]!;
    b.zeroThreshold = thresholds[Math.floor(r() * thresholds.length)]!;
    a.zeroCount = Math.floor(r() * 5);
    b.zeroCount = Math.floor(r() * 5);
    clearInside(a);
    clearInside(b);
    const res = a.copy();
    res.add(b);
    const what = `case ${i}: a=${JSON.stringify(a)} b=${JSON.stringify(b)} -> ${JSON.stringify(res)}`;
    assert.is(total(res), total(a) + total(b), what);
    assert.ok(res.zeroThreshold >= Math.max(a.zeroThreshold, b.zeroThreshold), what);
    for (const bk of res.positiveBucketList()) assert.ok(bk.count === 0 || bk.lower >= res.zeroThreshold, `${what}: positive bucket inside the zero bucket`);
    for (const bk of res.negativeBucketList()) assert.ok(bk.count === 0 || bk.upper <= -res.zeroThreshold, `${what}: negative bucket inside the zero bucket`);
  }
});

test('kahanAdd over many histograms, compensation added at the end, gives the exact integer sums', () => {
  const r = rng(7);
  for (let round = 0; round < 50; round++) {
    const hs = Array.from({ length: 20 }, () => randomHistogram(r, Math.floor(r() * 3)));
    const acc = hs[0]!.copy();
    let c: FloatHistogram | null = null;
    for (const x of hs.slice(1)) c = acc.kahanAdd(x, c).c;
    if (c !== null) acc.add(c);
    const target = Math.min(...hs.map((x) => x.schema));
    const want = new Map<number, number>();
    for (const x of hs) byIndex(x.positiveSpans, x.positiveBuckets, x.schema, target, 1, want);
    assert.equal(sorted(byIndex(acc.positiveSpans, acc.positiveBuckets, acc.schema, target)), sorted(want), `round ${round}`);
    assert.is(acc.count, hs.reduce((a, x) => a + x.count, 0), `round ${round}`);
  }
});

test.run();

// Deep and huge expressions (#21 item 5, and the engine side of item 4): chains of any length
// evaluate; nesting beyond MAX_NESTING is a clear parse error, not "Maximum call stack size
// exceeded"; printing and walking deep trees works; step grids beyond --query.max-samples give the
// max-samples error (not "Invalid array length"); an aborted query stops while it evaluates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, formatExpr, selectors } from '../../lib/promql/mod.ts';
import { exprString, prettify } from '../../lib/promql/format.ts';
import { MAX_NESTING, parseExpr } from '../../lib/promql/parser.ts';
import { ParseError, QueryCanceledError, TooManySamplesError } from '../../lib/promql/errors.ts';

const T = 1_700_000_000_000;
const q = new MemoryQueryable();
for (let t = T - 3600_000; t <= T; t += 15_000) {
  q.add([{ name: '__name__', value: 'x' }, { name: 'i', value: 'a' }], t, -3);
  q.add([{ name: '__name__', value: 'x' }, { name: 'i', value: 'b' }], t, 5);
}
const engine = new Engine();

async function instant(expr: string): Promise<number[]> {
  const r = await engine.instantQuery(q, expr, T);
  if (r.resultType === 'scalar') return [r.result.v];
  assert.is(r.resultType, 'vector');
  return (r.result as unknown as { metric: { name: string; value: string }[]; value: { v: number } }[])
    .slice()
    .sort((a, b) => (a.metric.find((l) => l.name === 'i')?.value ?? '').localeCompare(b.metric.find((l) => l.name === 'i')?.value ?? ''))
    .map((s) => s.value.v);
}

async function rangeLen(expr: string): Promise<number> {
  const r = await engine.rangeQuery(q, expr, T - 600_000, T, 60_000);
  assert.is(r.resultType, 'matrix');
  return (r.result as { values: unknown[] }[]).reduce((n, s) => n + s.values.length, 0);
}

test('5000 unary minuses evaluate (instant and range)', async () => {
  assert.equal(await instant('-'.repeat(5000) + 'x'), [-3, 5]);
  assert.equal(await instant('-'.repeat(5001) + 'x'), [3, -5]);
  assert.equal(await instant('-'.repeat(5001) + '1'), [-1]);
  assert.is(await rangeLen('-'.repeat(5000) + 'x'), 2 * 11);
});

test('a 2000-term sum and a 20000-term scalar chain evaluate', async () => {
  assert.equal(await instant(Array(2000).fill('x').join(' + ')), [-6000, 10000]);
  assert.equal(await instant(Array(20000).fill('1').join(' + ')), [20000]);
  assert.is(await rangeLen(Array(2000).fill('x').join(' - ')), 2 * 11);
});

test(`nesting up to ${MAX_NESTING} evaluates; deeper is a clear parse error`, async () => {
  const abs = (n: number) => 'abs('.repeat(n) + 'x' + ')'.repeat(n);
  assert.equal(await instant(abs(MAX_NESTING)), [3, 5]);
  assert.equal(await instant('('.repeat(MAX_NESTING) + 'x' + ')'.repeat(MAX_NESTING)), [-3, 5]);
  assert.equal(await instant('sum by (i) ('.repeat(MAX_NESTING) + 'x' + ')'.repeat(MAX_NESTING)), [-3, 5]);
  for (const expr of [abs(3000), abs(MAX_NESTING + 1), Array(MAX_NESTING + 2).fill('x').join(' ^ '), '('.repeat(100_000)]) {
    try {
      parseExpr(expr);
      assert.unreachable('parsed');
    } catch (e) {
      assert.instance(e, ParseError);
      assert.is((e as ParseError).errorType, 'bad_data');
      assert.match((e as Error).message, `expression nesting too deep: more than ${MAX_NESTING} levels`);
    }
  }
});

test('deep trees print, prettify, round-trip and walk', () => {
  for (const src of [
    '-'.repeat(5000) + 'x',
    Array(2000).fill('x{i="a"}').join(' + '),
    'abs('.repeat(MAX_NESTING) + 'x' + ')'.repeat(MAX_NESTING),
    'max_over_time(('.repeat(MAX_NESTING / 2) + 'x' + ')[5m:1m])'.repeat(MAX_NESTING / 2),
  ]) {
    const e = parseExpr(src);
    const f = formatExpr(e);
    assert.is(formatExpr(parseExpr(f)), f);
    const s = exprString(e, src);
    assert.is(exprString(parseExpr(s), s), s);
    assert.ok(prettify(e, src).length >= s.length);
    assert.ok(selectors(e).length >= 1);
  }
});

test('step grids beyond max-samples give the max-samples error', async () => {
  for (const expr of ['max_over_time(vector(1)[1y:1ms])', 'max_over_time(x[1y:1ms])', 'x[1y:1ms]', 'count_over_time((x + 1)[1y:1ms])']) {
    try {
      await engine.instantQuery(q, expr, T);
      assert.unreachable(expr);
    } catch (e) {
      assert.instance(e, TooManySamplesError, expr);
      assert.is((e as Error).message, 'query processing would load too many samples into memory in query execution');
    }
  }
  // Counted while the subquery is produced, not after: 72M samples would be materialised otherwise.
  const small = new Engine({ maxSamples: 1_000_000 });
  const t0 = performance.now();
  try {
    await small.instantQuery(q, 'max_over_time(x[10h:1ms])', T);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, TooManySamplesError);
  }
  assert.ok(performance.now() - t0 < 60_000);
});

test('an aborted query stops during evaluation and the event loop keeps turning', async () => {
  const ac = new AbortController();
  let ticks = 0;
  const iv = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  setTimeout(() => ac.abort(), 200);
  try {
    // 2 series x 3.6M steps: seconds of work if it ran to the end.
    await engine.instantQuery(q, 'max_over_time(x[1h:1ms])', T, { signal: ac.signal });
    assert.unreachable('finished');
  } catch (e) {
    assert.instance(e, QueryCanceledError);
  } finally {
    clearInterval(iv);
  }
  assert.ok(ticks > 0, 'no timer ran while the query evaluated');
  assert.ok(performance.now() - t0 < 30_000);
});

test.run();

// Parser and engine unit tests: error positions and messages, precedence, limits, timeouts, cancelation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Engine, MemoryQueryable, ParseError, ExecutionError, TooManySamplesError, QueryTimeoutError, QueryCanceledError,
  BadDataError, parseExpr, formatExpr, selectors, toPromJSON, STALE_NAN, type Queryable,
} from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';

function parseErr(src: string): ParseError {
  try {
    parseExpr(src);
  } catch (e) {
    assert.instance(e, ParseError);
    return e as ParseError;
  }
  throw new Error(`expected a parse error for ${src}`);
}

function store(): MemoryQueryable {
  const q = new MemoryQueryable();
  for (let i = 0; i <= 100; i++) {
    q.add(labelsFromRecord({ __name__: 'x', job: 'a', instance: '1' }), i * 15_000, i * 10);
    q.add(labelsFromRecord({ __name__: 'x', job: 'b', instance: '2' }), i * 15_000, i * 20);
    q.add(labelsFromRecord({ __name__: 'y', job: 'a' }), i * 15_000, 1);
  }
  return q;
}

test('parse errors carry line:col and Prometheus wording', () => {
  let e = parseErr('rate(1)');
  assert.is(e.message, '1:6: parse error: expected type range vector in call to function "rate", got scalar');
  assert.is(e.line, 1);
  assert.is(e.col, 6);
  e = parseErr('(a+b)[5m]');
  assert.is(e.detail, 'ranges only allowed for vector selectors');
  e = parseErr('sum(x)\n  offset 5m');
  assert.is(e.line, 2);
  assert.match(e.detail, /offset modifier must be preceded by an instant vector selector/);
  assert.is(parseErr('1 > 2').detail, 'comparisons between scalars must use BOOL modifier');
  assert.is(parseErr('foo{a="b"').detail.startsWith('unexpected end of input'), true);
  assert.is(parseErr('{}').detail, 'vector selector must contain at least one non-empty matcher');
  assert.is(parseErr('nosuchfn(x)').detail, 'unknown function with name "nosuchfn"');
  assert.is(parseErr('x and 1').detail, 'set operator "and" not allowed in binary scalar expression');
  assert.is(parseErr('x + on(a) 1').detail, 'vector matching only allowed between instant vectors');
  assert.is(parseErr('rate(x[5m], 1)').detail, 'expected 1 argument(s) in call to "rate", got 2');
  assert.is(parseErr('sum(x[5m])').detail, 'expected type instant vector in aggregation expression, got range vector');
  assert.is(parseErr('x[5m:1m][1m]').detail, 'ranges only allowed for vector selectors');
  assert.is(parseErr('"a" + 1').detail, 'binary expression must contain only scalar and instant vector types');
  assert.instance(parseErr('x{a=~"("}'), ParseError);
}, );

test('precedence: -1 ^ 2 = -1, ^ is right-associative, unary binds like *', async () => {
  const eng = new Engine();
  const q = new MemoryQueryable();
  const v = async (s: string) => {
    const r = await eng.instantQuery(q, s, 0);
    assert.is(r.resultType, 'scalar');
    return (r.result as { v: number }).v;
  };
  assert.is(await v('-1 ^ 2'), -1);
  assert.is(await v('2 ^ 3 ^ 2'), 512);
  assert.is(await v('-2 * 3'), -6);
  assert.is(await v('1 + 2 * 3 - 4 / 2'), 5);
  assert.is(await v('1_000 + 0x10'), 1016);
  assert.is(await v('2 > bool 1 or 0'.replace(' or 0', '')), 1);
  assert.equal(formatExpr(parseExpr('sum by (job) (rate(x{a="b"}[5m] offset -1m @ 100))')),
    'sum by (job) (rate(x{a="b"}[5m] @ 100.000 offset -1m))');
  assert.equal(formatExpr(parseExpr('foo[1h30m:1.5m]')), 'foo[1h30m:1m30s]');
});

test('literals, durations, strings, keywords', () => {
  const sel = (src: string) => {
    const e = parseExpr(src);
    return e;
  };
  assert.equal(formatExpr(sel('SUM BY (a) (x)')), 'sum by (a) (x)');
  assert.equal(formatExpr(sel('sum(x) without (a, b)')), 'sum without (a, b) (x)');
  assert.equal(formatExpr(sel('x[1h30m]')), 'x[1h30m]');
  assert.equal(formatExpr(sel('x[90]')), 'x[1m30s]');
  assert.equal(formatExpr(sel('x[1.5h]')), 'x[1h30m]');
  assert.equal(formatExpr(sel('x offset -5m')), 'x offset -5m');
  assert.equal(formatExpr(sel('x @ start()')), 'x @ start()');
  assert.equal(formatExpr(sel('{"a.b", c=~"d|e"}')), '{"a.b", c=~"d|e"}');
  assert.equal(formatExpr(sel('x{a="\\n\\u00e9\\x41"}')), 'x{a="\\néA"}');
  assert.equal(formatExpr(sel('x{a=`raw\\n`}')), 'x{a="raw\\\\n"}');
  assert.equal(formatExpr(sel('Inf + -NaN')), '+Inf + NaN');
  assert.equal(formatExpr(sel('topk(3, x) > bool on(a) group_left(b) y')), 'topk(3, x) > bool on (a) group_left (b) y');
  assert.is(parseErr('x[5m] offset 1m [5m]').detail, 'ranges only allowed for vector selectors');
  assert.is(parseErr('x offset 1m offset 2m').detail, 'offset may not be set multiple times');
  assert.is(parseErr('x @ 1 @ 2').detail, '@ <timestamp> may not be set multiple times');
  assert.is(parseErr('1 +').detail, 'unexpected end of input');
  assert.is(parseErr('sum by (a) (x) by (b)').detail, 'unexpected <by/without>');
});

test('selectors() lists matchers with the enclosing function and range', () => {
  const s = selectors(parseExpr('sum(rate(x{job="a"}[5m])) / max_over_time((y)[1h:5m]) + z'));
  assert.is(s.length, 3);
  assert.is(s[0]!.func, 'rate');
  assert.is(s[0]!.range, 300_000);
  assert.equal(s[0]!.matchers.map((m) => m.name), ['__name__', 'job']);
  assert.is(s[1]!.subqueries.length, 1);
  assert.is(s[2]!.func, null);
});

test('instant and range queries with rate, aggregation, staleness', async () => {
  const eng = new Engine();
  const q = store();
  const r = await eng.instantQuery(q, 'sum by (job) (rate(x[5m]))', 1_000_000);
  assert.is(r.resultType, 'vector');
  const byJob = Object.fromEntries((r.result as unknown as { metric: { value: string }[]; value: { v: number } }[]).map((s) => [s.metric[0]!.value, s.value.v]));
  assert.ok(Math.abs(byJob.a! - 10 / 15) < 1e-9);
  assert.ok(Math.abs(byJob.b! - 20 / 15) < 1e-9);
  const rr = await eng.rangeQuery(q, 'x{job="a"}', 0, 60_000, 30_000);
  assert.equal(toPromJSON(rr), {
    resultType: 'matrix',
    result: [{ metric: { __name__: 'x', instance: '1', job: 'a' }, values: [[0, '0'], [30, '20'], [60, '40']] }],
  });
  // staleness marker ends the lookback
  q.add(labelsFromRecord({ __name__: 's' }), 0, 1);
  q.add(labelsFromRecord({ __name__: 's' }), 60_000, STALE_NAN);
  assert.is(((await eng.instantQuery(q, 's', 30_000)).result as unknown[]).length, 1);
  assert.is(((await eng.instantQuery(q, 's', 90_000)).result as unknown[]).length, 0);
});

test('execution errors: many-to-many matching, bad range step', async () => {
  const eng = new Engine();
  const q = store();
  try {
    await eng.instantQuery(q, 'x + on(job) y', 1_000_000);
    await eng.instantQuery(q, 'y + on() x', 1_000_000);
    assert.unreachable('expected many-to-many error');
  } catch (e) {
    assert.instance(e, ExecutionError);
    assert.match((e as Error).message, /many-to-many matching not allowed|multiple matches for labels/);
    assert.is((e as ExecutionError).errorType, 'execution');
  }
  try {
    await eng.rangeQuery(q, 'x', 0, 1000, 0);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, BadDataError);
    assert.is((e as BadDataError).errorType, 'bad_data');
  }
});

test('max samples limit stops the query with a clear error', async () => {
  const eng = new Engine({ maxSamples: 100 });
  const q = store();
  try {
    await eng.rangeQuery(q, 'x', 0, 1_500_000, 15_000);
    assert.unreachable('expected too many samples');
  } catch (e) {
    assert.instance(e, TooManySamplesError);
    assert.is((e as Error).message, 'query processing would load too many samples into memory in query execution');
  }
  const ok = await new Engine({ maxSamples: 1000 }).rangeQuery(q, 'x', 0, 1_500_000, 15_000);
  assert.is((ok.result as unknown[]).length, 2);
});

test('timeout and cancelation through AbortSignal', async () => {
  const slow: Queryable = {
    select: (_m, _h, signal) => new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve({ series: [] }), 5_000);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(signal.reason);
      });
    }),
  };
  const eng = new Engine({ timeoutMs: 50 });
  const t0 = Date.now();
  try {
    await eng.instantQuery(slow, 'x', 0);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, QueryTimeoutError);
    assert.is((e as QueryTimeoutError).errorType, 'timeout');
  }
  assert.ok(Date.now() - t0 < 20_000);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  try {
    await new Engine().instantQuery(slow, 'x', 0, { signal: ac.signal });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, QueryCanceledError);
    assert.is((e as QueryCanceledError).errorType, 'canceled');
  }
});

test.run();

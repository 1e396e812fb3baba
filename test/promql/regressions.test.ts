// Regressions of issue #10: count_values lost its output label without by/without (item 1); stddev /
// stdvar of all-equal groups (item 2); the 2.42 cross-check of float_only.test (item 8).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, ExecutionError, toPromJSON } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { crossCheck242 } from './prom242.ts';
import { TESTDATA_DIR } from './promqltest.ts';
import { join } from 'node:path';

const eng = new Engine();

function cpus(): MemoryQueryable {
  const q = new MemoryQueryable();
  // 15 s scrapes, off the step grid; instance c changes its value half-way.
  for (let i = 0; i < 40; i++) {
    const t = i * 15_000 + 1234;
    q.add(labelsFromRecord({ __name__: 'demo_num_cpus', instance: 'a', job: 'demo' }), t, 4);
    q.add(labelsFromRecord({ __name__: 'demo_num_cpus', instance: 'b', job: 'demo' }), t, 8);
    q.add(labelsFromRecord({ __name__: 'demo_num_cpus', instance: 'c', job: 'demo' }), t, i < 20 ? 8 : 2);
    q.add(labelsFromRecord({ __name__: 'demo_num_cpus', instance: 'd', job: 'other', value: 'old' }), t, 4);
  }
  return q;
}

async function range(q: MemoryQueryable, expr: string): Promise<Record<string, string[]>> {
  const r = toPromJSON(await eng.rangeQuery(q, expr, 60_000, 540_000, 60_000)) as { result: { metric: Record<string, string>; values: [number, string][] }[] };
  const out: Record<string, string[]> = {};
  for (const s of r.result) out[JSON.stringify(s.metric)] = s.values.map(([t, v]) => `${t}:${v}`);
  return out;
}

async function instant(q: MemoryQueryable, expr: string, t = 540_000): Promise<Record<string, string>> {
  const r = toPromJSON(await eng.instantQuery(q, expr, t)) as { result: { metric: Record<string, string>; value: [number, string] }[] };
  const out: Record<string, string> = {};
  for (const s of r.result) out[JSON.stringify(s.metric)] = s.value[1];
  return out;
}

const steps = (from: number, to: number, v: string) => {
  const out: string[] = [];
  for (let t = from; t <= to; t += 60) out.push(`${t}:${v}`);
  return out;
};

test('count_values without grouping: one series per distinct value, labelled with it (instant and range)', async () => {
  const q = cpus();
  assert.equal(await instant(q, 'count_values("value", demo_num_cpus)'), { '{"value":"2"}': '1', '{"value":"4"}': '2', '{"value":"8"}': '1' });
  assert.equal(await instant(q, 'count_values by () ("value", demo_num_cpus)'), { '{"value":"2"}': '1', '{"value":"4"}': '2', '{"value":"8"}': '1' });
  // instance c: 8 until 300 s (sample at 286.234 s), 2 from the sample at 301.234 s on.
  assert.equal(await range(q, 'count_values("value", demo_num_cpus)'), {
    '{"value":"2"}': steps(360, 540, '1'),
    '{"value":"4"}': steps(60, 540, '2'),
    '{"value":"8"}': [...steps(60, 300, '2'), ...steps(360, 540, '1')],
  });
});

test('count_values by (...): the grouping labels plus the value label', async () => {
  const q = cpus();
  assert.equal(await instant(q, 'count_values by (job) ("value", demo_num_cpus)'), {
    '{"job":"demo","value":"2"}': '1', '{"job":"demo","value":"4"}': '1', '{"job":"demo","value":"8"}': '1', '{"job":"other","value":"4"}': '1',
  });
  // The value label named in `by` too: same result.
  assert.equal(await instant(q, 'count_values by (job, value) ("value", demo_num_cpus)'), await instant(q, 'count_values by (job) ("value", demo_num_cpus)'));
  const r = await range(q, 'count_values by (instance) ("v", demo_num_cpus)');
  assert.equal(Object.keys(r).sort(), ['{"instance":"a","v":"4"}', '{"instance":"b","v":"8"}', '{"instance":"c","v":"2"}', '{"instance":"c","v":"8"}', '{"instance":"d","v":"4"}']);
});

test('count_values without (...): every other label stays; the value label overwrites an existing one', async () => {
  const q = cpus();
  assert.equal(await instant(q, 'count_values without (instance) ("value", demo_num_cpus)'), {
    '{"job":"demo","value":"2"}': '1', '{"job":"demo","value":"4"}': '1', '{"job":"demo","value":"8"}': '1', '{"job":"other","value":"4"}': '1',
  });
  // instance d has value="old": overwritten by its value.
  assert.equal(await instant(q, 'count_values without (job) ("value", demo_num_cpus{instance="d"})'), { '{"instance":"d","value":"4"}': '1' });
  // Overwriting a grouping label (Prometheus: "Don't do this"): job takes the value.
  assert.equal(await instant(q, 'count_values without (instance) ("job", demo_num_cpus)'), { '{"job":"2"}': '1', '{"job":"4"}': '1', '{"job":"8"}': '1', '{"job":"4","value":"old"}': '1' });
  assert.equal(await instant(q, 'count_values by (job) ("job", demo_num_cpus)'), { '{"job":"2"}': '1', '{"job":"4"}': '2', '{"job":"8"}': '1' });
});

test('count_values label values: strconv.FormatFloat(v, \'f\', -1, 64) with +Inf/-Inf/NaN', async () => {
  const q = new MemoryQueryable();
  const vals = [1e21, 1.5e-7, 0.1, 0.30000000000000004, -2.5, Infinity, -Infinity, NaN, 100, 123456789.125, -0];
  vals.forEach((v, i) => q.add(labelsFromRecord({ __name__: 'f', i: String(i) }), 0, v));
  const got = Object.keys(await instant(q, 'count_values("x", f)', 0)).map((k) => JSON.parse(k).x).sort();
  assert.equal(got, ['+Inf', '-0', '-2.5', '-Inf', '0.00000015', '0.1', '0.30000000000000004', '100', '1000000000000000000000', '123456789.125', 'NaN'].sort());
});

test('count_values: invalid label names are refused with Go quoting', async () => {
  const q = cpus();
  for (const [expr, msg] of [['count_values("a\\xc5z", demo_num_cpus)', 'invalid label name "a\\xc5z"'], ['count_values("", demo_num_cpus)', 'invalid label name ""']]) {
    try {
      await eng.instantQuery(q, expr!, 0);
      assert.unreachable(expr);
    } catch (e) {
      assert.instance(e, ExecutionError);
      assert.is((e as Error).message, msg);
    }
  }
  // UTF-8 label names are valid in Prometheus 3.x.
  assert.equal(await instant(q, 'count_values("wert_ä", demo_num_cpus{instance="a"})'), { '{"wert_ä":"4"}': '1' });
});

test('stddev / stdvar of all-equal groups are 0 in range and instant queries (row- and column-wise)', async () => {
  const q = new MemoryQueryable();
  for (let i = 0; i < 40; i++) {
    const t = i * 15_000 + 1234;
    q.add(labelsFromRecord({ __name__: 'eq', g: 'one', i: '1' }), t, 760.36);
    for (const i2 of ['1', '2', '3']) q.add(labelsFromRecord({ __name__: 'eq', g: 'three', i: i2 }), t, 0.1);
    q.add(labelsFromRecord({ __name__: 'eq', g: 'big', i: '1' }), t, 1e300);
    q.add(labelsFromRecord({ __name__: 'eq', g: 'big', i: '2' }), t, 1e300);
  }
  for (const op of ['stddev', 'stdvar']) {
    for (const expr of [`${op} by (g) (eq)`, `${op} by (g, i) (eq)`, `${op} without (i) (eq)`, `${op}(eq{g="three"})`]) {
      const r = await range(q, expr);
      assert.ok(Object.keys(r).length > 0, expr);
      for (const [k, pts] of Object.entries(r)) assert.equal(pts, steps(60, 540, '0'), `${expr} ${k}`);
      for (const [k, v] of Object.entries(await instant(q, expr))) assert.is(v, '0', `${expr} ${k} (instant)`);
    }
  }
  // The value a group starts with decides: ±Inf or NaN first gives NaN (Prometheus 3.0, #14941).
  q.add(labelsFromRecord({ __name__: 'infs', i: '1' }), 0, Infinity);
  assert.equal(await instant(q, 'stddev(infs)', 0), { '{}': 'NaN' });
});

test('float_only.test expectations are Prometheus 2.42\'s answers (promtool test rules)', async () => {
  const r = await crossCheck242(join(TESTDATA_DIR, 'float_only.test'));
  assert.is(r.mismatches.join('\n'), '');
  assert.ok(r.checked >= 80, `only ${r.checked} cases checked`);
  for (const f of r.failures) assert.is(f.got, f.expected, `line ${f.line}: 2.42's error message`);
  for (const x of r.excluded) assert.ok(x.reason.length > 0, `line ${x.line} excluded without a reason`);
});

test.run();

// `for` state restore (Prometheus's RestoreForState) and the Rules fan-out's dedup, in process with
// chosen timestamps: the three restore branches (had fired / pending with time left / pending with
// less than the grace period left), the outage tolerance window, rules with `for` below the grace
// period, no ALERTS samples before the restore; dedup keeps the firing / most recently evaluated
// copy at the position the rule first appeared.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Evaluator, parseRuleFileOrThrow, ruleGroupsProto, type RecordedSample } from '../../lib/rules/mod.ts';
import { dedupGroups } from '../../lib/query/rules.ts';
import { ZERO_TIME, type Rule, type RuleGroup } from '../../lib/proto/rules.ts';

const S = 1000;
const M = 60 * S;

function setup(forExpr: string) {
  const groups = parseRuleFileOrThrow('r.yml', `groups:\n  - name: g\n    interval: 10s\n    rules:\n      - alert: A\n        expr: vector(1)\n        for: ${forExpr}\n`);
  const rec: RecordedSample[] = [];
  const ev = new Evaluator(groups, { query: async () => [{ metric: {}, value: 1 }], record: (s) => rec.push(...s), externalLabels: {}, externalURL: '', defaultIntervalMs: 10 * S, resendDelayMs: M, restoreForState: true });
  return { ev, g: ev.groups[0]!, rec };
}

/** A lastSample answering from one stored ALERTS_FOR_STATE sample. */
const stored = (t: number, v: number) => async (ls: Record<string, string>, mint: number, maxt: number) =>
  (ls.__name__ === 'ALERTS_FOR_STATE' && ls.alertname === 'A' && t >= mint && t <= maxt ? { t, v } : undefined);

const T0 = 1_700_000_000_000; // whole seconds

test('no ALERTS/ALERTS_FOR_STATE before the restore; written from the evaluation after it', async () => {
  const { ev, g, rec } = setup('30m');
  await ev.evalGroup(g, T0);
  await ev.evalGroup(g, T0 + 10 * S);
  assert.is(rec.filter((s) => s.labels.__name__?.startsWith('ALERTS')).length, 0);
  await ev.restoreForState(g, T0 + 10 * S, async () => undefined, 60 * M, 10 * M);
  assert.ok(!Evaluator.needsRestore(g));
  await ev.evalGroup(g, T0 + 20 * S);
  assert.equal(rec.filter((s) => s.labels.__name__ === 'ALERTS_FOR_STATE').map((s) => s.v), [T0 / 1000], 'nothing stored: activeAt stays the first evaluation');
});

test('had fired before the crash: activeAt restored exactly; fires at the next evaluation', async () => {
  const { ev, g } = setup('30m');
  const activeAt = T0 - 60 * M; // fired 30m before going down
  const downAt = T0 - 5 * M;
  await ev.evalGroup(g, T0);
  await ev.evalGroup(g, T0 + 10 * S);
  await ev.restoreForState(g, T0 + 10 * S, stored(downAt, activeAt / 1000), 60 * M, 10 * M);
  const a = [...g.rules[0]!.active.values()][0]!;
  assert.is(a.activeAt, activeAt);
  assert.is(a.state, 'pending');
  await ev.evalGroup(g, T0 + 20 * S);
  assert.is(a.state, 'firing');
});

test('pending with more than the grace period left: shifted by the downtime; with less: fires grace period after the restore', async () => {
  {
    const { ev, g } = setup('30m');
    const activeAt = T0 - 10 * M; // 10m pending of 30m when it went down 5m ago: 20m left > 10m grace
    const downAt = T0 - 5 * M;
    const restoreAt = T0 + 10 * S;
    await ev.evalGroup(g, T0);
    await ev.restoreForState(g, restoreAt, stored(downAt, activeAt / 1000), 60 * M, 10 * M);
    assert.is([...g.rules[0]!.active.values()][0]!.activeAt, activeAt + (restoreAt - downAt));
  }
  {
    const { ev, g } = setup('30m');
    const activeAt = T0 - 30 * M; // 25m pending when it went down 5m ago: 5m left < 10m grace
    const downAt = T0 - 5 * M;
    const restoreAt = T0 + 10 * S;
    await ev.evalGroup(g, T0);
    await ev.restoreForState(g, restoreAt, stored(downAt, activeAt / 1000), 60 * M, 10 * M);
    const a = [...g.rules[0]!.active.values()][0]!;
    assert.is(a.activeAt, restoreAt + 10 * M - 30 * M, 'fires exactly one grace period after the restore');
    await ev.evalGroup(g, restoreAt + 10 * M - 10 * S);
    assert.is(a.state, 'pending');
    await ev.evalGroup(g, restoreAt + 10 * M);
    assert.is(a.state, 'firing');
  }
});

test('outside the outage tolerance, or `for` below the grace period: not restored', async () => {
  {
    const { ev, g } = setup('30m');
    await ev.evalGroup(g, T0);
    await ev.restoreForState(g, T0, stored(T0 - 2 * 60 * M, (T0 - 3 * 60 * M) / 1000), 60 * M, 10 * M);
    assert.is([...g.rules[0]!.active.values()][0]!.activeAt, T0, 'a sample 2h old is outside a 1h tolerance');
  }
  {
    const { ev, g } = setup('5m');
    await ev.evalGroup(g, T0);
    let asked = false;
    await ev.restoreForState(g, T0, async () => ((asked = true), { t: T0 - M, v: (T0 - 4 * M) / 1000 }), 60 * M, 10 * M);
    assert.not.ok(asked, 'for 5m < grace 10m: nothing is read');
    assert.is([...g.rules[0]!.active.values()][0]!.activeAt, T0);
    assert.not.ok(Evaluator.needsRestore(g));
  }
});

test('ALERTS series that stop (pending -> firing, resolved) get a stale marker, as Prometheus writes', async () => {
  const groups = parseRuleFileOrThrow('r.yml', 'groups:\n  - name: g\n    interval: 10s\n    rules:\n      - alert: A\n        expr: x > 0\n        for: 10s\n');
  let up = true;
  const rec: RecordedSample[] = [];
  const ev = new Evaluator(groups, { query: async () => (up ? [{ metric: { __name__: 'x', i: '1' }, value: 1 }] : []), record: (s) => rec.push(...s), externalLabels: {}, externalURL: '', defaultIntervalMs: 10 * S, resendDelayMs: M });
  const g = ev.groups[0]!;
  const at = (t: number) => rec.filter((s) => s.t === t).map((s) => `${s.labels.__name__}${s.labels.alertstate ? `{${s.labels.alertstate}}` : ''}=${Number.isNaN(s.v) ? 'stale' : s.v}`).sort();
  await ev.evalGroup(g, T0);
  assert.equal(at(T0), ['ALERTS_FOR_STATE=' + T0 / 1000, 'ALERTS{pending}=1']);
  await ev.evalGroup(g, T0 + 10 * S);
  assert.equal(at(T0 + 10 * S), ['ALERTS_FOR_STATE=' + T0 / 1000, 'ALERTS{firing}=1', 'ALERTS{pending}=stale']);
  up = false;
  await ev.evalGroup(g, T0 + 20 * S);
  assert.equal(at(T0 + 20 * S), ['ALERTS_FOR_STATE=stale', 'ALERTS{firing}=stale']);
  await ev.evalGroup(g, T0 + 30 * S);
  assert.equal(at(T0 + 30 * S), [], 'stale once');
});

function alertRule(state: 'pending' | 'firing', lastEvalS: number, replica: string): Rule {
  return {
    kind: 'alert', state, name: 'A', query: 'x > 1', durationSeconds: 60, keepFiringForSeconds: 0, health: 'ok', lastError: '',
    labels: [{ name: 'replica', value: replica }, { name: 'sev', value: 'page' }], annotations: [],
    alerts: [{ labels: [{ name: 'alertname', value: 'A' }, { name: 'replica', value: replica }], annotations: [], state, value: '1e+00', partialResponseStrategy: 1, activeAt: { seconds: 1, nanos: 0 } }],
    evaluationDurationSeconds: 0, lastEvaluation: { seconds: lastEvalS, nanos: 0 },
  };
}
const rec = (name: string, lastEvalS: number, replica: string): Rule => ({
  kind: 'recording', name, query: 'sum(x)', labels: [{ name: 'replica', value: replica }], health: 'ok', lastError: '', evaluationDurationSeconds: 0, lastEvaluation: { seconds: lastEvalS, nanos: 0 },
});
const group = (file: string, rules: Rule[]): RuleGroup => ({ name: 'g', file, rules, interval: 10, evaluationDurationSeconds: 0, lastEvaluation: ZERO_TIME, limit: 0, partialResponseStrategy: 1 });

test('dedup: firing copy wins over pending, newer evaluation wins among equals; first-appearance order; replica label gone', () => {
  const out = dedupGroups([
    group('f', [rec('z:rec', 10, 'r1'), alertRule('pending', 20, 'r1')]),
    group('f', [rec('z:rec', 30, 'r2'), alertRule('firing', 10, 'r2')]),
    group('other', [rec('z:rec', 5, 'r1')]),
  ], ['replica']);
  assert.equal(out.map((g) => g.file), ['f', 'other']);
  const [r0, r1] = out[0]!.rules;
  assert.is(out[0]!.rules.length, 2);
  assert.is(r0!.name, 'z:rec', 'the rule that appeared first stays first');
  assert.equal(r0!.lastEvaluation, { seconds: 30, nanos: 0 }, 'the most recently evaluated copy');
  assert.equal(r0!.labels, []);
  assert.is(r1!.kind === 'alert' && r1!.state, 'firing');
  assert.equal(r1!.kind === 'alert' && r1!.alerts[0]!.labels, [{ name: 'alertname', value: 'A' }]);
});

test('the ruler lists its groups sorted by file then name (Prometheus 2.42 does: a file\'s "onlyrec" after "onlyalert")', () => {
  const ev = new Evaluator([
    ...parseRuleFileOrThrow('b.yml', 'groups:\n  - name: a\n    rules:\n      - record: x:y\n        expr: vector(1)\n'),
    ...parseRuleFileOrThrow('a.yml', 'groups:\n  - name: onlyrec\n    rules:\n      - record: a:b\n        expr: vector(1)\n  - name: onlyalert\n    rules:\n      - alert: X\n        expr: vector(1)\n'),
  ], { query: async () => [], record: () => {}, externalLabels: { c: 'd' }, externalURL: '', defaultIntervalMs: 1000, resendDelayMs: 1000 });
  assert.equal(ruleGroupsProto(ev, { c: 'd' }).map((g) => `${g.file}:${g.name}`), ['a.yml:onlyalert', 'a.yml:onlyrec', 'b.yml:a']);
});

test.run();

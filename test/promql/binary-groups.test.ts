// vectorBinop's per-match-group uniqueness check (Prometheus's matchedSigs[sig][insertSig]) for
// group_left / group_right: result label sets are hashed and verified with labelsEqual. Two lhs
// series of one group that give the same result set fail the query; distinct ones — including two
// whose hashes collide (v112789 / v349192 under the FNV-1a of binary.ts) — do not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, ExecutionError, toPromJSON } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';

const eng = new Engine();
const MSG = 'multiple matches for labels: grouping labels must ensure unique matches';

function store(values: string[], extraName?: string): MemoryQueryable {
  const q = new MemoryQueryable();
  for (const [k, v] of values.entries()) q.add(labelsFromRecord({ __name__: 'a', job: 'j', i: v }), 0, k + 1);
  if (extraName) q.add(labelsFromRecord({ __name__: extraName, job: 'j', i: values[0]! }), 0, 100);
  q.add(labelsFromRecord({ __name__: 'c', job: 'j' }), 0, 2);
  return q;
}

async function answer(q: MemoryQueryable, expr: string): Promise<string[]> {
  const r = toPromJSON(await eng.instantQuery(q, expr, 10_000)) as { result: { metric: Record<string, string>; value: [number, string] }[] };
  return r.result.map((s) => `${s.metric.i}=${s.value[1]}`).sort();
}

test('distinct result sets of one group pass, hash collisions included', async () => {
  const vals = ['v112789', 'v349192', ...Array.from({ length: 500 }, (_, k) => `x${k}`)];
  const got = await answer(store(vals), 'a / on(job) group_left c');
  assert.is(got.length, vals.length);
  assert.ok(got.includes('v112789=0.5') && got.includes('v349192=1'));
  const right = await answer(store(vals), 'c * on(job) group_right a');
  assert.is(right.length, vals.length);
});

test('equal result sets of one group fail, after a collision too', async () => {
  // {__name__="a"} and {__name__="b"} with equal other labels: / drops the name, both give {i, job}.
  for (const [vals, dupOf] of [[['v1', 'v2'], 'b'], [['v112789', 'v349192'], 'b']] as const) {
    const q = store([...vals], dupOf);
    try {
      await eng.instantQuery(q, '{__name__=~"a|b"} / on(job) group_left c', 10_000);
      assert.unreachable('expected the group uniqueness error');
    } catch (e) {
      assert.instance(e, ExecutionError);
      assert.is((e as Error).message, MSG);
    }
  }
  // The collided pair itself, with a third equal to the second one (so the list is searched).
  const q = new MemoryQueryable();
  q.add(labelsFromRecord({ __name__: 'a', job: 'j', i: 'v112789' }), 0, 1);
  q.add(labelsFromRecord({ __name__: 'a', job: 'j', i: 'v349192' }), 0, 2);
  q.add(labelsFromRecord({ __name__: 'b', job: 'j', i: 'v349192' }), 0, 3);
  q.add(labelsFromRecord({ __name__: 'c', job: 'j' }), 0, 2);
  try {
    await eng.instantQuery(q, '{__name__=~"a|b"} / on(job) group_left c', 10_000);
    assert.unreachable('expected the group uniqueness error');
  } catch (e) {
    assert.is((e as Error).message, MSG);
  }
});

test.run();

// Vector matching (one-to-one columns, group_left/group_right per step) keys series by a 52-bit hash
// of the matched labels (helpers.ts signatureHash), checked label by label. A collision must fall
// back to the exact signature: with the hash forced to a few values (everything collides), every
// answer equals the one under the real hash. The aggregations guard any grouping that hashes too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, MemoryQueryable, toPromJSON } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { setSignatureHashForTest } from '../../lib/promql/engine/helpers.ts';

const eng = new Engine();

function store(): MemoryQueryable {
  const q = new MemoryQueryable();
  for (let i = 0; i < 24; i++) {
    const job = `job-${i % 4}`;
    const instance = `inst-${i}`;
    const env = i % 3 === 0 ? 'prod' : 'dev';
    q.add(labelsFromRecord({ __name__: 'g', job, instance, env }), 0, i + 1);
    q.add(labelsFromRecord({ __name__: 'g', job, instance, env }), 10_000, 2 * i + 1);
    q.add(labelsFromRecord({ __name__: 'h', job, instance }), 0, i + 100);
    q.add(labelsFromRecord({ __name__: 'h', job, instance }), 10_000, i + 200);
  }
  for (let j = 0; j < 4; j++) q.add(labelsFromRecord({ __name__: 'info', job: `job-${j}`, team: `t${j}` }), 0, 1);
  for (let j = 0; j < 4; j++) q.add(labelsFromRecord({ __name__: 'info', job: `job-${j}`, team: `t${j}` }), 10_000, 1);
  return q;
}

const QUERIES = [
  'sum by (job) (g)',
  'avg by (job, env) (g)',
  'count by (env) (g)',
  'max without (instance) (g)',
  'sum without (instance, env) ({__name__=~"g|h"})',
  'stddev by (job) (g)',
  'quantile by (job) (0.5, g)',
  'topk by (job) (2, g)',
  'count_values by (job) ("v", g)',
  'g / on(job) group_left sum by (job) (g)',
  'g * on(job) group_left(team) info',
  'info * on(job) group_right(team) g',
  'g / ignoring(env) group_left h',
  'g + on(job, instance) h',
  'h > on(job, instance) g',
  'g and on(job) info',
];

async function answers(): Promise<string[]> {
  const q = store();
  const out: string[] = [];
  for (const e of QUERIES) {
    out.push(JSON.stringify(toPromJSON(await eng.instantQuery(q, e, 10_000))));
    out.push(JSON.stringify(toPromJSON(await eng.rangeQuery(q, e, 0, 10_000, 5_000))));
  }
  return out;
}

test('forced signature-hash collisions give the answers of the real hash', async () => {
  const want = await answers();
  for (let i = 0; i < want.length; i++) assert.ok(want[i]!.length > 40, QUERIES[i >> 1]);
  // a hash must be a function of the signature: everything collides, or signatures collide by the
  // parity of their last value's length
  const parity = (ls: readonly { name: string; value: string }[], names: ReadonlySet<string>, on: boolean): number => {
    let h = 0;
    for (const l of ls) if (names.has(l.name) === on) h = l.value.length % 2;
    return h;
  };
  for (const forced of [() => 0, parity]) {
    setSignatureHashForTest(forced);
    try {
      const got = await answers();
      for (let i = 0; i < want.length; i++) assert.is(got[i], want[i], `${QUERIES[i >> 1]} (${i & 1 ? 'range' : 'instant'})`);
    } finally {
      setSignatureHashForTest(null);
    }
  }
});

test.run();

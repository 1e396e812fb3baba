// The compaction planner against upstream's planner test tables (Thanos pkg/compact/planner_test.go:
// TestPlanners_Plan_Compatibility, TestRangeWithFailedCompactionWontGetSelected,
// TestTSDBBasedPlanner_PlanWithNoCompactMarks; ranges 20, 60, 180, 540, 1620 as there), plus the
// production ranges on 2h blocks: an open 8h window must not be compacted early.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planGroup, DEFAULT_RANGES, HOUR } from '../../lib/compact/plan.ts';
import { parseBucketMeta as parseBlockMeta, type BucketBlockMeta as BlockMeta } from '../../lib/tsdb/meta.ts';

const RANGES = [20, 60, 180, 540, 1620];

/** ULID n, like Go's ulid.MustNew(n, nil) in spirit: distinct, valid, and readable in failures. */
const id = (n: number) => `01H${String(n).padStart(23, '0')}`;

function m(n: number, minTime: number, maxTime: number, extra: Record<string, unknown> = {}): BlockMeta {
  return parseBlockMeta({ ulid: id(n), minTime, maxTime, version: 1, compaction: { level: 1, ...extra }, thanos: { labels: {} } });
}

interface Case {
  name: string;
  metas: BlockMeta[];
  /** Block numbers of the expected plan (upstream's first compaction task); [] = no plan. */
  expected: number[];
  noCompact?: number[];
  kind?: 'vertical' | 'horizontal';
}

function check(c: Case, ranges = RANGES): void {
  const p = planGroup(c.metas, ranges, new Set((c.noCompact ?? []).map(id)));
  const got = p ? p.blocks.map((b) => b.ulid) : [];
  assert.equal(got, c.expected.map(id), c.name);
  if (p && c.kind) assert.is(p.kind, c.kind, c.name);
}

const compatibility: Case[] = [
  { name: 'Outside range', metas: [m(1, 0, 20)], expected: [] },
  { name: 'We should wait for four blocks of size 20 to appear before compacting', metas: [m(1, 0, 20), m(2, 20, 40)], expected: [] },
  {
    name: 'We should wait for a next block of size 20 to appear before compacting the existing ones. We have three, but we ignore the fresh one',
    metas: [m(1, 0, 20), m(2, 20, 40), m(3, 40, 60)],
    expected: [],
  },
  {
    name: 'Block to fill the entire parent range appeared – should be compacted',
    metas: [m(1, 0, 20), m(2, 20, 40), m(3, 40, 60), m(4, 60, 80)],
    expected: [1, 2, 3],
    kind: 'horizontal',
  },
  {
    name: 'There are blocks to fill the entire 2nd parent range',
    metas: [m(6, 0, 60), m(7, 60, 120), m(8, 120, 180), m(9, 180, 200), m(10, 200, 220)],
    expected: [6, 7, 8],
  },
  {
    name: 'Block for the next parent range appeared with gap with size 20. Nothing will happen in the first one anymore but we ignore fresh one still, so no compaction',
    metas: [m(1, 0, 20), m(2, 20, 40), m(4, 60, 80)],
    expected: [],
  },
  {
    name: 'Block for the next parent range appeared, and we have a gap with size 20 between second and third block. We will not get this missed gap anymore and we should compact just these two',
    metas: [m(1, 0, 20), m(2, 20, 40), m(4, 60, 80), m(5, 80, 100)],
    expected: [1, 2],
  },
  {
    name: "We have 20, 20, 20, 60, 60 range blocks. '5' is marked as fresh one",
    metas: [m(1, 0, 20), m(2, 20, 40), m(3, 40, 60), m(4, 60, 120), m(5, 120, 180)],
    expected: [1, 2, 3],
  },
  {
    name: 'There are blocks to fill the entire 2nd parent range, but there is a gap',
    metas: [m(6, 0, 60), m(8, 120, 180), m(9, 180, 200), m(10, 200, 220)],
    expected: [6, 8],
  },
  {
    name: 'Two sets of blocks to fill out a single range. Third set of blocks is for the next range. Plan only first two sets (first task)',
    metas: [
      m(1, 180, 200), m(2, 200, 220), m(3, 220, 240),
      m(4, 240, 260), m(5, 260, 280), m(6, 280, 300),
      m(7, 0, 60), m(8, 60, 120), m(9, 120, 180),
      m(10, 300, 320),
    ],
    expected: [1, 2, 3],
  },
  {
    name: 'We have 20, 60, 20, 60, 240 range blocks. We can compact 20 + 60 + 60',
    metas: [m(2, 20, 40), m(4, 60, 120), m(5, 960, 980), m(6, 120, 180), m(7, 720, 960)],
    expected: [2, 4, 6],
  },
  {
    name: 'Regression: the fresh block is the one with the largest minTime, not the newest ULID (else 5 and 7 would be compacted, overlapping 8)',
    metas: [m(5, 0, 360), m(6, 540, 560), m(7, 360, 420), m(8, 420, 540)],
    expected: [7, 8],
  },
  { name: 'Overlapping blocks 1', metas: [m(1, 0, 20), m(2, 19, 40), m(3, 40, 60)], expected: [1, 2], kind: 'vertical' },
  { name: 'Overlapping blocks 2', metas: [m(1, 0, 20), m(2, 20, 40), m(3, 30, 50)], expected: [2, 3], kind: 'vertical' },
  { name: 'Overlapping blocks 3', metas: [m(1, 0, 20), m(2, 10, 40), m(3, 30, 50)], expected: [1, 2, 3], kind: 'vertical' },
  { name: 'Overlapping blocks 4', metas: [m(5, 0, 360), m(6, 340, 560), m(7, 360, 420), m(8, 420, 540)], expected: [5, 6, 7, 8], kind: 'vertical' },
  {
    name: 'Multiple independent overlapping blocks (first task)',
    metas: [m(1, 0, 10), m(2, 9, 20), m(3, 17, 35), m(4, 35, 50), m(5, 47, 60)],
    expected: [1, 2, 3],
    kind: 'vertical',
  },
];

test('planner: upstream compatibility table (TestPlanners_Plan_Compatibility)', () => {
  for (const c of compatibility) check(c);
});

test('planner: a range with a failed compaction is never selected (TestRangeWithFailedCompactionWontGetSelected)', () => {
  const sets = [
    [m(1, 0, 20), m(2, 20, 40, { failed: true }), m(3, 40, 60), m(4, 60, 80)],
    [m(1, 0, 20), m(2, 20, 40, { failed: true }), m(4, 60, 80), m(5, 80, 100)],
    [m(1, 0, 20), m(2, 20, 40, { failed: true }), m(3, 40, 60), m(4, 60, 120), m(5, 120, 180), m(6, 180, 200)],
  ];
  for (const [i, metas] of sets.entries()) check({ name: `failed #${i}`, metas, expected: [] });
});

test('planner: no-compact marks cut plans without gaps (TestTSDBBasedPlanner_PlanWithNoCompactMarks)', () => {
  const four = () => [m(1, 0, 20), m(2, 20, 40), m(3, 40, 60), m(4, 60, 80)];
  const cases: Case[] = [
    { name: 'Outside range and excluded', metas: [m(1, 0, 20)], noCompact: [1], expected: [] },
    { name: 'Blocks to fill the entire parent, but with first one excluded', metas: four(), noCompact: [1], expected: [2, 3] },
    { name: 'Blocks to fill the entire parent, but with second one excluded', metas: four(), noCompact: [2], expected: [] },
    { name: 'Blocks to fill the entire parent, but with last one excluded', metas: four(), noCompact: [4], expected: [1, 2, 3] },
    { name: 'Blocks to fill the entire parent, but with last one and first excluded', metas: four(), noCompact: [1, 4], expected: [2, 3] },
    { name: 'Blocks to fill the entire parent, but with all of them excluded', metas: four(), noCompact: [1, 2, 3, 4], expected: [] },
    {
      name: 'Block for the next parent range appeared, and we have a gap with size 20 between second and third block. Second block is excluded',
      metas: [m(1, 0, 20), m(2, 20, 40), m(4, 60, 80), m(5, 80, 100)],
      noCompact: [2],
      expected: [],
    },
    {
      name: 'We have 20, 60, 20, 60, 240 range blocks. We could compact 20 + 60 + 60, but 6th is excluded',
      metas: [m(2, 20, 40), m(4, 60, 120), m(5, 960, 980), m(6, 120, 180), m(7, 720, 960)],
      noCompact: [6],
      expected: [2, 4],
    },
    {
      name: 'We have 20, 60, 20, 60, 240 range blocks. We could compact 20 + 60 + 60, but 4th is excluded',
      metas: [m(2, 20, 40), m(4, 60, 120), m(5, 960, 980), m(6, 120, 180), m(7, 720, 960)],
      noCompact: [4],
      expected: [],
    },
    { name: 'Overlapping blocks 1, but one is excluded', metas: [m(1, 0, 20), m(2, 19, 40), m(3, 40, 60)], noCompact: [1], expected: [] },
  ];
  for (const c of cases) check(c);
});

test('planner, production ranges: highTime is the minTime of the newest block left after dropping the newest', () => {
  const T0 = 1_700_006_400_000 - (1_700_006_400_000 % (14 * 24 * HOUR)); // a 14d-aligned UTC midnight
  const twoH = (fromHour: number, toHour: number) => {
    const out: BlockMeta[] = [];
    for (let h = fromHour, n = 1; h < toHour; h += 2, n++) out.push(m(n, T0 + h * HOUR, T0 + (h + 2) * HOUR));
    return out;
  };
  // 18:00–02:00: 18-20, 20-22, 22-24 and the newest 00-02. The 16–24 window is open (16-18 could
  // still be uploaded late and 22-24 only just arrived): nothing to do.
  check({ name: '18:00–02:00', metas: twoH(18, 26), expected: [] }, DEFAULT_RANGES);
  // 16:00–08:00: 16–24 is full → one 8h plan of its four blocks; 00–06 is left alone (06-08 newest).
  const b = twoH(16, 32);
  check({ name: '16:00–08:00', metas: b, expected: [1, 2, 3, 4], kind: 'horizontal' }, DEFAULT_RANGES);
  // After that compaction: an 8h block, 00-02, 02-04, 04-06 and the newest 06-08 → nothing more.
  const l2 = m(100, T0 + 16 * HOUR, T0 + 24 * HOUR, { level: 2 });
  check({ name: '16:00–08:00 after the first plan', metas: [l2, ...b.slice(4)], expected: [] }, DEFAULT_RANGES);
  // 00:00–08:00 plus a newer block: 00–08 is full → compacted.
  check({ name: '00:00–10:00', metas: twoH(0, 10), expected: [1, 2, 3, 4] }, DEFAULT_RANGES);
  // Three 8h blocks of one 2d range and a newer 2h block: 2d not full, ends after highTime → nothing.
  const e8 = [0, 8, 16].map((h, i) => m(200 + i, T0 + h * HOUR, T0 + (h + 8) * HOUR, { level: 2 }));
  check({ name: 'three 8h + newest 2h', metas: [...e8, m(300, T0 + 24 * HOUR, T0 + 26 * HOUR)], expected: [] }, DEFAULT_RANGES);
  // ... but once a block of the next 2d range is no longer the newest one, the 2d range is closed.
  check({ name: 'three 8h + 2h + newest 2h', metas: [...e8, m(300, T0 + 48 * HOUR, T0 + 50 * HOUR), m(301, T0 + 50 * HOUR, T0 + 52 * HOUR)], expected: [200, 201, 202] }, DEFAULT_RANGES);
});

test.run();

// Postings kernels of both backends against straightforward Set-based reference code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore, createJsCore, type Core } from '../../lib/core/mod.ts';
import { rng } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

function sortedUnique(r: () => number, n: number, universe: number): Uint32Array {
  const s = new Set<number>();
  if (n > universe) n = universe;
  while (s.size < n) s.add(Math.floor(r() * universe));
  return Uint32Array.from([...s].sort((a, b) => a - b));
}

const refIntersect = (lists: Uint32Array[]): number[] => {
  if (lists.length === 0) return [];
  let cur = new Set(lists[0]);
  for (const l of lists.slice(1)) {
    const s = new Set(l);
    cur = new Set([...cur].filter((x) => s.has(x)));
  }
  return [...cur].sort((a, b) => a - b);
};
const refMerge = (lists: Uint32Array[]): number[] => [...new Set(lists.flatMap((l) => [...l]))].sort((a, b) => a - b);
const refWithout = (a: Uint32Array, b: Uint32Array): number[] => {
  const s = new Set(b);
  return [...a].filter((x) => !s.has(x));
};

function shapes(seed: number): Uint32Array[][] {
  const r = rng(seed);
  const out: Uint32Array[][] = [];
  for (let k = 0; k < 150; k++) {
    const nLists = k % 7 === 0 ? 0 : 1 + Math.floor(r() * 6);
    const universe = [16, 1000, 100000, 2 ** 32][k % 4];
    const lists: Uint32Array[] = [];
    for (let i = 0; i < nLists; i++) {
      const skew = r() < 0.3 ? 200 : 1;
      lists.push(sortedUnique(r, Math.floor((r() * 3000) / (i === 0 ? 1 : skew)), universe));
    }
    if (k % 11 === 0 && lists.length) lists.push(new Uint32Array(0));
    if (k % 13 === 0 && lists.length) lists.push(lists[0].slice()); // identical lists
    out.push(lists);
  }
  // big and skewed ones (SIMD and galloping paths)
  out.push([sortedUnique(r, 60000, 120000), sortedUnique(r, 60000, 120000)]);
  out.push([sortedUnique(r, 500, 400000), sortedUnique(r, 100000, 400000)]);
  out.push([sortedUnique(r, 30000, 2 ** 32), sortedUnique(r, 30000, 2 ** 32), sortedUnique(r, 1000, 2 ** 32)]);
  const dense = Uint32Array.from({ length: 100000 }, (_, i) => i);
  out.push([dense, Uint32Array.from({ length: 50000 }, (_, i) => i * 2), Uint32Array.from({ length: 33334 }, (_, i) => i * 3)]);
  out.push([Uint32Array.from([0, 0xffffffff]), Uint32Array.from([0xfffffffe, 0xffffffff])]);
  return out;
}

for (const seed of [1]) {
  test(`intersect / merge / without vs reference, seed ${seed}`, () => {
    for (const lists of shapes(seed)) {
      const wantI = refIntersect(lists);
      const wantM = refMerge(lists);
      for (const core of [js, wasm]) {
        assert.equal([...core.intersect(lists)], wantI, `${core.backend} intersect of ${lists.map((l) => l.length)}`);
        assert.equal([...core.merge(lists)], wantM, `${core.backend} merge of ${lists.map((l) => l.length)}`);
        if (lists.length >= 2) {
          assert.equal([...core.without(lists[0], lists[1])], refWithout(lists[0], lists[1]), `${core.backend} without`);
          assert.equal([...core.without(lists[1], lists[0])], refWithout(lists[1], lists[0]), `${core.backend} without (swapped)`);
        }
      }
    }
  });
}

test('memory grown inside a kernel (arena scratch) is picked up by the host views', async () => {
  const fresh = await createCore({ backend: 'wasm' });
  const lists = [0, 1, 2, 3, 4].map((k) => Uint32Array.from({ length: 300000 }, (_, i) => i * 5 + k));
  const m = fresh.merge(lists); // 5 lists: scratch from the arena, memory grows inside the call
  assert.is(m.length, 1500000);
  for (let i = 0; i < m.length; i += 9973) assert.is(m[i], i);
  const x = fresh.intersect([m, lists[2], Uint32Array.from({ length: 1000 }, (_, i) => i * 5 + 2)]);
  assert.is(x.length, 1000);
  const t = Float64Array.from([1, 2, 3]);
  assert.is(fresh.xorDecode(fresh.xorEncode(t, t, 3)).n, 3);
});

test('inputs are not modified and results are fresh arrays', () => {
  const a = Uint32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const b = Uint32Array.from([2, 4, 6, 8, 10]);
  for (const core of [js, wasm]) {
    const i = core.intersect([a]);
    i[0] = 99;
    assert.is(a[0], 1);
    core.intersect([a, b]);
    core.merge([a, b, a]);
    core.without(a, b);
    assert.equal([...a], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal([...b], [2, 4, 6, 8, 10]);
  }
});

test.run();

// internSorted (lib/tsdb/indexheader.ts): a block's postings offset table values and its symbols,
// and neighbouring blocks' symbol tables, share equal strings. String identity cannot be observed
// from JS, so the tests check what can: how many strings were shared (against a brute-force
// count) and that every string keeps its value, also for out-of-order input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { internSorted } from '../../lib/tsdb/indexheader.ts';
import { compareStrings } from '../../lib/labels/mod.ts';
import { rng as prng } from './helpers.ts';

const ALPHABET = ['a', 'b', 'z', '0', '9', '_', 'é', '€', '😀'];

function words(r: () => number, n: number, maxLen: number): string[] {
  const s = new Set<string>();
  while (s.size < n) {
    let w = '';
    const len = Math.floor(r() * maxLen);
    for (let i = 0; i < len; i++) w += ALPHABET[Math.floor(r() * ALPHABET.length)];
    s.add(w);
  }
  return [...s].sort(compareStrings);
}

test('sorted input: every string found in the dictionary is shared, values unchanged', () => {
  const r = prng(7);
  for (let round = 0; round < 200; round++) {
    const universe = words(r, 50 + Math.floor(r() * 400), 6);
    // dense (a postings name's values against its own symbols) and sparse (few values) subsets
    const density = round % 3 === 0 ? 0.95 : round % 3 === 1 ? 0.5 : 0.02;
    const dict = universe.filter(() => r() < 0.8);
    const strs = universe.filter(() => r() < density);
    const before = [...strs];
    const inDict = new Set(dict);
    const want = strs.filter((s) => inDict.has(s)).length;
    assert.is(internSorted(strs, dict), want, `round ${round}: shared`);
    assert.equal(strs, before, `round ${round}: values`);
  }
});

test('edge cases: empty inputs, dictionary ends, first and last strings', () => {
  assert.is(internSorted([], ['a']), 0);
  assert.is(internSorted(['a'], []), 0);
  assert.is(internSorted(['a', 'b', 'c'], ['a', 'b', 'c']), 3);
  assert.is(internSorted(['', 'a'], ['', 'b']), 1);
  assert.is(internSorted(['x', 'y'], ['a', 'b']), 0);
  assert.is(internSorted(['a', 'b'], ['x', 'y']), 0);
  assert.is(internSorted(['c', 'zz'], ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'zz']), 2);
});

test('out-of-order input: still every string found is shared, and none is replaced by a different one', () => {
  const r = prng(11);
  for (let round = 0; round < 200; round++) {
    const dict = words(r, 100, 5);
    const strs = words(r, 80, 5).concat(dict.filter(() => r() < 0.3));
    for (let i = strs.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [strs[i], strs[j]] = [strs[j]!, strs[i]!];
    }
    const before = [...strs];
    const inDict = new Set(dict);
    assert.is(internSorted(strs, dict), strs.filter((s) => inDict.has(s)).length, `round ${round}: shared`);
    assert.equal(strs, before, `round ${round}: values`);
  }
});

test.run();

// NumSlotMap (lib/store/indexcache/lru.ts): the index cache's numeric-key table (series ref → slot),
// checked against a Map under random sets, replacements and deletes through many rehashes, and
// the LRU over it keeps answering like before once most entries are evicted and re-added.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InMemoryLru, NumSlotMap } from '../../lib/store/indexcache/lru.ts';
import { rng as prng } from '../core/helpers.ts';

test('NumSlotMap answers like a Map under random sets, replacements and deletes', () => {
  for (const [seed, range] of [[1, 64], [2, 5000], [3, (1 << 30) - 1]] as const) {
    const r = prng(seed);
    const m = new NumSlotMap();
    const want = new Map<number, number>();
    for (let op = 0; op < 60_000; op++) {
      // keys clustered (series refs of one block are close) or anywhere in range
      const k = r() < 0.5 ? Math.floor(r() * Math.min(range, 4096)) * 16 % (range + 1) : Math.floor(r() * (range + 1));
      const x = r();
      if (x < 0.55) {
        const v = Math.floor(r() * 1e6);
        m.set(k, v);
        want.set(k, v);
      } else if (x < 0.8) {
        assert.is(m.delete(k), want.delete(k), `seed ${seed} op ${op}: delete ${k}`);
      } else {
        assert.is(m.get(k), want.get(k), `seed ${seed} op ${op}: get ${k}`);
      }
      assert.is(m.size, want.size);
    }
    for (const [k, v] of want) assert.is(m.get(k), v);
    // everything out, then in again: deleted markers do not lose entries
    for (const k of [...want.keys()]) assert.ok(m.delete(k));
    assert.is(m.size, 0);
    for (const k of want.keys()) assert.is(m.get(k), undefined);
    let i = 0;
    for (const k of want.keys()) m.set(k, i++);
    i = 0;
    for (const k of want.keys()) assert.is(m.get(k), i++);
  }
});

test('LRU over numeric keys: entries survive churn with evictions (get by key and by prefix and number agree)', async () => {
  const lru = new InMemoryLru(200_000, 100_000);
  const r = prng(9);
  const val = (n: number) => Uint8Array.from({ length: 20 + (n % 40) }, (_, i) => (n * 31 + i) & 0xff);
  for (let round = 0; round < 20_000; round++) {
    const n = Math.floor(r() * 3000) * 16;
    lru.setNum('S:b', n, val(n));
    if (round % 7 === 0) {
      const q = Math.floor(r() * 3000) * 16;
      const [a] = await lru.getNumList('S:b', [q]);
      const b = lru.get(`S:b:${q}`);
      assert.equal(a, b);
      if (a) assert.equal([...a], [...val(q)], `value of ${q}`);
    }
  }
  assert.ok(lru.sizeBytes <= 200_000);
  assert.ok(lru.size > 1000, `${lru.size} entries`);
});

test.run();

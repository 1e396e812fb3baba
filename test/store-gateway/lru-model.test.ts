// The index cache's LRU against a model under random operations: values of every size class (empty,
// small ones packed into slabs, large ones in buffers of their own), string and numeric keys, by
// key and by prefix+number, replacements, hits (second chances) and evictions. Whatever the LRU
// answers must be the last value set for that key, byte for byte, and it must stay under its byte
// bound; with room for everything, nothing may be missing. Seeded, so a failure replays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InMemoryLru } from '../../lib/store/indexcache/lru.ts';
import { rng as mulberry32 } from '../core/helpers.ts';

function value(rnd: () => number, tag: number): Uint8Array {
  const r = rnd();
  // ~10% empty, ~60% small (< 1 KiB: slab), ~30% large (own buffer)
  const n = r < 0.1 ? 0 : r < 0.7 ? 1 + Math.floor(rnd() * 1000) : 1025 + Math.floor(rnd() * 6000);
  const v = new Uint8Array(n);
  for (let i = 0; i < n; i++) v[i] = (tag * 31 + i) & 0xff;
  return v;
}

function run(seed: number, maxBytes: number, ops: number): { hits: number; misses: number } {
  const rnd = mulberry32(seed);
  const lru = new InMemoryLru(maxBytes);
  const model = new Map<string, Uint8Array>();
  let hits = 0, misses = 0;
  for (let op = 0; op < ops; op++) {
    const numeric = rnd() < 0.5;
    const key = numeric ? `S:01BLOCK${Math.floor(rnd() * 3)}:${Math.floor(rnd() * 200)}` : `E:01BLOCK:k${Math.floor(rnd() * 100)}`;
    if (rnd() < 0.5) {
      const v = value(rnd, op);
      if (numeric && rnd() < 0.5) {
        const c = key.lastIndexOf(':');
        lru.setNum(key.slice(0, c), Number(key.slice(c + 1)), v);
      } else lru.set(key, v);
      model.set(key, v);
    } else {
      const got = lru.get(key);
      if (got === undefined) misses++;
      else {
        hits++;
        const want = model.get(key);
        assert.ok(want, `seed ${seed} op ${op}: ${key} answered but never set`);
        assert.ok(got.byteLength === want.byteLength && got.every((b, i) => b === want[i]), `seed ${seed} op ${op}: ${key} answered bytes other than the last set`);
      }
    }
    assert.ok(lru.sizeBytes <= maxBytes, `seed ${seed} op ${op}: ${lru.sizeBytes} bytes over the bound ${maxBytes}`);
  }
  // Everything the LRU still holds is the last value set.
  for (const [k, want] of model) {
    const got = lru.get(k);
    if (got) assert.ok(got.byteLength === want.byteLength && got.every((b, i) => b === want[i]), `seed ${seed}: ${k} at the end`);
  }
  return { hits, misses };
}

test('LRU model: tight bound (evictions, second chances, dropped slabs)', () => {
  for (let seed = 1; seed <= 20; seed++) run(seed, 64 << 10, 4000);
});

test('LRU model: room for everything: every key set is answered', () => {
  for (let seed = 100; seed <= 105; seed++) {
    const rnd = mulberry32(seed);
    const lru = new InMemoryLru(256 << 20);
    const model = new Map<string, Uint8Array>();
    for (let op = 0; op < 3000; op++) {
      const key = rnd() < 0.5 ? `S:01B:${Math.floor(rnd() * 300)}` : `E:01B:k${Math.floor(rnd() * 300)}`;
      const v = value(rnd, op);
      lru.set(key, v);
      model.set(key, v);
    }
    for (const [k, want] of model) {
      const got = lru.get(k);
      assert.ok(got, `seed ${seed}: ${k} missing with room for everything`);
      assert.ok(got.byteLength === want.byteLength && got.every((b, i) => b === want[i]), `seed ${seed}: ${k}`);
    }
  }
});

test.run();

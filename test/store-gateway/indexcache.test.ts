import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InMemoryLru } from '../../lib/store/indexcache/lru.ts';
import { MemcachedClient } from '../../lib/store/indexcache/memcached.ts';
import { createIndexCache, parseIndexCacheConfig, IndexCache } from '../../lib/store/indexcache/mod.ts';
import { startMemcached, tcpConnect, type Memcached } from './helpers.ts';
import { Registry } from '../../host/metrics.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { decodeResult, expected, genSeries, writeRawBlock } from './fixtures.ts';
import { IndexReader, SeriesFields, decodeSeriesFields } from '../../lib/tsdb/index.ts';
import { bucketSource } from '../../lib/tsdb/bytesource.ts';

/** One sample's value in a registry's exposition (undefined: no such series). */
function sample(reg: Registry, series: string): number | undefined {
  const line = reg.render().split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let mc: Memcached | undefined;
test.after(async () => { await mc?.stop(); });

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

test('LRU stays under its byte bound and evicts least recently used', async () => {
  const lru = new InMemoryLru(10_000, 2_000);
  for (let i = 0; i < 100; i++) lru.set(`k${i}`, bytes(500, i));
  assert.ok(lru.sizeBytes <= 10_000, `size ${lru.sizeBytes}`);
  assert.ok(lru.size >= 10 && lru.size < 20);
  assert.is(lru.get('k0'), undefined);
  assert.is(lru.get('k99')![0], 99);
  // touching k90 keeps it alive through more inserts
  const firstLive = [...Array(100).keys()].find((i) => lru.get(`k${i}`) !== undefined)!;
  lru.get(`k${firstLive}`);
  for (let i = 100; i < 105; i++) lru.set(`k${i}`, bytes(500));
  assert.ok(lru.get(`k${firstLive}`) !== undefined);
  lru.set('big', bytes(5000));
  assert.is(lru.get('big'), undefined, 'item over max_item_size is not stored');
  assert.is(lru.stats.overflowed, 1);
});

test('LRU: small values are copied into shared slabs and stay intact through evictions and second chances', () => {
  const lru = new InMemoryLru(200_000, 50_000);
  const value = (i: number) => {
    const n = i % 7 === 0 ? 3000 : 20 + (i * 37) % 400; // mostly small, some over the slab threshold
    const v = new Uint8Array(n);
    for (let k = 0; k < n; k++) v[k] = (i * 31 + k) & 0xff;
    return v;
  };
  const check = (i: number) => {
    const got = lru.get(`k${i}`);
    if (got === undefined) return false;
    assert.equal(Array.from(got), Array.from(value(i)), `k${i}`);
    return true;
  };
  lru.set('k1', value(1));
  lru.set('k2', value(2));
  assert.ok(lru.get('k1')!.buffer === lru.get('k2')!.buffer, 'two small values share a slab');
  for (let i = 3; i < 3000; i++) {
    lru.set(`k${i}`, value(i));
    if (i % 5 === 0) check(i - 40); // a hit: its entry gets a second chance (and moves slab)
  }
  assert.ok(lru.sizeBytes <= 200_000);
  let live = 0;
  for (let i = 1; i < 3000; i++) if (check(i)) live++;
  assert.ok(live > 100, `${live} entries live`);
  // a value the caller changes after set() is not changed in the cache
  const v = value(5000);
  lru.set('k5000', v);
  v.fill(0);
  check(5000);
});

test('LRU: keys ending in a number (series entries) are one entry whether set and looked up by key or by prefix and number', async () => {
  const lru = new InMemoryLru(1 << 20);
  const v = (i: number) => new Uint8Array([i & 0xff, (i >> 8) & 0xff, 7]);
  lru.setNum!('S:blk', 12, v(12));
  assert.equal(Array.from(lru.get('S:blk:12')!), [12, 0, 7]);
  lru.set('S:blk:13', v(13));
  assert.equal((await lru.getNumList!('S:blk', [13, 12, 14, 1 << 30])).map((x) => x && x[0]), [13, 12, undefined, undefined]);
  // not canonical numbers, or too large for a small integer: plain string keys, still found by either call
  lru.set('S:blk:012', v(99));
  assert.is(lru.get('S:blk:12')![0], 12);
  assert.is(lru.get('S:blk:012')![0], 99);
  lru.setNum!('S:blk', 2 ** 31, v(31));
  assert.is(lru.get(`S:blk:${2 ** 31}`)![0], 31);
  assert.is((await lru.getNumList!('S:blk', [2 ** 31]))[0]![0], 31);
  lru.set('P:blk:instance:7', v(7)); // a label value of digits: a prefix of its own
  assert.is(lru.get('P:blk:instance:7')![0], 7);
  assert.is(lru.get('P:blk:instance:07'), undefined);
  // replacing keeps one entry and its accounting (key bytes counted as the key's length)
  const before = lru.sizeBytes;
  lru.set('S:blk:12', new Uint8Array(10));
  assert.is(lru.size, 5);
  assert.is(lru.sizeBytes, before + 7);
  assert.is(lru.get('S:blk:12')!.length, 10);
  const keyLen = 'S:blk:12'.length;
  const lru2 = new InMemoryLru(1 << 20);
  lru2.setNum!('S:blk', 12, new Uint8Array(10));
  const lru3 = new InMemoryLru(1 << 20);
  lru3.set('S:blk:12', new Uint8Array(10));
  assert.is(lru2.sizeBytes, keyLen * 2 + 10 + 48);
  assert.is(lru3.sizeBytes, lru2.sizeBytes);
});

test('LRU: eviction order, replaced keys and dropped slabs under churn', () => {
  const lru = new InMemoryLru(50_000, 10_000);
  const seen: string[] = [];
  let evictedBytes = 0;
  lru.observer = { added() {}, removed(key, vb, _kb, ev) { if (ev) { seen.push(key); evictedBytes += vb; } }, overflowed() {} };
  for (let i = 0; i < 200; i++) lru.setNum!('S:b', i, new Uint8Array(400).fill(i & 0xff));
  // the oldest were evicted first, by their full key
  assert.equal(seen.slice(0, 3), ['S:b:0', 'S:b:1', 'S:b:2']);
  assert.ok(lru.sizeBytes <= 50_000);
  // many replacements of the same keys without evictions: the queue's dead slots are reclaimed
  const small = new InMemoryLru(1 << 24);
  for (let r = 0; r < 50; r++) for (let i = 0; i < 100; i++) small.setNum!('S:b', i, new Uint8Array(8).fill(r));
  assert.is(small.size, 100);
  assert.is(small.get('S:b:99')![0], 49);
  assert.ok((small as unknown as { q: Int32Array }).q.length <= 2048, 'queue stays bounded');
  // every value intact after heavy churn with second chances
  const lru4 = new InMemoryLru(300_000, 100_000);
  const val = (i: number) => new Uint8Array(30 + (i % 50)).map((_, k) => (i + k) & 0xff);
  for (let i = 0; i < 20_000; i++) {
    lru4.setNum!('S:c', i, val(i));
    if (i % 3 === 0) lru4.get(`S:c:${i - 100}`);
  }
  let live = 0;
  let valueBytes = 0;
  for (let i = 0; i < 20_000; i++) {
    const got = lru4.get(`S:c:${i}`);
    if (got) {
      live++;
      valueBytes += got.length;
      assert.equal(Array.from(got), Array.from(val(i)), `S:c:${i}`);
    }
  }
  assert.is(live, lru4.size);
  const slabs = (lru4 as unknown as { slabs: Array<Uint8Array | undefined> }).slabs.filter(Boolean).length;
  // slabs whose values were all evicted are let go (not kept for the cache's lifetime)
  assert.ok(slabs <= Math.ceil(valueBytes / 65536) + 1, `${slabs} slabs held for ${valueBytes} value bytes`);
});

test('LRU: an empty value stored first, into a cache with no slab yet, and empty values among others', () => {
  // A fresh store gateway whose first query matched no series in a block cached an empty postings
  // list as the LRU's first value: there was no current slab yet, and the block's Series answer
  // failed ("Cannot read properties of undefined (reading 'set')", a warning naming the block).
  const c = new InMemoryLru(1 << 20);
  c.set('E:01B:empty', new Uint8Array(0));
  assert.is(c.get('E:01B:empty')?.byteLength, 0);
  c.set('E:01B:empty', new Uint8Array(0)); // replaced by itself
  c.set('E:01B:small', bytes(10, 7));
  c.set('E:01B:empty2', new Uint8Array(0));
  assert.equal([...c.get('E:01B:small')!], [...bytes(10, 7)]);
  assert.is(c.get('E:01B:empty')?.byteLength, 0);
  assert.is(c.get('E:01B:empty2')?.byteLength, 0);
});

test('Series whose matchers select nothing in a block, as a fresh store\'s first query: no block error', async () => {
  const core = createJsCore();
  const T0 = 1_700_000_000_000;
  const bucket = new MemoryBucket();
  // 300 series per metric name: each name's postings list (1.2 KB) is over the LRU's small-value
  // size, so it is kept in a buffer of its own and no slab exists when the empty list is stored.
  const series = genSeries(900, T0, T0 + 3600_000, 600_000);
  await writeRawBlock(bucket, core, series, T0, T0 + 3600_000, { zone: 'a' });
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core }, meta), indexCache: createIndexCache(parseIndexCacheConfig(undefined, 8 << 20)) });
  await store.sync();
  const name = series[0]!.labels.find((l) => l.name === '__name__')!.value;
  const out = [];
  const warnings: string[] = [];
  for await (const s of store.series({ minTime: T0, maxTime: T0 + 3600_000, matchers: [{ type: '=', name: '__name__', value: name }, { type: '=', name: 'instance', value: 'no-such-instance' }] }, undefined, (w) => warnings.push(w))) out.push(s);
  assert.is(out.length, 0);
  assert.equal(warnings, []);
  // And the cache still answers the block's other series afterwards.
  for await (const s of store.series({ minTime: T0, maxTime: T0 + 3600_000, matchers: [{ type: '=', name: '__name__', value: name }] })) out.push(s);
  assert.ok(out.length > 0);
});

test('config parsing', () => {
  const d = parseIndexCacheConfig(undefined, 1000);
  assert.equal(d, { type: 'IN-MEMORY', maxSize: 1000, maxItemSize: 500, enabledItems: ['Postings', 'ExpandedPostings', 'Series'] });
  const m = parseIndexCacheConfig('type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:11211"]\n  timeout: 1s\nenabled_items: [Postings]\nttl: 1h\n');
  assert.is(m.type, 'MEMCACHED');
  if (m.type === 'MEMCACHED') { assert.is(m.memcached.timeoutMs, 1000); assert.is(m.memcached.expirationSec, 3600); }
  assert.equal(m.enabledItems, ['Postings']);
  // config.timeout is a Go time.Duration (Thanos's memcached client config): 1.5s yes, 1d no
  const g = parseIndexCacheConfig({ type: 'MEMCACHED', config: { addresses: ['127.0.0.1:11211'], timeout: '1.5s' } });
  if (g.type === 'MEMCACHED') assert.is(g.memcached.timeoutMs, 1500);
  assert.throws(() => parseIndexCacheConfig({ type: 'MEMCACHED', config: { addresses: ['127.0.0.1:11211'], timeout: '1d' } }), /config\.timeout: invalid duration "1d"/);
  assert.is(parseIndexCacheConfig({ type: 'in-memory', config: { max_size: '1MB' } }).type, 'IN-MEMORY');
  assert.throws(() => parseIndexCacheConfig('type: REDIS'), /REDIS is not supported/);
  assert.throws(() => parseIndexCacheConfig('type: FOO'), /unknown type/);
  assert.throws(() => parseIndexCacheConfig('type: MEMCACHED\nconfig: {}'), /addresses/);
  assert.throws(() => parseIndexCacheConfig('type: IN-MEMORY\nconfig: {max_sise: 1MB}'), /unknown field "max_sise"/);
  assert.throws(() => parseIndexCacheConfig('type: IN-MEMORY\nconfig: {max_size: 1MB, max_item_size: 2MB}'), /must not exceed/);
  assert.throws(() => parseIndexCacheConfig('enabled_items: [Chunks]\ntype: IN-MEMORY'), /unsupported item type/);
});

test('typed index cache over the LRU', async () => {
  const c = createIndexCache(parseIndexCacheConfig(undefined, 1 << 20));
  c.storePostings('B1', { name: 'a', value: 'x' }, bytes(10, 7));
  c.storeSeries('B1', 16, bytes(4, 3));
  const p = await c.fetchPostings('B1', [{ name: 'a', value: 'x' }, { name: 'a', value: 'y' }]);
  assert.is(p.size, 1);
  assert.is([...p.values()][0]![0], 7);
  assert.is((await c.fetchSeries('B2', [16])).size, 0, 'blocks do not share entries');
  assert.is((await c.fetchSeries('B1', [16, 32])).get(16)![0], 3);
  assert.equal(c.requests, { Postings: 2, ExpandedPostings: 0, Series: 3 });
  assert.equal(c.hits, { Postings: 1, ExpandedPostings: 0, Series: 1 });
});

test('series entries fetched as a list in ref order, over a getList backend and a getMulti-only one', async () => {
  const lru = createIndexCache(parseIndexCacheConfig(undefined, 1 << 20));
  // A backend without getList (memcached's shape): the same answers through getMulti.
  const inner = new InMemoryLru(1 << 20);
  const multiOnly = new IndexCache({ getMulti: (k) => inner.getMulti(k), set: (k, v) => inner.set(k, v) });
  for (const c of [lru, multiOnly]) {
    c.storeSeries('B1', 16, bytes(4, 3));
    c.storeSeries('B1', 7, bytes(2, 9));
    c.storeSeries('B2', 5, bytes(1, 1));
    const got = await c.fetchSeriesList('B1', new Uint32Array([7, 5, 16, 99]));
    assert.is(got.length, 4);
    assert.is(got[0]![0], 9);
    assert.is(got[1], undefined, 'B2 entries are not B1 entries');
    assert.is(got[2]![0], 3);
    assert.is(got[3], undefined);
    assert.equal(c.requests.Series, 4);
    assert.equal(c.hits.Series, 2);
    assert.equal(await c.fetchSeriesList('B1', []), []);
  }
  const off = createIndexCache({ type: 'IN-MEMORY', maxSize: 1 << 20, maxItemSize: 1 << 19, enabledItems: ['Postings'] });
  off.storeSeries('B1', 1, bytes(1, 1));
  assert.equal(await off.fetchSeriesList('B1', [1]), [undefined], 'Series items disabled: all misses');
});

test('Series from a warm index cache (series entries decoded for the window) equals the cold answer and the data', async () => {
  const core = createJsCore();
  const H2 = 2 * 3600_000;
  const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
  const bucket = new MemoryBucket();
  // 30 s steps: 240 samples per series, two chunks per series per block; two blocks.
  const series = genSeries(40, T0, T0 + 2 * H2, 30_000);
  await writeRawBlock(bucket, core, series.map((s) => ({ ...s, t: s.t.filter((t) => t < T0 + H2), v: s.v.filter((_, i) => s.t[i]! < T0 + H2) })), T0, T0 + H2, { zone: 'a' });
  await writeRawBlock(bucket, core, series.map((s) => ({ ...s, t: s.t.filter((t) => t >= T0 + H2), v: s.v.filter((_, i) => s.t[i]! >= T0 + H2) })), T0 + H2, T0 + 2 * H2, { zone: 'a' });
  const cache = createIndexCache(parseIndexCacheConfig(undefined, 8 << 20));
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core }, meta), indexCache: cache });
  await store.sync();
  const ms = [{ type: '=~' as const, name: '__name__', value: '.+' }];
  const windows: Array<[number, number]> = [[T0, T0 + 2 * H2], [T0 + 65 * 60_000, T0 + 70 * 60_000], [T0 + H2 - 60_000, T0 + H2 + 60_000], [T0 + 3 * H2, T0 + 4 * H2]];
  for (const [mint, maxt] of windows) {
    const read = async () => {
      const out = [];
      for await (const s of store.series({ minTime: mint, maxTime: maxt, matchers: ms })) out.push(s);
      return out;
    };
    const hitsBefore = cache.hits.Series;
    const cold = await read();
    const warm = await read();
    if (cold.length) assert.ok(cache.hits.Series > hitsBefore, 'the second read used cached series entries');
    assert.equal(warm.map((s) => [s.labels, s.chunks.map((c) => [c.minTime, c.maxTime, c.raw!.data.length])]), cold.map((s) => [s.labels, s.chunks.map((c) => [c.minTime, c.maxTime, c.raw!.data.length])]));
    const got = decodeResult(core, warm, mint, maxt);
    const want = expected(series, { zone: 'a' }, [], mint, maxt);
    assert.is(got.size, want.size);
    for (const [k, w] of want) assert.equal(got.get(k), w, k);
  }
});

test('cached series entries are the index\'s series bytes (Thanos\'s value under the same key); an entry in another format is refetched, not misread', async () => {
  const core = createJsCore();
  const H2 = 2 * 3600_000;
  const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
  const bucket = new MemoryBucket();
  const series = genSeries(30, T0, T0 + H2, 30_000);
  const ulid = await writeRawBlock(bucket, core, series, T0, T0 + H2, { zone: 'a' });
  // A memcached-shaped backend (string keys), so the test sees and plants values by key.
  const inner = new Map<string, Uint8Array>();
  const cache = new IndexCache({ getMulti: async (ks) => new Map(ks.filter((k) => inner.has(k)).map((k) => [k, inner.get(k)!])), set: (k, v) => inner.set(k, v.slice()) });
  const store = new BucketStore(bucket, { core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core }, meta), indexCache: cache });
  await store.sync();
  const read = async () => {
    const out = [];
    for await (const s of store.series({ minTime: T0, maxTime: T0 + H2, matchers: [{ type: '=~', name: '__name__', value: '.+' }] })) out.push(s);
    return decodeResult(core, out, T0, T0 + H2);
  };
  const want = expected(series, { zone: 'a' }, [], T0, T0 + H2);
  assert.equal(await read(), want);
  const idx = await IndexReader.open(bucketSource(bucket, `${ulid}/index`), { core });
  const refs = await idx.allPostings();
  const bodies = new Map<string, Uint8Array>();
  await idx.forEachSeries(refs, (k, b, f) => bodies.set(`S:${ulid}:${refs[k]}`, b.slice(f.start, f.end)));
  assert.is(bodies.size, series.length);
  for (const [k, body] of bodies) assert.equal(inner.get(k), body, k);
  // Entries another writer could have left under the keys: this store's earlier fixed-width format
  // (label symbol indexes as u32, chunk metas as f64), a truncated body, one with a trailing byte,
  // one whose label names are out of the index's order, one with a symbol out of range.
  const fixedWidth = (b: Uint8Array) => {
    const f = new SeriesFields();
    decodeSeriesFields(b, 0, b.length, f);
    const out = new Uint8Array(8 + f.nLabels * 8 + f.nChunks * 24);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, f.nLabels, true);
    dv.setUint32(4, f.nChunks, true);
    for (let i = 0; i < 2 * f.nLabels; i++) dv.setUint32(8 + 4 * i, f.labelRefs[i]!, true);
    for (let i = 0; i < 3 * f.nChunks; i++) dv.setFloat64(8 + f.nLabels * 8 + 8 * i, f.chunks[i]!, true);
    return out;
  };
  const swapped = (b: Uint8Array) => {
    const f = new SeriesFields();
    decodeSeriesFields(b, 0, b.length, f);
    assert.ok(f.nLabels >= 2 && b[1]! < 0x80 && b[2]! < 0x80 && b[3]! < 0x80 && b[4]! < 0x80, 'one-byte symbol references');
    const out = b.slice();
    out.set([b[3]!, b[4]!, b[1]!, b[2]!], 1); // the first two labels exchanged
    return out;
  };
  const foreign: Array<[string, (b: Uint8Array) => Uint8Array]> = [
    ['fixed-width', fixedWidth],
    ['truncated', (b) => b.subarray(0, b.length - 1)],
    ['trailing byte', (b) => Uint8Array.of(...b, 0)],
    ['label names out of order', swapped],
    ['symbol out of range', (b) => Uint8Array.of(1, 0x80, 0x80, 0x80, 0x01, 0, 0)],
  ];
  for (const [what, f] of foreign) {
    for (const [k, body] of bodies) inner.set(k, f(body));
    const hits = cache.hits.Series;
    assert.equal(await read(), want, what);
    assert.is(cache.hits.Series - hits, series.length, `${what}: a hit each, each refused`);
    for (const [k, body] of bodies) assert.equal(inner.get(k), body, `${what}: ${k} stored again as read`);
  }
});

test('in-memory index cache metrics: Thanos\'s names, per item type (and tenant), at 0 from the start', async () => {
  const reg = new Registry();
  // Room for two 60-byte entries (an entry costs its key, value and ~48 bytes): the third evicts one.
  const c = createIndexCache(parseIndexCacheConfig({ type: 'IN-MEMORY', config: { max_size: 300, max_item_size: 200 } }), { metrics: reg });
  for (const t of ['Postings', 'Series', 'ExpandedPostings']) {
    assert.is(sample(reg, `thanos_store_index_cache_requests_total{item_type="${t}",tenant="default-tenant"}`), 0, t);
    assert.is(sample(reg, `thanos_store_index_cache_hits_total{item_type="${t}",tenant="default-tenant"}`), 0, t);
    for (const m of ['items_added_total', 'items_evicted_total', 'items_overflowed_total', 'items', 'items_size_bytes', 'total_size_bytes']) {
      assert.is(sample(reg, `thanos_store_index_cache_${m}{item_type="${t}"}`), 0, `${m} ${t}`);
    }
  }
  assert.is(sample(reg, 'thanos_store_index_cache_max_size_bytes'), 300);
  assert.is(sample(reg, 'thanos_store_index_cache_max_item_size_bytes'), 200);
  c.storePostings('B1', { name: 'a', value: 'x' }, bytes(60));
  c.storeSeries('B1', 1, bytes(60));
  assert.is(sample(reg, 'thanos_store_index_cache_items{item_type="Postings"}'), 1);
  assert.is(sample(reg, 'thanos_store_index_cache_items_size_bytes{item_type="Series"}'), 60);
  c.storeSeries('B1', 2, bytes(60)); // evicts the oldest entry (the postings)
  assert.is(sample(reg, 'thanos_store_index_cache_items_added_total{item_type="Series"}'), 2);
  assert.is(sample(reg, 'thanos_store_index_cache_items_evicted_total{item_type="Postings"}'), 1);
  assert.is(sample(reg, 'thanos_store_index_cache_items{item_type="Postings"}'), 0);
  c.storeSeries('B1', 3, bytes(500));
  assert.is(sample(reg, 'thanos_store_index_cache_items_overflowed_total{item_type="Series"}'), 1);
  await c.fetchSeries('B1', [1, 2, 9]);
  assert.is(sample(reg, 'thanos_store_index_cache_requests_total{item_type="Series",tenant="default-tenant"}'), 3);
  assert.is(sample(reg, 'thanos_store_index_cache_hits_total{item_type="Series",tenant="default-tenant"}'), 2);
  assert.is(sample(reg, 'thanos_store_index_cache_fetch_duration_seconds_count{item_type="Series",tenant="default-tenant"}'), 1);
  assert.is(sample(reg, 'thanos_store_index_cache_stored_data_size_bytes_bucket{item_type="Series",tenant="default-tenant",le="512"}'), 3, 'sizes of the three series stored (one refused)');
});

test('memcached: set/get through a real memcached on loopback', async () => {
  mc = await startMemcached();
  const client = new MemcachedClient(tcpConnect, { addresses: [`127.0.0.1:${mc.port}`], timeoutMs: 2000, maxGetMultiBatchSize: 7 });
  await client.setSync('hello', new TextEncoder().encode('world\r\nwith crlf'));
  const got = await client.getMulti(['hello', 'missing']);
  assert.is(new TextDecoder().decode(got.get('hello')), 'world\r\nwith crlf');
  assert.ok(!got.has('missing'));
  // many keys, binary values, batching across several requests, pipelined on a few connections
  const vals = new Map<string, Uint8Array>();
  for (let i = 0; i < 200; i++) {
    const v = new Uint8Array(100 + (i * 37) % 3000);
    for (let j = 0; j < v.length; j++) v[j] = (i * 31 + j) & 255;
    vals.set(`key:${i}`, v);
    client.set(`key:${i}`, v);
  }
  await client.flush();
  assert.is(client.stats.setErrors, 0);
  const all = await client.getMulti([...vals.keys(), 'nope']);
  assert.is(all.size, 200);
  for (const [k, v] of vals) assert.equal(all.get(k), v, k);
  await client.close();
});

test('memcached: typed cache hashes unsafe keys, survives the server going away', async () => {
  const reg = new Registry();
  // A generous timeout: on a loaded machine 300 ms made a live server's answer a miss (a dead server still fails fast: the connection is refused).
  const cache = createIndexCache(parseIndexCacheConfig({ type: 'MEMCACHED', config: { addresses: [`127.0.0.1:${mc!.port}`], timeout: '5s' } }), { connect: tcpConnect, metrics: reg });
  const label = { name: 'path', value: 'a value with spaces and ünïcode ' + 'x'.repeat(300) };
  cache.storePostings('01BLOCK', label, bytes(64, 9));
  cache.storeExpandedPostings('01BLOCK', 'job="a",path=~".*"', bytes(8, 1));
  await (cache.backend as MemcachedClient).flush();
  const p = await cache.fetchPostings('01BLOCK', [label]);
  assert.is(p.get(label)?.[0], 9);
  assert.is((await cache.fetchExpandedPostings('01BLOCK', 'job="a",path=~".*"'))?.[0], 1);
  // The same request/hit metrics as the in-memory cache (Thanos's remote index cache).
  assert.is(sample(reg, 'thanos_store_index_cache_hits_total{item_type="Postings",tenant="default-tenant"}'), 1);
  assert.is(sample(reg, 'thanos_store_index_cache_requests_total{item_type="ExpandedPostings",tenant="default-tenant"}'), 1);
  assert.is(sample(reg, 'thanos_store_index_cache_requests_total{item_type="Series",tenant="default-tenant"}'), 0);
  await mc!.stop();
  const t0 = Date.now();
  const miss = await cache.fetchPostings('01BLOCK', [label]);
  assert.is(miss.size, 0, 'a dead cache is a miss, not an error');
  assert.ok(Date.now() - t0 < 20_000);
  cache.storeSeries('01BLOCK', 1, bytes(3));
  await (cache.backend as MemcachedClient).flush();
  assert.ok((cache.backend as MemcachedClient).stats.setErrors >= 1);
  await cache.close();
  assert.ok(cache instanceof IndexCache);
});

test.run();

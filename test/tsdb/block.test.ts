// Block library: matcher semantics vs brute force, label names/values, index-header over ranged
// bucket reads (and its reuse), tombstones, merge with one-to-one dedup, downsampling to
// AggrChunks, uploads with meta.json last.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  BlockWriter, BlockReader, memBlockSink, memBlockFiles, bucketBlockFiles, fsBlockFiles, fsBlockSink, bucketSource,
  loadIndexHeaderReader, uploadBlockFiles, uploadBlock, downloadBlock, mergeBlocks, downsampleBlock,
  decodeAggrChunk, aggrChunkGet, encodeTombstones, PartialBlockError, ENC_AGGR, ENC_XOR, AGGR_COUNT, AGGR_SUM, AGGR_COUNTER,
  type Tombstones, type SeriesSamples,
} from '../../lib/tsdb/mod.ts';
import { compileMatcher, matchLabels, labelsFromRecord, compareLabels, type Labels, type Matcher } from '../../lib/labels/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { fs, core, tmp, rng, promtool, rejects, HOUR } from './helpers.ts';
import { createFs } from '../../host/capabilities.ts';
import { Permissions } from '../../host/permissions.ts';

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const r = rng(7);
const series: { labels: Labels; t: Float64Array; v: Float64Array }[] = [];
for (let i = 0; i < 300; i++) {
  const rec: Record<string, string> = { __name__: ['up', 'http_requests_total', 'node_cpu_seconds_total'][i % 3]!, instance: `host-${i % 17}:9100`, job: ['node', 'api', 'db', ''][i % 4]! };
  if (i % 5 === 0) rec.env = ['prod', 'dev'][i % 2]!;
  if (i % 7 === 0) rec.path = `/api/v${i % 3}/items`;
  rec.id = String(i);
  for (const k of Object.keys(rec)) if (rec[k] === '') delete rec[k];
  const n = 50 + Math.floor(r() * 400);
  const t = new Float64Array(n), v = new Float64Array(n);
  for (let k = 0; k < n; k++) { t[k] = T0 + k * 15_000; v[k] = Math.floor(r() * 1000) / 10; }
  series.push({ labels: labelsFromRecord(rec), t, v });
}
series.sort((a, b) => compareLabels(a.labels, b.labels));

async function writeMem(list: typeof series, o: { minTime?: number; maxTime?: number; thanos?: any } = {}) {
  const sink = memBlockSink();
  const syms = new Set<string>();
  for (const s of list) for (const l of s.labels) { syms.add(l.name); syms.add(l.value); }
  const w = await BlockWriter.create(sink, syms, { core, minTime: o.minTime ?? T0, maxTime: o.maxTime ?? T0 + 2 * HOUR, thanos: o.thanos });
  for (const s of list) await w.addSeries(s.labels, s.t, s.v);
  const { meta } = await w.finish();
  return { files: sink.files, meta };
}

const MATCHERS: Matcher[][] = [
  [{ type: '=', name: '__name__', value: 'up' }],
  [{ type: '=', name: 'job', value: 'api' }, { type: '!=', name: 'instance', value: 'host-3:9100' }],
  [{ type: '=~', name: 'instance', value: 'host-1.*' }],
  [{ type: '=~', name: 'job', value: 'api|db' }, { type: '=~', name: '__name__', value: '.+' }],
  [{ type: '!~', name: 'job', value: 'api|db' }],
  [{ type: '=', name: 'env', value: '' }],
  [{ type: '=~', name: 'env', value: 'prod|' }],
  [{ type: '!=', name: 'env', value: '' }],
  [{ type: '=~', name: 'path', value: '/api/v[12]/.*' }, { type: '!~', name: 'job', value: '' }],
  [{ type: '=', name: 'job', value: 'nope' }],
  [{ type: '=~', name: '__name__', value: '.*' }],
  [{ type: '!~', name: 'job', value: '.*' }],
  [{ type: '=~', name: 'job', value: '(?i)API' }],
];

function brute(ms: Matcher[]): Labels[] {
  const cm = ms.map(compileMatcher);
  return series.filter((s) => matchLabels(cm, s.labels)).map((s) => s.labels);
}

let mem: Awaited<ReturnType<typeof writeMem>>;
const bucket = new MemoryBucket();

test.before(async () => {
  mem = await writeMem(series, { thanos: { labels: { cluster: 'eu1' }, downsample: { resolution: 0 }, source: 'test' } });
  await uploadBlockFiles(bucket, mem.files);
});

test('postings for matchers: Prometheus semantics, same answer as brute force (memory and bucket, full index and index-header)', async () => {
  const full = await BlockReader.open(memBlockFiles(mem.files, mem.meta.ulid), { core });
  const viaBucket = await BlockReader.open(bucketBlockFiles(bucket, mem.meta.ulid), { core, chunkWindow: 0 });
  const hdr = await loadIndexHeaderReader({ core, index: bucketSource(bucket, `${mem.meta.ulid}/index`), block: mem.meta.ulid, sampling: 4 });
  for (const ms of MATCHERS) {
    const want = brute(ms).map((l) => JSON.stringify(l));
    for (const [name, ir] of [['full', full.index], ['bucket', viaBucket.index], ['header', hdr]] as const) {
      const refs = await ir.postingsForMatchers(ms);
      const got: string[] = [];
      for await (const s of ir.seriesMany(refs)) got.push(JSON.stringify(s.labels));
      assert.equal(got, want, `${name} ${JSON.stringify(ms)}`);
    }
  }
});

test('label names and values, optionally restricted by matchers', async () => {
  const b = await BlockReader.open(memBlockFiles(mem.files), { core });
  const hdr = await loadIndexHeaderReader({ core, index: bucketSource(bucket, `${mem.meta.ulid}/index`), sampling: 3 });
  const names = [...new Set(series.flatMap((s) => s.labels.map((l) => l.name)))].sort();
  assert.equal(await b.index.labelNames(), names);
  assert.equal(await hdr.labelNames(), names);
  for (const name of ['job', 'instance', 'env', '__name__', 'id']) {
    const all = [...new Set(series.flatMap((s) => s.labels.filter((l) => l.name === name).map((l) => l.value)))].sort();
    assert.equal(await b.index.labelValues(name), all, name);
    assert.equal(await hdr.labelValues(name), all, `header ${name}`);
    for (const ms of MATCHERS.slice(0, 5)) {
      const want = [...new Set(brute(ms).flatMap((ls) => ls.filter((l) => l.name === name).map((l) => l.value)))].sort();
      assert.equal(await b.index.labelValues(name, ms), want, `${name} ${JSON.stringify(ms)}`);
      assert.equal(await hdr.labelValues(name, ms), want, `header ${name} ${JSON.stringify(ms)}`);
    }
  }
  const ms = [{ type: '=', name: 'job', value: 'api' }] as Matcher[];
  assert.equal(await b.index.labelNames(ms), [...new Set(brute(ms).flatMap((ls) => ls.map((l) => l.name)))].sort());
});

test('series, chunk metas and raw chunks by ref; samples read back exactly', async () => {
  const b = await BlockReader.open(bucketBlockFiles(bucket, mem.meta.ulid), { core });
  assert.is(b.meta.thanos?.labels.cluster, 'eu1');
  let i = 0;
  for await (const s of b.select([{ type: '=~', name: '__name__', value: '.+' }])) {
    const w = series[i++]!;
    assert.equal(s.labels, w.labels);
    assert.equal(Array.from(s.t.subarray(0, s.n)), Array.from(w.t));
    assert.equal(Array.from(s.v.subarray(0, s.n)), Array.from(w.v));
  }
  assert.is(i, series.length);
  const refs = await b.postings([{ type: '=', name: 'id', value: '42' }]);
  const s = await b.index.series(refs[0]!);
  assert.ok(s.chunks.length >= 1);
  const c = await b.chunk(s.chunks[0]!.ref);
  assert.is(c.encoding, ENC_XOR);
  assert.is(core.xorDecode(c.data).t[0], s.chunks[0]!.minTime);
});

test('index-header is built once with ranged reads and reused on restart; a corrupt one is rebuilt', async () => {
  const dir = join(tmp('hdr'), mem.meta.ulid);
  let gets = 0;
  const counting = Object.create(bucket) as MemoryBucket;
  counting.getRange = (n: string, o: number, l?: number) => { gets++; return bucket.getRange(n, o, l); };
  const a = await loadIndexHeaderReader({ core, index: bucketSource(counting, `${mem.meta.ulid}/index`), fs, dir });
  assert.ok(a.built);
  assert.ok(gets <= 5, `few ranged reads (${gets})`);
  const path = join(dir, 'index-header');
  const bytes = readFileSync(path);
  assert.is(bytes.readUInt32BE(0), 0xbaaad792);
  const b = await loadIndexHeaderReader({ core, index: bucketSource(bucket, `${mem.meta.ulid}/index`), fs, dir });
  assert.not.ok(b.built, 'reused');
  assert.equal(await b.labelValues('job'), await a.labelValues('job'));
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  const c = await loadIndexHeaderReader({ core, index: bucketSource(bucket, `${mem.meta.ulid}/index`), fs, dir });
  assert.ok(c.built, 'rebuilt after corruption');
});

test('store-gateway style open over a bucket: index-header, sizes from meta.json (no HEAD requests), ranged reads only', async () => {
  const calls: string[] = [];
  const rec = Object.create(bucket) as MemoryBucket;
  rec.attributes = (n: string) => { calls.push(`attributes ${n}`); return bucket.attributes(n); };
  rec.getRange = (n: string, o: number, l?: number) => { calls.push(`getRange ${n.slice(n.indexOf('/') + 1)}`); return bucket.getRange(n, o, l); };
  rec.get = (n: string) => { calls.push(`get ${n.slice(n.indexOf('/') + 1)}`); return bucket.get(n); };
  const dir = join(tmp('sg'), mem.meta.ulid);
  const b = await BlockReader.open(bucketBlockFiles(rec, mem.meta.ulid), { core, chunkWindow: 0, indexHeader: { fs, dir } });
  assert.ok(existsSync(join(dir, 'index-header')));
  assert.not.ok(calls.some((c) => c.startsWith('attributes')), calls.join(', '));
  assert.ok(calls.filter((c) => c.startsWith('get ')).every((c) => c === 'get meta.json'), 'only meta.json is fetched whole');
  calls.length = 0;
  const ms = [{ type: '=', name: 'job', value: 'api' }, { type: '=~', name: 'instance', value: 'host-1.*' }] as Matcher[];
  let n = 0;
  for await (const s of b.selectChunks(ms)) { n++; assert.ok(s.chunks.every((c) => c.encoding === ENC_XOR)); }
  assert.is(n, brute(ms).length);
  assert.ok(calls.length < 3 + 2 * n, `ranged reads: ${calls.length}`);
});

test('tombstones are honoured when asked', async () => {
  const files = new Map(mem.files);
  const b0 = await BlockReader.open(memBlockFiles(files), { core });
  const ref = (await b0.postings([{ type: '=', name: 'id', value: '10' }]))[0]!;
  const ts: Tombstones = new Map([[ref, [{ mint: T0 + 15_000, maxt: T0 + 60_000 }]]]);
  files.set('tombstones', encodeTombstones(ts));
  const b = await BlockReader.open(memBlockFiles(files), { core });
  const m = [{ type: '=', name: 'id', value: '10' }] as Matcher[];
  const honoured = (await b.select(m).next()).value as SeriesSamples;
  const raw = (await b.select(m, { honourTombstones: false }).next()).value as SeriesSamples;
  assert.is(raw.n - honoured.n, 4);
  assert.ok(Array.from(honoured.t.subarray(0, honoured.n)).every((t: number) => t < T0 + 15_000 || t > T0 + 60_000));
});

test('merge: replicas deduplicated one-to-one, other series kept, chunks copied when not overlapping', async () => {
  const a = await writeMem(series.slice(0, 200));
  const b = await writeMem(series.slice(100)); // 100 series in both blocks, identical samples
  const later = await writeMem(series.slice(0, 10).map((s) => ({ labels: s.labels, t: s.t.map((x) => x + 2 * HOUR), v: s.v })), { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR });
  const readers = await Promise.all([a, b, later].map((x) => BlockReader.open(memBlockFiles(x.files, x.meta.ulid), { core })));
  const out = tmp('merge');
  const meta = await mergeBlocks(readers, fsBlockSink(fs, out), core);
  assert.is(meta.minTime, T0);
  assert.is(meta.maxTime, T0 + 4 * HOUR);
  assert.is(meta.compaction.level, 2);
  assert.is(meta.compaction.sources!.length, 3);
  assert.is(meta.stats!.numSeries, series.length);
  const total = series.reduce((n, s) => n + s.t.length, 0) + series.slice(0, 10).reduce((n, s) => n + s.t.length, 0);
  assert.is(meta.stats!.numSamples, total);
  const m = await BlockReader.open(fsBlockFiles(fs, join(out, meta.ulid)), { core });
  const first = (await m.select([{ type: '=', name: 'id', value: series[0]!.labels.find((l) => l.name === 'id')!.value }]).next()).value!;
  assert.is(first.n, series[0]!.t.length * 2);
  const an = promtool('tsdb', 'analyze', out, meta.ulid);
  assert.is(an.code, 0, an.stderr);
});

test('downsampling writes AggrChunks (encoding 0xff) readable raw and per aggregate', async () => {
  const src = await BlockReader.open(memBlockFiles(mem.files, mem.meta.ulid), { core });
  const sink = memBlockSink();
  const meta = await downsampleBlock(src, 300_000, sink, core);
  assert.is(meta.thanos!.downsample.resolution, 300_000);
  assert.is(meta.thanos!.labels.cluster, 'eu1');
  const d = await BlockReader.open(memBlockFiles(sink.files, meta.ulid), { core });
  const m = [{ type: '=', name: 'id', value: '42' }] as Matcher[];
  const s = (await d.selectChunks(m).next()).value!;
  const want = series.find((x) => x.labels.some((l) => l.name === 'id' && l.value === '42'))!;
  let count = 0, sum = 0;
  for (const c of s.chunks) {
    assert.is(c.encoding, ENC_AGGR);
    const parts = decodeAggrChunk(c.data);
    assert.is(parts.filter(Boolean).length, 5);
    const cnt = core.xorDecode(aggrChunkGet(c.data, AGGR_COUNT).data);
    const sm = core.xorDecode(aggrChunkGet(c.data, AGGR_SUM).data);
    for (let i = 0; i < cnt.n; i++) { count += cnt.v[i]!; sum += sm.v[i]!; }
    assert.ok(core.xorDecode(aggrChunkGet(c.data, AGGR_COUNTER).data).n >= cnt.n + 2);
  }
  assert.is(count, want.t.length);
  assert.ok(Math.abs(sum - want.v.reduce((a, b) => a + b, 0)) < 1e-6);
  await rejects(async () => { for await (const _ of d.select(m)) { /* raw read of AggrChunks must fail */ } }, /AggrChunk/);
});

test('5m → 1h downsampling from AggrChunks keeps counts, sums, extremes and the counter total', async () => {
  // A 2-day raw block (so windows span many 5m chunks), with a counter reset in the middle.
  const lbl = labelsFromRecord({ __name__: 'c_total', job: 'x' });
  const n = 2 * 24 * 240; // 2 days at 15s
  const t = new Float64Array(n), v = new Float64Array(n);
  let c = 0;
  for (let i = 0; i < n; i++) { t[i] = T0 + i * 15_000; c = i === 5000 ? 3 : c + (i % 7); v[i] = c; }
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, ['__name__', 'c_total', 'job', 'x'], { core, minTime: T0, maxTime: T0 + 48 * HOUR, thanos: { labels: { a: 'b' }, downsample: { resolution: 0 }, source: 'test' } });
  await w.addSeries(lbl, t, v);
  await w.finish();
  const rawB = await BlockReader.open(memBlockFiles(sink.files), { core });
  const s5 = memBlockSink();
  const m5 = await downsampleBlock(rawB, 300_000, s5, core);
  const b5 = await BlockReader.open(memBlockFiles(s5.files), { core });
  const s1h = memBlockSink();
  const m1h = await downsampleBlock(b5, 3_600_000, s1h, core);
  assert.is(m1h.thanos!.downsample.resolution, 3_600_000);
  const b1h = await BlockReader.open(memBlockFiles(s1h.files), { core });
  const agg = async (b: BlockReader) => {
    let count = 0, sum = 0, min = Infinity, max = -Infinity, windows = 0, lastCounter = 0, lastRaw = NaN;
    for await (const s of b.selectChunks([{ type: '=', name: 'job', value: 'x' }])) {
      for (const ch of s.chunks) {
        const cn = core.xorDecode(aggrChunkGet(ch.data, AGGR_COUNT).data);
        const sm = core.xorDecode(aggrChunkGet(ch.data, AGGR_SUM).data);
        const mn = core.xorDecode(aggrChunkGet(ch.data, 2).data);
        const mx = core.xorDecode(aggrChunkGet(ch.data, 3).data);
        const ct = core.xorDecode(aggrChunkGet(ch.data, AGGR_COUNTER).data);
        windows += cn.n;
        for (let i = 0; i < cn.n; i++) { count += cn.v[i]!; sum += sm.v[i]!; min = Math.min(min, mn.v[i]!); max = Math.max(max, mx.v[i]!); }
        lastCounter = ct.v[ct.n - 2]!;
        lastRaw = ct.v[ct.n - 1]!;
      }
    }
    return { count, sum, min, max, windows, lastCounter, lastRaw };
  };
  const a5 = await agg(b5), a1 = await agg(b1h);
  assert.is(a5.count, n);
  assert.is(a1.count, n);
  assert.is(a1.sum, a5.sum);
  assert.is(a1.min, Math.min(...v));
  assert.is(a1.max, Math.max(...v));
  assert.is(a1.windows, 48);
  assert.is(a5.windows, 48 * 12);
  assert.is(a1.lastRaw, v[n - 1]);
  // Counter total: every increase, with the reset adding the post-reset value.
  let inc = v[0]!;
  for (let i = 1; i < n; i++) inc += v[i]! >= v[i - 1]! ? v[i]! - v[i - 1]! : v[i]!;
  assert.is(a1.lastCounter, inc);
  assert.is(m5.thanos!.downsample.resolution, 300_000);
});

test('overlapping chunks within a series are read in time order, one sample per timestamp', async () => {
  const { ENC_XOR: X } = await import('../../lib/tsdb/mod.ts');
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, ['__name__', 'o'], { core, minTime: T0, maxTime: T0 + HOUR });
  const mk = (ts: number[], vs: number[]) => ({ minTime: T0 + ts[0]!, maxTime: T0 + ts[ts.length - 1]!, encoding: X, data: core.xorEncode(Float64Array.from(ts, (x) => T0 + x), Float64Array.from(vs), ts.length) });
  await w.addSeriesChunks(labelsFromRecord({ __name__: 'o' }), [mk([0, 20, 40], [1, 2, 3]), mk([10, 20, 30, 50], [9, 8, 7, 6])]);
  await w.finish();
  const b = await BlockReader.open(memBlockFiles(sink.files), { core });
  const s = (await b.select([{ type: '=', name: '__name__', value: 'o' }]).next()).value as SeriesSamples;
  assert.equal(Array.from(s.t.subarray(0, s.n), (x) => x - T0), [0, 10, 20, 30, 40, 50]);
  assert.equal(Array.from(s.v.subarray(0, s.n)), [1, 9, 2, 7, 3, 6]);
});

test('upload puts meta.json last; a block without meta.json is partial and never read', async () => {
  const dir = tmp('upload');
  const w = await writeMem(series.slice(0, 5), { thanos: { labels: { a: 'b' }, downsample: { resolution: 0 }, source: 'test' } });
  // Materialise the memory block on disk, then upload it through a recording bucket.
  const blockDir = join(dir, w.meta.ulid);
  await fs.mkdir(join(blockDir, 'chunks'), { recursive: true });
  for (const [k, v] of w.files) writeFileSync(join(blockDir, k), v);
  const b2 = new MemoryBucket();
  const order: string[] = [];
  const rec = Object.create(b2) as MemoryBucket;
  rec.upload = (n: string, body: any) => { order.push(n.slice(n.indexOf('/') + 1)); return b2.upload(n, body); };
  const meta = await uploadBlock(rec, fs, blockDir);
  assert.equal(order, ['chunks/000001', 'index', 'meta.json']);
  assert.ok(meta.thanos!.files!.some((f) => f.rel_path === 'index' && f.size_bytes! > 0));
  await rejects(() => uploadBlock(b2, fs, blockDir, { meta: (m) => ({ ...m, thanos: { ...m.thanos!, labels: {} } }) }), /empty external labels/);
  // Partial: remove meta.json in the bucket.
  await b2.delete(`${w.meta.ulid}/meta.json`);
  await rejects(() => BlockReader.open(bucketBlockFiles(b2, w.meta.ulid), { core }), (e: unknown) => e instanceof PartialBlockError);
  await rejects(() => downloadBlock(b2, w.meta.ulid, fs, join(dir, 'dl')), (e: unknown) => e instanceof PartialBlockError);
  assert.not.ok(existsSync(join(dir, 'dl', w.meta.ulid)));
  // Complete again: download round trip.
  await uploadBlockFiles(b2, w.files);
  await fs.mkdir(join(dir, 'dl'), { recursive: true });
  const got = await downloadBlock(b2, w.meta.ulid, fs, join(dir, 'dl'));
  const rd = await BlockReader.open(fsBlockFiles(fs, got), { core });
  assert.is(rd.meta.stats!.numSeries, 5);
});

test('downloadBlock works through the host file capability (strict remove of missing paths)', async () => {
  const dir = tmp('dl-host');
  const w = await writeMem(series.slice(0, 3), { thanos: { labels: { a: 'b' }, downsample: { resolution: 0 }, source: 'test' } });
  const b = new MemoryBucket();
  await uploadBlockFiles(b, w.files);
  const hostFs = createFs(Permissions.all('component:test', { read: true, write: true }));
  await hostFs.mkdir(dir, { recursive: true });
  const got = await downloadBlock(b, w.meta.ulid, hostFs, dir);
  assert.ok(existsSync(join(got, 'meta.json')));
  // A second download replaces the existing copy.
  await downloadBlock(b, w.meta.ulid, hostFs, dir);
  assert.ok(existsSync(join(got, 'index')));
});

test.run();

// Store-gateway sharding in practice (issue #15): eight promtool-made 2h blocks in one FILESYSTEM
// bucket, served by
//  - two `thanos store` shards selecting blocks by `hashmod` 2 on `__block_id` (Thanos's documented
//    --selector.relabel-config example), checked against an independent md5 computation of the shard;
//  - two `thanos store` shards split in time by --max-time / --min-time in the middle of a block;
//  - one unsharded `thanos store`.
// Over the StoreAPI each shard serves only its blocks and advertises (Info) the range it really holds
// (clamped to --min-time/--max-time, as upstream BucketStore.TimeRange); a `thanos query` over each pair
// of shards answers exactly as one over the unsharded gateway.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialGrpc } from '../../host/server/grpc.ts';
import { seriesRequest, type Series } from '../../lib/proto/store.ts';
import type { InfoResponse } from '../../lib/proto/info.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { openBlock } from '../../lib/store/gateway/openblock.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { decodeResult, genSeries, writeRawBlock } from './fixtures.ts';
import {
  freePort, httpReady, openMetrics, promtoolBlocks, thanos, toBucket, waitFor, writeBucketConfig, type Fixture, type Proc,
} from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const H = 3600_000;
const H2 = 2 * H;
// Eight whole 2h blocks: the range starts on a 2h boundary; samples sit off the whole seconds.
const T0 = Math.floor((Date.now() - 3 * 86400_000) / H2) * H2;
const fx: Fixture = { start: T0, end: T0 + 8 * H2, stepMs: 60_000, offsetMs: 3217 };
/** The time split: inside the fourth block, so that block is served (clamped) by both time shards. */
const SPLIT = T0 + 7 * H;
const EXT = { cluster: 'shard-test' };

const dir = mkdtempSync(join(tmpdir(), 'store-sharding-'));
const core = createJsCore();
const procs: Proc[] = [];
const clients: StoreClient[] = [];

interface Gateway { name: string; grpc: number; http: number; client: StoreClient }
interface BlockMeta { ulid: string; minTime: number; maxTime: number }
let blocks: BlockMeta[] = [];
const gw: Record<string, Gateway> = {};
const queriers: Record<string, number> = {};

/** Thanos's documented sharding config: shard = md5(__block_id) mod 2, keep one shard. */
function hashmodConfig(shard: number): string {
  return JSON.stringify([
    { source_labels: ['__block_id'], modulus: 2, target_label: 'shard', action: 'hashmod' },
    { source_labels: ['shard'], regex: String(shard), action: 'keep' },
  ]);
}

/** Prometheus's hashmod, computed here independently: the low 8 bytes of md5, big-endian, mod m. */
function expectedShard(blockId: string, m: number): number {
  const d = createHash('md5').update(blockId).digest();
  return Number(d.readBigUInt64BE(8) % BigInt(m));
}

/** RFC3339 without fractional seconds (Go's layout). */
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

async function startGateway(name: string, extra: string[]): Promise<void> {
  const grpc = await freePort();
  const http = await freePort();
  const p = thanos(`store-${name}`, ['store', '--data-dir', join(dir, `data-${name}`), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`, ...extra], dir);
  procs.push(p);
  await waitFor(() => httpReady(http), STARTUP_MS * 2, `store ${name} ready`, p.logs);
  const client = new StoreClient(dialGrpc(`127.0.0.1:${grpc}`));
  clients.push(client);
  gw[name] = { name, grpc, http, client };
}

async function startQuerier(name: string, stores: string[]): Promise<void> {
  const http = await freePort();
  const args = ['query', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${await freePort()}`, '--endpoint.info-interval', '1s'];
  for (const s of stores) args.push('--endpoint', `127.0.0.1:${gw[s]!.grpc}`);
  const q = thanos(`query-${name}`, args, dir);
  procs.push(q);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${http}/api/v1/stores`)).json()) as any;
    return (r.data.store ?? []).filter((s: { lastError: string | null }) => s.lastError === null).length === stores.length;
  }, STARTUP_MS * 2, `querier ${name} sees its stores`, q.logs);
  queriers[name] = http;
}

test.before(async () => {
  writeFileSync(join(dir, 'data.om'), openMetrics(fx));
  const ids = await promtoolBlocks(join(dir, 'data.om'), join(dir, 'blocks'));
  toBucket(join(dir, 'blocks'), ids, join(dir, 'bucket'), EXT);
  writeBucketConfig(join(dir, 'bucket.yaml'), join(dir, 'bucket'));
  blocks = ids.map((id) => {
    const m = JSON.parse(readFileSync(join(dir, 'bucket', id, 'meta.json'), 'utf8'));
    return { ulid: id, minTime: m.minTime, maxTime: m.maxTime };
  }).sort((a, b) => a.minTime - b.minTime);
  await startGateway('all', []);
  await startGateway('hash0', ['--selector.relabel-config', hashmodConfig(0)]);
  await startGateway('hash1', ['--selector.relabel-config', hashmodConfig(1)]);
  await startGateway('early', ['--max-time', rfc3339(SPLIT)]);
  await startGateway('late', ['--min-time', rfc3339(SPLIT)]);
  await startQuerier('all', ['all']);
  await startQuerier('hash', ['hash0', 'hash1']);
  await startQuerier('time', ['early', 'late']);
});

test.after(async () => {
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function loadedBlocks(g: Gateway): Promise<string[]> {
  const r = (await (await fetch(`http://127.0.0.1:${g.http}/api/v1/blocks`)).json()) as { data: { blocks: Array<{ ulid: string }> } };
  return r.data.blocks.map((b) => b.ulid).sort();
}

/**
 * Every sample a gateway returns for all series over [mint, maxt]: series key → timestamps inside
 * [mint, maxt] (chunks go out whole, as upstream; the querier trims), plus every chunk's time range.
 */
async function samples(g: Gateway, mint: number, maxt: number): Promise<Map<string, number[]> & { chunks: Array<[number, number]> }> {
  const got: Series[] = [];
  const req = seriesRequest({ minTime: mint, maxTime: maxt, matchers: [{ type: '=~', name: '__name__', value: 'e2e_.+' }] });
  for await (const r of g.client.series(req, new AbortController().signal)) {
    if (r.type === 'series') got.push(r.series);
    else if (r.type === 'batch') got.push(...r.batch);
  }
  const out = Object.assign(new Map<string, number[]>(), { chunks: got.flatMap((s) => s.chunks.map((c): [number, number] => [c.minTime, c.maxTime])) });
  for (const [k, pts] of decodeResult(core, got, mint, maxt)) out.set(k, pts.t);
  return out;
}

function allTimestamps(m: Map<string, number[]>): number[] {
  return [...m.values()].flat();
}

const labelSetsOf = (info: InfoResponse) => info.labelSets.map((ls) => Object.fromEntries(ls.map((l) => [l.name, l.value])));

/**
 * Info's tsdb_infos, as upstream: one entry per run of touching blocks. promtool's blocks start at
 * their first sample and end one past their last, so they never touch: one entry per held block.
 */
function assertTsdbInfos(info: InfoResponse, held: BlockMeta[], what: string): void {
  const got = info.store!.tsdbInfos.map((t) => ({ labels: Object.fromEntries(t.labels.map((l) => [l.name, l.value])), minTime: t.minTime, maxTime: t.maxTime }));
  assert.equal(got, held.map((b) => ({ labels: EXT, minTime: b.minTime, maxTime: b.maxTime })), `${what} tsdb_infos`);
}

test('fixture: promtool made eight 2h blocks', () => {
  assert.is(blocks.length, 8, JSON.stringify(blocks));
  for (let i = 0; i < 8; i++) {
    assert.ok(blocks[i]!.minTime >= T0 + i * H2 && blocks[i]!.maxTime <= T0 + (i + 1) * H2, `block ${i} inside its 2h window`);
  }
});

test('hashmod shards: disjoint block sets that together are the bucket, each as md5 says', async () => {
  const all = await loadedBlocks(gw.all!);
  assert.equal(all, blocks.map((b) => b.ulid).sort());
  const s0 = await loadedBlocks(gw.hash0!);
  const s1 = await loadedBlocks(gw.hash1!);
  assert.equal(s0, all.filter((id) => expectedShard(id, 2) === 0));
  assert.equal(s1, all.filter((id) => expectedShard(id, 2) === 1));
  assert.equal(s0.filter((id) => s1.includes(id)), [], 'disjoint');
  assert.equal([...s0, ...s1].sort(), all, 'together all blocks');
});

test('hashmod shards: Info advertises the range of the blocks each holds, and the external labels', async () => {
  for (const name of ['hash0', 'hash1']) {
    const held = new Set(await loadedBlocks(gw[name]!));
    const mine = blocks.filter((b) => held.has(b.ulid));
    const info = await gw[name]!.client.info();
    assert.is(info.componentType, 'store');
    if (mine.length === 0) {
      // all eight blocks hashed to the other shard (1 in 128): nothing to advertise
      assert.ok(info.store!.minTime > info.store!.maxTime, `${name}: empty range`);
      continue;
    }
    assert.is(info.store!.minTime, Math.min(...mine.map((b) => b.minTime)), `${name} minTime`);
    assert.is(info.store!.maxTime, Math.max(...mine.map((b) => b.maxTime)), `${name} maxTime`);
    assert.equal(labelSetsOf(info), [EXT], `${name} label sets`);
    assertTsdbInfos(info, mine, name);
  }
  const whole = await gw.all!.client.info();
  assert.is(whole.store!.minTime, blocks[0]!.minTime);
  assert.is(whole.store!.maxTime, blocks[7]!.maxTime);
  assertTsdbInfos(whole, blocks, 'unsharded');
});

test('hashmod shards: Series returns exactly the samples of the blocks each holds; together the whole', async () => {
  const full = await samples(gw.all!, T0, T0 + 8 * H2);
  const parts = [await samples(gw.hash0!, T0, T0 + 8 * H2), await samples(gw.hash1!, T0, T0 + 8 * H2)];
  const fullTs = allTimestamps(full);
  assert.ok(fullTs.length > 10_000, `enough samples: ${fullTs.length}`);
  for (const [i, name] of ['hash0', 'hash1'].entries()) {
    const held = new Set(await loadedBlocks(gw[name]!));
    const mine = blocks.filter((b) => held.has(b.ulid));
    for (const t of allTimestamps(parts[i]!)) {
      assert.ok(mine.some((b) => t >= b.minTime && t < b.maxTime), `${name}: sample at ${t} outside its blocks`);
    }
    for (const [cmin, cmax] of parts[i]!.chunks) {
      assert.ok(mine.some((b) => cmin >= b.minTime && cmax < b.maxTime), `${name}: chunk [${cmin}, ${cmax}] outside its blocks`);
    }
  }
  // every series' samples = the union of both shards' samples for it, with no sample twice
  for (const [k, ts] of full) {
    const merged = [...(parts[0]!.get(k) ?? []), ...(parts[1]!.get(k) ?? [])].sort((a, b) => a - b);
    assert.equal(merged, ts, k);
  }
  assert.is(parts[0]!.size + parts[1]!.size >= full.size, true);
});

test('time shards: Info clamps to --max-time / --min-time as upstream; the split block is in both', async () => {
  const early = await gw.early!.client.info();
  const late = await gw.late!.client.info();
  assert.is(early.store!.minTime, blocks[0]!.minTime);
  assert.is(early.store!.maxTime, SPLIT, 'early: clamped to --max-time');
  assert.is(late.store!.minTime, SPLIT, 'late: clamped to --min-time');
  assert.is(late.store!.maxTime, blocks[7]!.maxTime);
  assert.equal(labelSetsOf(early), [EXT]);
  assert.equal(labelSetsOf(late), [EXT]);
  // tsdb_infos are the held blocks, not clamped (upstream TSDBInfos reads the block metas only)
  assertTsdbInfos(early, blocks.slice(0, 4), 'early');
  assertTsdbInfos(late, blocks.slice(3), 'late');
  // blocks overlapping the served range are loaded (upstream TimePartitionMetaFilter)
  assert.equal(await loadedBlocks(gw.early!), blocks.slice(0, 4).map((b) => b.ulid).sort());
  assert.equal(await loadedBlocks(gw.late!), blocks.slice(3).map((b) => b.ulid).sort());
});

test('time shards: Series never answers outside the served range; together the whole, no sample twice', async () => {
  const full = await samples(gw.all!, T0, T0 + 8 * H2);
  // Asked for everything, each shard answers only chunks that overlap its served range (chunks go
  // out whole, so samples just past the split can ride along; the querier trims and merges).
  const early = await samples(gw.early!, T0, SPLIT);
  const late = await samples(gw.late!, SPLIT, T0 + 8 * H2);
  const earlyWide = await samples(gw.early!, T0, T0 + 8 * H2);
  const lateWide = await samples(gw.late!, T0, T0 + 8 * H2);
  assert.ok(earlyWide.chunks.length > 0 && lateWide.chunks.length > 0);
  for (const [cmin] of earlyWide.chunks) assert.ok(cmin <= SPLIT, `early shard: chunk starting ${cmin} after --max-time`);
  for (const [, cmax] of lateWide.chunks) assert.ok(cmax >= SPLIT, `late shard: chunk ending ${cmax} before --min-time`);
  assert.ok(Math.max(...earlyWide.chunks.map((c) => c[1])) < T0 + 4 * H2, 'early shard: nothing from blocks after the split block');
  assert.ok(Math.min(...lateWide.chunks.map((c) => c[0])) >= T0 + 3 * H2, 'late shard: nothing from blocks before the split block');
  for (const [k, ts] of full) {
    // SPLIT is off the sample grid (samples sit at +3.217s), so no sample belongs to both
    const merged = [...(early.get(k) ?? []), ...(late.get(k) ?? [])].sort((a, b) => a - b);
    assert.equal(merged, ts, k);
  }
});

test('tsdb_infos: touching blocks of one label set join into one entry; a gap or another label set starts a new one', async () => {
  const bucket = new MemoryBucket();
  const series = genSeries(3, T0, T0 + 8 * H2, 60_000);
  const a = { cluster: 'a' };
  const b = { cluster: 'b' };
  // cluster a: [0,2h) [2h,4h) [4h,6h) touch; [10h,12h) after a gap; cluster b: one block inside a's run
  for (const i of [0, 1, 2, 5]) await writeRawBlock(bucket, core, series, T0 + i * H2, T0 + (i + 1) * H2, a);
  await writeRawBlock(bucket, core, series, T0 + H2, T0 + 2 * H2, b);
  const store = new BucketStore(bucket, {
    core, fetcher: new MetaFetcher(bucket), open: (meta) => openBlock({ bucket, core, fs: nodeFs(), dataDir: join(dir, 'inproc') }, meta),
  });
  try {
    await store.sync();
    const infos = store.tsdbInfos().sort((x, y) => x.labels.cluster!.localeCompare(y.labels.cluster!) || x.minTime - y.minTime);
    assert.equal(infos, [
      { labels: a, minTime: T0, maxTime: T0 + 3 * H2 },
      { labels: a, minTime: T0 + 5 * H2, maxTime: T0 + 6 * H2 },
      { labels: b, minTime: T0 + H2, maxTime: T0 + 2 * H2 },
    ]);
    assert.equal(store.timeRange(), { minTime: T0, maxTime: T0 + 6 * H2 });
  } finally {
    await store.close();
  }
});

async function promql(querier: string, path: string, params: Record<string, string>): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${queriers[querier]}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = (await r.json()) as { status: string; data: unknown; warnings?: unknown };
  assert.is(body.status, 'success', `${querier} ${path} ${JSON.stringify(params)}: ${JSON.stringify(body)}`);
  assert.is(body.warnings, undefined, `${querier}: no warnings`);
  return body.data;
}

/** Same result but for float noise in the last bits (summation order). */
function assertSameData(got: unknown, want: unknown, what: string): void {
  const norm = (x: unknown): unknown =>
    typeof x === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/.test(x) ? Number(Number(x).toPrecision(12)) : Array.isArray(x) ? x.map(norm)
      : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)])) : x;
  assert.equal(norm(got), norm(want), what);
}

test('a querier over either pair of shards answers as one over the unsharded gateway', async () => {
  const end = T0 + 8 * H2;
  const at = (ms: number) => String(ms / 1000);
  const instants: Array<[string, number]> = [
    ['sum(e2e_requests_total)', T0 + 3 * H + 10_000],
    ['sum(e2e_requests_total)', SPLIT + 30_000],
    ['count by (job) (e2e_requests_total)', T0 + 12 * H],
    ['count by (job, code) (count_over_time(e2e_requests_total[16h]))', end],
    ['sum by (job) (rate(e2e_requests_total[16h]))', end],
    ['sum(increase(e2e_requests_total[4h]))', SPLIT + 2 * H],
    ['avg_over_time(e2e_temperature[16h])', end],
  ];
  for (const [q, t] of instants) {
    const want = await promql('all', 'query', { query: q, time: at(t) });
    assert.ok(((want as { result: unknown[] }).result).length > 0, `${q}: non-empty`);
    for (const name of ['hash', 'time']) assertSameData(await promql(name, 'query', { query: q, time: at(t) }), want, `${name}: ${q} @ ${t}`);
  }
  const range = { query: 'sum by (code) (rate(e2e_requests_total[30m]))', start: at(T0 + 30 * 60_000), end: at(end), step: '600' };
  const want = await promql('all', 'query_range', range);
  assert.ok(((want as { result: Array<{ values: unknown[] }> }).result[0]!.values.length) > 90);
  for (const name of ['hash', 'time']) assertSameData(await promql(name, 'query_range', range), want, `${name}: range`);
});

test.run();

// Blocks the store gateway cannot serve (#21 item 8): a truncated or missing index, garbage
// meta.json, an unknown meta version, minTime after maxTime, corrupt chunk bytes. With partial
// response allowed each is a warning naming the block and the rest of the answer stands; with it
// disabled (strategy ABORT) the request fails naming the block, as Thanos's bucket store fails a
// Series call on a block error. Before: silently empty answers (and corrupt chunk bytes reached the
// querier as garbage).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import { storeServer, type StoreComponent } from '../../lib/store/gateway/component.ts';
import type { SeriesReq } from '../../lib/store/gateway/bucketstore.ts';
import { GrpcError, GrpcStatus } from '../../lib/sdk/mod.ts';
import { PartialResponseStrategy, seriesRequest } from '../../lib/proto/store.ts';
import { genSeries, writeRawBlock, testCtx, type TestCtx } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const te = new TextEncoder();
const dataDir = mkdtempSync(join(tmpdir(), 'store-broken-'));
test.after(() => rmSync(dataDir, { recursive: true, force: true }));
const series = genSeries(9, T0, T0 + 4 * H2, 60_000);
const all = [{ type: '=~' as const, name: '__name__', value: '.+' }];

async function start(bucket: MemoryBucket): Promise<{ comp: StoreComponent; ctx: TestCtx; stop(): Promise<void> }> {
  const ctx = testCtx(bucket, core, mkdtempSync(join(dataDir, 'd-')));
  const comp = await setupStore(ctx, plugin.parseConfig({ syncBlockDuration: '1h' }));
  const ac = new AbortController();
  const p = comp.run(ac.signal);
  await comp.ready;
  return { comp, ctx, stop: async () => { ac.abort(); await p; } };
}

async function query(comp: StoreComponent, req: Partial<SeriesReq>): Promise<{ series: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  const out: string[] = [];
  for await (const s of comp.store.series({ minTime: 0, maxTime: T0 + 100 * H2, matchers: all, ...req }, undefined, (w) => warnings.push(w))) {
    out.push(s.labels.map((l) => `${l.name}=${l.value}`).join(','));
  }
  return { series: out, warnings };
}

async function rejects(p: Promise<unknown>): Promise<GrpcError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, GrpcError);
    return e as GrpcError;
  }
  throw new Error('expected the request to fail');
}

async function rewriteMeta(b: MemoryBucket, id: string, f: (m: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const m = JSON.parse(new TextDecoder().decode(await readAll(await b.get(`${id}/meta.json`)))) as Record<string, unknown>;
  await b.upload(`${id}/meta.json`, te.encode(JSON.stringify(f(m))));
}

test('blocks that cannot be loaded: warnings naming each (partial response), an error naming one (ABORT)', async () => {
  const b = new MemoryBucket();
  const good = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'x' });
  const truncated = await writeRawBlock(b, core, series, T0 + H2, T0 + 2 * H2, { cluster: 'x' });
  const idx = await readAll(await b.get(`${truncated}/index`));
  await b.upload(`${truncated}/index`, idx.subarray(0, idx.length >> 1));
  const noIndex = await writeRawBlock(b, core, series, T0 + 2 * H2, T0 + 3 * H2, { cluster: 'x' });
  await b.delete(`${noIndex}/index`);
  const garbage = await writeRawBlock(b, core, series, T0 + 3 * H2, T0 + 4 * H2, { cluster: 'x' });
  await b.upload(`${garbage}/meta.json`, te.encode('{"ulid": garbage'));
  const v2 = await writeRawBlock(b, core, series, T0 + 3 * H2, T0 + 4 * H2, { cluster: 'v' });
  await rewriteMeta(b, v2, (m) => ({ ...m, version: 2 }));
  const inverted = await writeRawBlock(b, core, series, T0 + 3 * H2, T0 + 4 * H2, { cluster: 'i' });
  await rewriteMeta(b, inverted, (m) => ({ ...m, minTime: m.maxTime, maxTime: m.minTime }));

  const s = await start(b);
  try {
    assert.equal([...s.comp.store.blocks.keys()], [good]);
    assert.match(s.ctx.registry.render(), /thanos_bucket_store_block_load_failures_total 2/);

    // Partial response: the good block's series, one warning per broken block, each named.
    const r = await query(s.comp, {});
    assert.is(r.series.length, 9);
    const named = (id: string) => r.warnings.filter((w) => w.includes(id));
    for (const id of [truncated, noIndex, garbage, v2, inverted]) assert.is(named(id).length, 1, `${id} in ${r.warnings.join('\n')}`);
    assert.is(r.warnings.length, 5);
    assert.match(named(v2)[0]!, /unsupported version 2/);
    assert.match(named(inverted)[0]!, /minTime \d+ is after maxTime \d+/);
    assert.match(named(noIndex)[0]!, /could not be loaded/);

    // A block whose range or labels the request does not touch is not reported; one whose meta is
    // unreadable (range unknown) always is.
    const other = await query(s.comp, { matchers: [{ type: '=', name: 'cluster', value: 'nope' }] });
    assert.is(other.series.length, 0);
    assert.not.ok(other.warnings.some((w) => w.includes(truncated) || w.includes(noIndex)), other.warnings.join('\n'));
    assert.ok([garbage, v2, inverted].every((id) => other.warnings.some((w) => w.includes(id))), other.warnings.join('\n'));
    const early = await query(s.comp, { minTime: T0, maxTime: T0 + H2 - 1 });
    assert.not.ok(early.warnings.some((w) => w.includes(truncated) || w.includes(noIndex)), 'outside their time range');

    // Over the StoreAPI: warning frames; label calls carry them too.
    const srv = storeServer(s.comp.store);
    const req = seriesRequest({ minTime: T0 + H2, maxTime: T0 + 2 * H2, matchers: [{ type: '=', name: 'cluster', value: 'x' }] });
    const frames: string[] = [];
    for await (const f of srv.series(req, new AbortController().signal)) if (f.type === 'warning') frames.push(f.warning);
    assert.ok(frames.some((w) => w.includes(truncated)), frames.join('\n'));
    const ln = await srv.labelNames({ start: T0, end: T0 + 4 * H2, matchers: [], partialResponseDisabled: false, partialResponseStrategy: 0, withoutReplicaLabels: [], limit: 0 }, new AbortController().signal);
    assert.ok(ln.names.includes('cluster'));
    assert.ok([truncated, noIndex, garbage].every((id) => ln.warnings.some((w) => w.includes(id))), ln.warnings.join('\n'));

    // The block viewer API lists every block not served, with the reason.
    const api = await (await s.comp.fetch!(new Request('http://x/api/v1/blocks'))).json() as { data: { loadFailures: Record<string, string> } };
    assert.equal(Object.keys(api.data.loadFailures).sort(), [truncated, noIndex, garbage, v2, inverted].sort());

    // Partial response disabled (either way of saying it): the request fails naming a block.
    const e1 = await rejects(query(s.comp, { minTime: T0 + H2, maxTime: T0 + 2 * H2 - 1, matchers: [{ type: '=', name: 'cluster', value: 'x' }], partialResponseDisabled: true }));
    assert.is(e1.code, GrpcStatus.Aborted);
    assert.ok(e1.message.includes(truncated), e1.message);
    // A block whose meta.json is unusable has no known range: it would fail every strict request,
    // so under ABORT it is skipped (as Thanos's fetcher skips a corrupted meta), never an error.
    const onlyGarbage = await query(s.comp, { minTime: T0 + 3 * H2, maxTime: T0 + 4 * H2 - 1, matchers: [{ type: '=', name: 'cluster', value: 'nothing-here' }], partialResponseDisabled: true });
    assert.equal(onlyGarbage.warnings, []);
    const e2 = await rejects(s.comp.store.labelValues({ label: 'job', start: T0, end: T0 + 4 * H2, partialResponseStrategy: PartialResponseStrategy.ABORT }));
    assert.match(e2.message, /^block [0-9A-Z]{26} could not be loaded/);
  } finally {
    await s.stop();
  }
});

test('corrupt chunk bytes: that block is a warning (CRC checked when reading), the query still answers', async () => {
  const b = new MemoryBucket();
  const good = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'x' });
  const bad = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'g' });
  const seg = (await readAll(await b.get(`${bad}/chunks/000001`))).slice();
  seg[8 + 5] ^= 0x55; // inside the first chunk's data (header 8 bytes, then len, encoding, data)
  await b.upload(`${bad}/chunks/000001`, seg);
  const s = await start(b);
  try {
    assert.equal([...s.comp.store.blocks.keys()].sort(), [good, bad].sort(), 'the index is fine: both load');
    const r = await query(s.comp, {});
    assert.is(r.series.length, 9, 'the good block answers');
    assert.ok(r.series.every((l) => l.includes('cluster=x')));
    assert.is(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(r.warnings[0]!, new RegExp(`block ${bad}: reading chunks: .*checksum mismatch`));
    // skip_chunks never reads chunks: no warning.
    assert.is((await query(s.comp, { skipChunks: true })).warnings.length, 0);
    const e = await rejects(query(s.comp, { partialResponseStrategy: PartialResponseStrategy.ABORT }));
    assert.match(e.message, new RegExp(`block ${bad}: reading chunks: .*checksum mismatch`));
  } finally {
    await s.stop();
  }
});

test.run();

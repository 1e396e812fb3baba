import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import plugin, { setupStore } from '../../plugins/component/store/mod.ts';
import type { StoreComponent } from '../../lib/store/gateway/component.ts';
import { genSeries, writeRawBlock, testCtx, type TestCtx } from './fixtures.ts';
import { BlockWriter, memBlockSink } from '../../lib/tsdb/writer.ts';
import { uploadFiles } from './fixtures.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor(1_700_000_000_000 / H2) * H2;
const te = new TextEncoder();
const dataDir = mkdtempSync(join(tmpdir(), 'store-life-'));
test.after(() => rmSync(dataDir, { recursive: true, force: true }));

async function start(bucket: MemoryBucket, cfg: Record<string, unknown> = {}): Promise<{ comp: StoreComponent; ctx: TestCtx; stop(): Promise<void> }> {
  const ctx = testCtx(bucket, core, dataDir);
  const comp = await setupStore(ctx, plugin.parseConfig({ syncBlockDuration: '1h', ...cfg }));
  const ac = new AbortController();
  const p = comp.run(ac.signal);
  await comp.ready;
  return { comp, ctx, stop: async () => { ac.abort(); await p; } };
}

async function count(comp: StoreComponent): Promise<number> {
  let n = 0;
  for await (const _ of comp.store.series({ minTime: 0, maxTime: T0 + 100 * H2, matchers: [{ type: '=~', name: '__name__', value: '.+' }] })) n++;
  return n;
}

const series = genSeries(9, T0, T0 + 4 * H2, 60_000);
const bucket = new MemoryBucket();
const ids: string[] = [];

test('restart reuses index-headers from --data-dir', async () => {
  for (let b = 0; b < 3; b++) ids.push(await writeRawBlock(bucket, core, series, T0 + b * H2, T0 + (b + 1) * H2, { cluster: 'x' }));
  const s1 = await start(bucket);
  assert.equal(s1.comp.headerStats, { built: 3, reused: 0 });
  for (const id of ids) assert.ok(existsSync(join(dataDir, id, 'index-header')), `index-header of ${id}`);
  assert.is(await count(s1.comp), 9);
  await s1.stop();
  const s2 = await start(bucket);
  assert.equal(s2.comp.headerStats, { built: 0, reused: 3 });
  assert.is(await count(s2.comp), 9);
  await s2.stop();
  // A damaged index-header is rebuilt, not trusted.
  writeFileSync(join(dataDir, ids[0]!, 'index-header'), 'garbage');
  const s3 = await start(bucket);
  assert.equal(s3.comp.headerStats, { built: 1, reused: 2 });
  assert.ok(s3.ctx.logs.some((l) => l.includes('index-header unusable')));
  assert.is(await count(s3.comp), 9);
  await s3.stop();
});

test('a deleted block disappears after the next sync; local state is removed', async () => {
  const s = await start(bucket);
  const before = (await s.comp.store.labelValues({ label: 'cluster', start: 0, end: T0 + 100 * H2 }));
  assert.equal(before, ['x']);
  const last = ids[2]!;
  for await (const n of bucket.iter(`${last}/`, { recursive: true })) await bucket.delete(n);
  // still served until the sync
  assert.is(s.comp.store.blocks.size, 3);
  await s.comp.reload!();
  assert.is(s.comp.store.blocks.size, 2);
  assert.ok(!existsSync(join(dataDir, last)));
  assert.is(s.comp.info().store!.maxTime, T0 + 2 * H2);
  assert.ok(!(await (await s.comp.fetch!(new Request('http://x/api/v1/blocks'))).text()).includes(last));
  await s.stop();
});

test('POST /api/v1/blocks/mark writes markers; a deletion mark hides the block after the delay', async () => {
  const s = await start(bucket, { ignoreDeletionMarksDelay: '0s', disableAdminOperations: false });
  const id = ids[1]!;
  const post = (q: string) => s.comp.fetch!(new Request(`http://x/api/v1/blocks/mark?${q}`, { method: 'POST', headers: { 'x-requested-with': 'curl' } }));
  assert.is((await post('id=nope&action=DELETION')).status, 400);
  assert.is((await post(`id=${id}&action=EXPLODE`)).status, 400);
  const r = await s.comp.fetch!(new Request('http://x/api/v1/blocks/mark', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, action: 'NO_COMPACTION', detail: 'manual' }) }));
  assert.is(r.status, 200, await r.clone().text());
  assert.ok(await bucket.exists(`${id}/no-compact-mark.json`));
  await s.comp.reload!();
  assert.ok(s.comp.store.blocks.has(id), 'no-compact marks do not matter to the store');
  assert.is((await post(`id=${id}&action=DELETION&detail=test`)).status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  await s.comp.reload!();
  assert.ok(!s.comp.store.blocks.has(id));
  await s.stop();
  const s2 = await start(bucket, { disableAdminOperations: true });
  assert.is((await s2.comp.fetch!(new Request(`http://x/api/v1/blocks/mark?id=${ids[0]}&action=DELETION`, { method: 'POST', headers: { 'x-requested-with': 'curl' } }))).status, 403);
  await s2.stop();
});

test('the mark endpoint is off unless enabled explicitly, and refuses what a cross-site form can send (#21 item 9)', async () => {
  const id = ids[0]!;
  const jsonBody = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, action: 'DELETION' }) };
  // Default (flag not given): off, with a message naming the flag that enables it.
  const s = await start(bucket);
  const r0 = await s.comp.fetch!(new Request('http://x/api/v1/blocks/mark', jsonBody));
  assert.is(r0.status, 403);
  assert.match(await r0.text(), /--no-disable-admin-operations/);
  await s.stop();
  assert.not.ok(await bucket.exists(`${id}/deletion-mark.json`));

  const s2 = await start(bucket, { disableAdminOperations: false });
  // What a form on another site posts without a preflight: urlencoded, multipart, text/plain, or a bare POST.
  const simple: RequestInit[] = [
    { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `id=${id}&action=DELETION` },
    { method: 'POST', body: (() => { const f = new FormData(); f.set('id', id); f.set('action', 'DELETION'); return f; })() },
    { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ id, action: 'DELETION' }) },
  ];
  for (const init of simple) {
    const r = await s2.comp.fetch!(new Request(`http://x/api/v1/blocks/mark?id=${id}&action=DELETION`, init));
    assert.is(r.status, 403, String(init.headers ? JSON.stringify(init.headers) : 'multipart'));
    assert.match(await r.text(), /JSON body|X-Requested-With/);
  }
  // A JSON body from a foreign origin (a CORS layer in front would let it through) is refused too.
  const foreign = await s2.comp.fetch!(new Request('http://x/api/v1/blocks/mark', { ...jsonBody, headers: { ...jsonBody.headers, origin: 'https://evil.example' } }));
  assert.is(foreign.status, 403);
  assert.not.ok(await bucket.exists(`${id}/deletion-mark.json`), 'no simple request wrote a mark');
  // Bad JSON: 400 naming the problem.
  const badJson = await s2.comp.fetch!(new Request('http://x/api/v1/blocks/mark', { ...jsonBody, body: '{"id": 1}' }));
  assert.is(badJson.status, 400);
  assert.match(await badJson.text(), /must be a string/);
  // Same-origin JSON: accepted.
  const ok = await s2.comp.fetch!(new Request('http://x/api/v1/blocks/mark', { ...jsonBody, headers: { ...jsonBody.headers, origin: 'http://x' } }));
  assert.is(ok.status, 200, await ok.clone().text());
  assert.ok(await bucket.exists(`${id}/deletion-mark.json`));
  await bucket.delete(`${id}/deletion-mark.json`);
  await s2.stop();
});

test('partial uploads, deletion marks, corrupt blocks, time and relabel filters', async () => {
  const b = new MemoryBucket();
  const good = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'x' });
  const other = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'y' });
  const third = await writeRawBlock(b, core, series, T0, T0 + H2, { cluster: 'z' });
  // partial: no meta.json
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, ['__name__', 'up'], { core, minTime: T0, maxTime: T0 + H2, thanos: { labels: { cluster: 'x' }, downsample: { resolution: 0 }, source: 'test' } });
  await w.addSeries([{ name: '__name__', value: 'up' }], new Float64Array([T0]), new Float64Array([1]));
  const { meta } = await w.finish();
  await uploadFiles(b, meta.ulid, sink.files, { skipMeta: true });
  // corrupt: index bytes destroyed
  const bad = await writeRawBlock(b, core, series, T0 + H2, T0 + 2 * H2, { cluster: 'x' });
  await b.upload(`${bad}/index`, te.encode('this is not an index'));
  // marked for deletion long ago
  const marked = await writeRawBlock(b, core, series, T0 + 2 * H2, T0 + 3 * H2, { cluster: 'x' });
  await b.upload(`${marked}/deletion-mark.json`, te.encode(JSON.stringify({ id: marked, version: 1, deletion_time: Math.floor(Date.now() / 1000) - 3 * 86400 })));
  const s = await start(b, {
    selectorRelabelConfig: '- action: drop\n  source_labels: [cluster]\n  regex: "y"\n',
    minTime: new Date(T0 - H2).toISOString(),
    maxTime: '9999-12-31T23:59:59Z',
  });
  const loaded = [...s.comp.store.blocks.keys()].sort();
  assert.equal(loaded, [good, third].sort());
  assert.ok(!loaded.includes(other), 'relabel drop');
  assert.ok(s.comp.store.loadFailures.get(bad)?.includes('corrupt block'), s.comp.store.loadFailures.get(bad));
  assert.match(s.ctx.registry.render(), /thanos_bucket_store_block_load_failures_total 1/);
  assert.ok(s.ctx.logs.some((l) => l.includes('level=error') && l.includes(bad)));
  assert.is(await count(s.comp), 18, 'the rest keep serving');
  assert.ok(s.ctx.ready);
  await s.stop();
  // time filter with a relative max-time excludes everything old
  const s2 = await start(b, { maxTime: new Date(T0 - 1).toISOString(), minTime: '0000-01-01T00:00:00Z' });
  assert.is(s2.comp.store.blocks.size, 0);
  await s2.stop();
  // unknown options and bad values fail config parsing with the key named
  assert.throws(() => plugin.parseConfig({ syncBlockDurationx: '1m' }), /syncBlockDurationx: unknown store option/);
  assert.throws(() => plugin.parseConfig({ minTime: 'yesterday' }), /minTime/);
  assert.throws(() => plugin.parseConfig({ minTime: '2030-01-01T00:00:00Z', maxTime: '2020-01-01T00:00:00Z' }), /must not be after/);
  assert.throws(() => plugin.parseConfig({ indexCacheConfig: 'a', indexCacheConfigFile: 'b' }), /mutually exclusive/);
  await assert_rejects(setupStore(testCtx(b, core, dataDir), plugin.parseConfig({ indexCacheConfig: 'type: NOPE' })), /indexCacheConfig: index cache config: unknown type/);
  await assert_rejects(setupStore(testCtx(b, core, dataDir), plugin.parseConfig({ selectorRelabelConfig: '- action: hashmod\n  source_labels: [a]\n  target_label: b' })), /selectorRelabelConfig: .*modulus/);
  assert.ok(readdirSync(dataDir).length >= 0);
});

async function assert_rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected rejection');
}

test.run();

// --web.route-prefix, --web.external-prefix and --web.prefix-header on `thanos compact`, and
// --web.external-prefix and --web.prefix-header on `thanos store` (Thanos's flags of each), with the
// querier's semantics (lib/web/ui.ts): compact's viewer sits under the route prefix (default: the
// external prefix; the bare root redirects there); links use the external prefix, else the prefix
// header's sanitized value, else the route prefix. The store's viewer stays at the root, as in Thanos.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComponentContext } from '../../host/index.ts';
import { parseFlags } from '../../lib/sdk/flags.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import type { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { storeHttp } from '../../lib/store/gateway/http.ts';
import { webPrefixFor } from '../../lib/web/ui.ts';
import { setupCompact } from '../../plugins/component/compact/mod.ts';
import { compactFlags, parseCompactConfig } from '../../plugins/component/compact/config.ts';
import { parseStoreConfig, storeFlags } from '../../plugins/component/store/config.ts';
import { alignedStart, fsBucket, HOUR, putBlock } from '../compact/helpers.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';

const dir = mkdtempSync(join(tmpdir(), 'compact-store-prefix-'));
const bucket = fsBucket();

function compactCtx(): ComponentContext {
  return stubComponentCtx({ pluginId: 'component:compact', bucket: async () => bucket, dataDir: join(dir, 'data') });
}

/** `thanos compact` with these command-line flags; its fetch handler (the run loop is not started). */
async function compact(args: string[]) {
  const cfg = parseCompactConfig(parseFlags(args, compactFlags, { context: 'thanos compact' }).values);
  const comp = await setupCompact(compactCtx(), cfg);
  return (path: string, headers: Record<string, string> = {}) => comp.fetch!(new Request(`http://compact${path}`, { headers, redirect: 'manual' }));
}

test.before(async () => {
  await putBlock(bucket, { minTime: alignedStart(), maxTime: alignedStart() + 2 * HOUR, ext: { cluster: 'a' } });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('compact --web.route-prefix: viewer and API under the prefix only, links with it, root redirects', async () => {
  const get = await compact(['--web.route-prefix=/c/']);
  assert.is((await get('/loaded')).status, 404);
  assert.is((await get('/api/v1/blocks')).status, 404);
  assert.is((await get('/cx/loaded')).status, 404);
  const root = await get('/');
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/c/');
  const page = await get('/c/loaded');
  assert.is(page.status, 200);
  assert.match(await page.text(), 'href="/c/api/v1/blocks"');
  const api = await get('/c/api/v1/blocks');
  assert.is(api.status, 200);
  assert.match(await api.text(), '"cluster":"a"');
});

test('compact --web.external-prefix: the route prefix defaults to it; with a route prefix, links keep the external one', async () => {
  let get = await compact(['--web.external-prefix=/ext']);
  assert.is((await get('/loaded')).status, 404);
  assert.match(await (await get('/ext/')).text(), 'href="/ext/api/v1/blocks"');
  get = await compact(['--web.external-prefix=/proxy', '--web.route-prefix=/inner']);
  assert.is((await get('/proxy/')).status, 404);
  assert.match(await (await get('/inner/blocks')).text(), 'href="/proxy/api/v1/blocks"');
  assert.is((await get('/')).headers.get('location'), '/proxy/');
});

test('compact --web.prefix-header: links take the header (sanitized); ignored with --web.external-prefix; no prefix = root', async () => {
  let get = await compact(['--web.prefix-header=X-Forwarded-Prefix']);
  assert.match(await (await get('/loaded', { 'X-Forwarded-Prefix': 'https://evil.example/a/../via/' })).text(), 'href="/via/api/v1/blocks"');
  assert.match(await (await get('/loaded')).text(), 'href="/api/v1/blocks"');
  assert.is((await get('/api/v1/blocks')).status, 200);
  assert.is((await get('/elsewhere')).status, 404);
  get = await compact(['--web.prefix-header=X-Forwarded-Prefix', '--web.external-prefix=/ext']);
  assert.match(await (await get('/ext/loaded', { 'X-Forwarded-Prefix': '/via' })).text(), 'href="/ext/api/v1/blocks"');
});

test('compact and store: a prefix that is not an absolute path is refused naming it', () => {
  assert.throws(() => parseCompactConfig({ webRoutePrefix: 'c' }), /webRoutePrefix: must start with "\/"/);
  assert.throws(() => parseCompactConfig({ webExternalPrefix: 'x/' }), /webExternalPrefix: must start with "\/"/);
  assert.throws(() => parseStoreConfig({ webExternalPrefix: 'x' }), /webExternalPrefix.*must start with "\/"/);
});

test('store: Thanos has no --web.route-prefix on store, so it is refused; the other two parse', () => {
  assert.throws(() => parseFlags(['--web.route-prefix=/s'], storeFlags, { context: 'thanos store' }));
  const cfg = parseStoreConfig(parseFlags(['--web.external-prefix=/s/', '--web.prefix-header=X-P'], storeFlags, { context: 'thanos store' }).values);
  assert.is(cfg.externalPrefix, '/s');
  assert.is(cfg.prefixHeader, 'X-P');
});

test('store /loaded: served at the root; links with the external prefix, else the prefix header', async () => {
  const res = await new MetaFetcher(bucket, { concurrency: 1 }).fetch();
  // The part of the store the page reads: the loaded blocks and the last sync.
  const store = { blocks: new Map([...res.metas].map(([id, meta]) => [id, { id, meta }])), lastSync: res, lastSyncAt: new Date(), loadFailures: new Map<string, string>() } as unknown as BucketStore;
  let handler = storeHttp(store, { webDisable: false, prefixFor: webPrefixFor('', 'X-Forwarded-Prefix', '') });
  assert.match(await (await handler(new Request('http://s/loaded', { headers: { 'X-Forwarded-Prefix': '/via' } }))).text(), 'href="/via/api/v1/blocks"');
  assert.match(await (await handler(new Request('http://s/loaded'))).text(), 'href="/api/v1/blocks"');
  assert.is((await handler(new Request('http://s/via/loaded'))).status, 404);
  handler = storeHttp(store, { webDisable: false, prefixFor: webPrefixFor('/ext', 'X-Forwarded-Prefix', '') });
  assert.match(await (await handler(new Request('http://s/', { headers: { 'X-Forwarded-Prefix': '/via' } }))).text(), 'href="/ext/api/v1/blocks"');
});

test.run();

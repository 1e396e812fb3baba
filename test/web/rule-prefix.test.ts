// --web.route-prefix, --web.external-prefix and --web.prefix-header on the ruler and on `tools bucket
// web`, with the querier's semantics (lib/web/ui.ts): routes sit under the route prefix (default: the
// external prefix), links use the external prefix, else the prefix header's sanitized value, else
// the route prefix. The ruler's pages under a route prefix load in headless Chromium with every
// asset and API call answered and no console errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComponentContext } from '../../host/index.ts';
import { bucketWebHandler } from '../../lib/compact/web.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { webPrefixFor } from '../../lib/web/ui.ts';
import { createRule, parseRuleConfig } from '../../plugins/component/rule/mod.ts';
import { alignedStart, fsBucket, HOUR, putBlock } from '../compact/helpers.ts';
import { UiHarness } from './uiharness.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';

const h = new UiHarness();
const dir = mkdtempSync(join(tmpdir(), 'rule-prefix-'));
const core = createJsCore();

function ruleCtx(): ComponentContext {
  // No query API is reached: the rule's expression is only shown, and evaluation is not started.
  return stubComponentCtx({ pluginId: 'component:rule', core, addresses: { http: '127.0.0.1:10902' } });
}

async function ruler(flags: Record<string, string>) {
  const comp = await createRule(ruleCtx(), parseRuleConfig({ ruleFiles: [join(dir, 'a.yml')], queries: ['http://q:9090'], ...flags }));
  return (path: string, headers: Record<string, string> = {}) => comp.fetch!(new Request(`http://ruler${path}`, { headers, redirect: 'manual' }));
}

test.before(async () => {
  writeFileSync(join(dir, 'a.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: XHigh\n        expr: x > 1\n');
  await h.start();
});

test.after(async () => {
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ruler --web.route-prefix: routes under the prefix only, links and the root redirect with it', async () => {
  const get = await ruler({ webRoutePrefix: '/rule/' });
  assert.is((await get('/alerts')).status, 404);
  assert.is((await get('/rulex/alerts')).status, 404);
  const root = await get('/rule');
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/rule/alerts');
  const page = await get('/rule/alerts');
  assert.is(page.status, 200);
  assert.match(await page.text(), 'href="/rule/rules"');
  const api = await get('/rule/api/v1/rules');
  assert.is(api.status, 200);
  assert.match(await api.text(), '"XHigh"');
  assert.is((await get('/rule/api/v1/status/flags')).status, 200);
  assert.match(await (await get('/rule/api/v1/status/flags')).text(), '"web.route-prefix":"/rule"');
});

test('ruler --web.external-prefix: the route prefix defaults to it; with a route prefix, links keep the external one', async () => {
  let get = await ruler({ webExternalPrefix: '/ext' });
  assert.is((await get('/alerts')).status, 404);
  assert.match(await (await get('/ext/alerts')).text(), 'href="/ext/rules"');
  get = await ruler({ webExternalPrefix: '/proxy', webRoutePrefix: '/inner' });
  const page = await get('/inner/alerts');
  assert.is(page.status, 200);
  assert.match(await page.text(), 'href="/proxy/rules"');
  assert.is((await get('/inner')).headers.get('location'), '/proxy/alerts');
});

test('ruler --web.prefix-header: links take the header (sanitized); ignored when --web.external-prefix is set', async () => {
  let get = await ruler({ webPrefixHeader: 'X-Forwarded-Prefix' });
  assert.match(await (await get('/alerts', { 'X-Forwarded-Prefix': 'https://evil.example/a/../via' })).text(), 'href="/via/rules"');
  assert.match(await (await get('/alerts')).text(), 'href="/rules"');
  get = await ruler({ webPrefixHeader: 'X-Forwarded-Prefix', webExternalPrefix: '/ext' });
  assert.match(await (await get('/ext/alerts', { 'X-Forwarded-Prefix': '/via' })).text(), 'href="/ext/rules"');
});

test('ruler: a prefix that is not an absolute path is refused naming the flag', () => {
  assert.throws(() => parseRuleConfig({ queries: ['http://q:9090'], webRoutePrefix: 'rule' }), /webRoutePrefix: must start with "\/"/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q:9090'], webExternalPrefix: 'x/' }), /webExternalPrefix: must start with "\/"/);
});

test('ruler pages under a route prefix in Chromium: assets and API calls answered, no console errors', async () => {
  const get = await ruler({ webRoutePrefix: '/rule' });
  const base = await h.serve(async (req) => get(new URL(req.url).pathname + new URL(req.url).search, Object.fromEntries(req.headers)));
  const { page, errors } = await h.page();
  for (const p of ['alerts', 'rules']) {
    await page.goto(`${base}/rule/${p}`);
    await page.waitForLoadState('networkidle');
    assert.match(await page.textContent('body') ?? '', 'XHigh');
  }
  await page.screenshot({ path: join(h.artifacts, 'rule-prefix.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('tools bucket web handler: route prefix, links with the external prefix or the prefix header', async () => {
  const bucket = fsBucket();
  await putBlock(bucket, { minTime: alignedStart(), maxTime: alignedStart() + 2 * HOUR, ext: { cluster: 'a' } });
  const load = () => new MetaFetcher(bucket, { concurrency: 1 }).fetch();
  const handler = bucketWebHandler(load, { refreshMs: 60_000, label: '', prefix: '/bw', prefixFor: webPrefixFor('', 'X-Forwarded-Prefix', '/bw') });
  assert.is((await handler(new Request('http://x/'))).status, 404);
  assert.is((await handler(new Request('http://x/bwx/'))).status, 404);
  assert.match(await (await handler(new Request('http://x/bw/'))).text(), 'href="/bw/api/v1/blocks"');
  assert.match(await (await handler(new Request('http://x/bw/', { headers: { 'X-Forwarded-Prefix': '/via' } }))).text(), 'href="/via/api/v1/blocks"');
  assert.is((await handler(new Request('http://x/bw/api/v1/blocks'))).status, 200);
  const ext = bucketWebHandler(load, { refreshMs: 60_000, label: '', prefix: '/ext', prefixFor: webPrefixFor('/ext', 'X-Forwarded-Prefix', '/ext') });
  assert.match(await (await ext(new Request('http://x/ext/', { headers: { 'X-Forwarded-Prefix': '/via' } }))).text(), 'href="/ext/api/v1/blocks"');
});

test.run();

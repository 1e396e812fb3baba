// The querier UI's pages in headless Chromium against live queriers: every page loads with no
// console error or failed request and links the favicon; the UI works under --web.external-prefix
// (the route prefix defaults to it, as in Thanos) and behind a reverse proxy that strips its path and
// names it in --web.prefix-header; without the editor bundle the graph page falls back to a textarea,
// says so, and the log says so once. Screenshots go to a temp dir (printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uiRoutes } from '../../lib/web/ui.ts';
import { UI_DIR, UPLOT_DIR, UiHarness, waitDone } from './uiharness.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const h = new UiHarness();
let base = '';

test.before(async () => {
  await h.start();
  const q = await h.querier({});
  base = await h.serve((req) => q.comp.fetch!(req));
});

test.after(() => h.stop());

test('every page loads with no console error; favicon served', async () => {
  const { page, errors } = await h.page();
  for (const path of ['/graph', '/stores', '/alerts', '/rules', '/flags', '/status']) {
    const res = await page.goto(`${base}${path}`);
    assert.is(res?.status(), 200, path);
    // Every request the page makes has answered (the API calls of its script included).
    await page.waitForLoadState('networkidle');
    assert.ok(await page.$('link[rel="icon"]'), `${path} links a favicon`);
    assert.equal(errors, [], path);
  }
  await page.close();
  const ico = await fetch(`${base}/favicon.ico`);
  assert.is(ico.status, 200);
  assert.is(ico.headers.get('content-type'), 'image/svg+xml');
});

/** The graph page at `url` runs a query, with every link and asset under `prefix`. */
async function checkPrefixed(url: string, prefix: string, name: string): Promise<void> {
  const { page, errors } = await h.page();
  await page.goto(`${url}/graph?g0.expr=demo_errors_total&g0.tab=1`);
  await waitDone(page);
  assert.equal(await page.$$eval('.panel-box .result-table td.metric', (tds) => tds.map((td) => td.textContent)), ['demo_errors_total{cluster="eu", job="api"}']);
  const hrefs = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(hrefs.length >= 6 && hrefs.every((h) => h!.startsWith(`${prefix}/`)), JSON.stringify(hrefs));
  assert.is(await page.getAttribute('body', 'data-editor'), 'present');
  // Completion goes through the prefix too.
  await page.click('.panel-box .cm-content');
  await page.keyboard.press('Control+a');
  await page.keyboard.type('demo_err');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('.cm-tooltip-autocomplete li') as ArrayLike<any>)
    .some((li: any) => li.textContent.includes('demo_errors_total')), undefined, { timeout: 30_000 });
  await page.click('nav a[href$="/stores"]');
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'done', undefined, { timeout: 30_000 });
  assert.ok(page.url().startsWith(`${url}/stores`), page.url());
  await page.screenshot({ path: join(h.artifacts, `${name}.png`), fullPage: true });
  assert.equal(errors, []);
  await page.close();
}

test('--web.external-prefix: the UI and API are served under it (route prefix defaults to it), links carry it', async () => {
  const q = await h.querier({ webExternalPrefix: '/thanos' });
  const url = await h.serve((req) => q.comp.fetch!(req));
  const root = await fetch(`${url}/`, { redirect: 'manual' });
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/thanos/graph');
  await checkPrefixed(`${url}/thanos`, '/thanos', 'external-prefix');
});

test('--web.prefix-header: behind a proxy that strips its path and names it in the header', async () => {
  const q = await h.querier({ webPrefixHeader: 'X-Forwarded-Prefix' });
  // The reverse proxy: /proxy/... → the querier's /..., with X-Forwarded-Prefix: /proxy.
  const proxy = await h.serve(async (req) => {
    const u = new URL(req.url);
    if (!u.pathname.startsWith('/proxy/')) return new Response('not proxied\n', { status: 404 });
    const headers = new Headers(req.headers);
    headers.set('X-Forwarded-Prefix', '/proxy');
    const inner = new Request(`http://querier${u.pathname.slice('/proxy'.length)}${u.search}`, {
      method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer(),
    });
    return q.comp.fetch!(inner);
  });
  await checkPrefixed(`${proxy}/proxy`, '/proxy', 'prefix-header');
  // Without the header, the links are unprefixed; a header value is reduced to a clean path.
  const direct = await q.comp.fetch!(new Request('http://querier/graph'));
  assert.match(await direct.text(), 'href="/stores"');
  const dirty = await q.comp.fetch!(new Request('http://querier/graph', { headers: { 'X-Forwarded-Prefix': 'https://evil.example//a/./b/' } }));
  assert.match(await dirty.text(), 'href="/a/b/stores"');
});

test('without the editor bundle: a plain textarea, a notice on the page, one log line', async () => {
  const warnings: string[] = [];
  const ui = uiRoutes({
    readFile: async (p) => new Uint8Array(await readFile(p)), uiDir: UI_DIR, uplotDir: UPLOT_DIR, linkPrefix: '',
    editorFile: `${UI_DIR}build/no-such-editor.js`, warn: (m) => warnings.push(m),
  });
  const url = await h.serve((req) => ui.fetch(req));
  const { page, errors } = await h.page();
  for (let i = 0; i < 2; i++) {
    await page.goto(`${url}/graph`);
    await waitDone(page);
  }
  assert.is(await page.getAttribute('body', 'data-editor'), 'missing');
  assert.is(await page.isVisible('#editor-missing'), true);
  assert.is(await page.$$eval('.panel-box textarea.expr', (t) => t.length), 1);
  assert.is(await page.$('.cm-editor'), null);
  assert.is(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]!, /npm run build:ui/);
  assert.equal(errors, []);
  await page.close();
});

test.run();

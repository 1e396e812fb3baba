// The querier's graph page in headless Chromium (Debian chromium + playwright-core) against live
// queriers over in-memory stores: the CodeMirror PromQL editor completes metric names and label
// values from our API; several panels execute and live in the URL (g0.*, g1.*); the format button
// prettifies through /api/v1/format_query; explain shows the analyze=true operator tree; every page
// loads without a console error; the UI works under --web.external-prefix and behind a proxy that
// sets --web.prefix-header; without the editor bundle the page falls back to a textarea and the
// log says so once. Screenshots go to a temp dir (printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveFetch } from '../../host/server/listen.ts';
import type { HttpListener } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import { uiRoutes } from '../../lib/web/ui.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { MemClient, queryCtx, type QueryTestCtx } from '../query/ctx.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const core = createJsCore();
const ART = mkdtempSync(join(tmpdir(), 'thanos-web-ui-'));
const UI_DIR = new URL('../../plugins/component/query/ui/', import.meta.url).pathname;
const UPLOT_DIR = new URL('../../node_modules/uplot/dist/', import.meta.url).pathname;
const EDITOR = `${UI_DIR}build/editor.js`;
const NOW = Date.now();
const STEP = 15_000;

function series(): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (const [name, jobs] of [['demo_requests_total', ['api', 'db', 'web']], ['demo_errors_total', ['api']]] as const) {
    for (const job of jobs) {
      const t: number[] = [];
      const v: number[] = [];
      let acc = 0;
      for (let k = 0; k < 480; k++) {
        t.push(NOW - 2 * 3600_000 + k * STEP);
        acc += job.length + (k % 5);
        v.push(acc);
      }
      out.push({ labels: labelsFromRecord({ __name__: name, job }), t, v });
    }
  }
  return out;
}

interface Querier { comp: QueryComponent; ctx: QueryTestCtx; stop: AbortController; run: Promise<void> }
const queriers: Querier[] = [];
const listeners: HttpListener[] = [];
let browser: Browser;

async function startQuerier(config: Record<string, unknown>): Promise<Querier> {
  const store = MemoryStore.fromSamples(series(), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'eu' }) });
  const ctx = queryCtx(core);
  const comp = await setupQuery(ctx, parseQueryConfig({ endpoints: ['127.0.0.1:10901'], endpointInfoInterval: '200ms', ...config }), {
    clientFactory: (addr) => new MemClient(addr, store),
  });
  const stop = new AbortController();
  const run = comp.run(stop.signal);
  await comp.ready;
  const q = { comp, ctx, stop, run };
  queriers.push(q);
  return q;
}

async function serve(handler: (req: Request) => Response | Promise<Response>): Promise<string> {
  const l = await serveFetch('127.0.0.1', 0, handler);
  listeners.push(l);
  return `http://127.0.0.1:${l.address.port}`;
}

/** A page that records console errors, page errors and failed (>= 400) requests. */
async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  return { page, errors };
}

async function waitDone(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'done', undefined, { timeout: 30_000 });
}

/** Replaces panel i's expression (through the page's own editor API: typing would trigger completion). */
async function setExpr(page: Page, i: number, expr: string): Promise<void> {
  await page.evaluate(([n, e]) => window.thanosGraph.panels()[n].setExpr(e), [i, expr] as const);
}

let base = '';

test.before(async () => {
  // The editor bundle is a build product (`npm run build:ui`); a test run from a fresh clone builds it.
  try {
    readFileSync(EDITOR);
  } catch {
    execFileSync(process.execPath, [new URL('../../scripts/build-ui.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  }
  const q = await startQuerier({});
  base = await serve((req) => q.comp.fetch!(req));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  console.log(`screenshots: ${ART}`);
});

test.after(async () => {
  await browser?.close();
  for (const l of listeners) await l.close();
  for (const q of queriers) {
    q.stop.abort();
    await q.run;
  }
});

test('editor: typing a metric prefix suggests the metric; label values are completed from the API', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/graph`);
  await waitDone(page);
  assert.is(await page.getAttribute('body', 'data-editor'), 'present');
  await page.click('.panel-box .cm-content');
  await page.keyboard.type('demo_req');
  await page.waitForSelector('.cm-tooltip-autocomplete li', { timeout: 30_000 });
  await page.waitForFunction(() => Array.from(document.querySelectorAll('.cm-tooltip-autocomplete li') as ArrayLike<any>)
    .some((li: any) => li.textContent.includes('demo_requests_total')), undefined, { timeout: 30_000 });
  const options = await page.$$eval('.cm-tooltip-autocomplete li', (lis) => lis.map((li) => li.textContent ?? ''));
  assert.ok(!options.some((o) => o.includes('demo_errors_total')), `only matching names: ${JSON.stringify(options)}`);
  await page.screenshot({ path: join(ART, 'editor-completion.png'), fullPage: true });
  // Accept the completion, then ask for the job label's values of that metric.
  await page.keyboard.press('Enter');
  await page.keyboard.type('{job="');
  await page.waitForFunction(() => {
    const items = Array.from(document.querySelectorAll('.cm-tooltip-autocomplete li') as ArrayLike<any>).map((li: any) => li.textContent);
    return ['api', 'db', 'web'].every((v) => items.some((t: string) => t.includes(v)));
  }, undefined, { timeout: 30_000 });
  const text = await page.evaluate(() => window.thanosGraph.panels()[0].getExpr());
  assert.match(text, /^demo_requests_total\{job="/);
  // Highlighting: the metric name and the label are styled tokens, not plain text.
  assert.ok(await page.$$eval('.cm-line span', (s) => s.length) >= 2);
  // A syntax error is linted in the editor before any query runs.
  await setExpr(page, 0, 'rate(demo_requests_total)');
  await page.waitForSelector('.cm-lintRange-error', { state: 'attached', timeout: 30_000 });
  assert.equal(errors, []);
  await page.close();
});

test('panels: two panels execute, their state is in the URL, a reload restores both', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/graph`);
  await waitDone(page);
  await setExpr(page, 0, 'sum by (job) (rate(demo_requests_total[5m]))');
  await page.click('#add-panel');
  assert.is(await page.$$eval('.panel-box', (p) => p.length), 2);
  await setExpr(page, 1, 'demo_errors_total');
  // Panel 1: table tab (executes), panel 0: stacked graph, executed with Ctrl+Enter in the editor.
  await page.click('.panel-box:nth-child(2) .tab-table');
  await waitDone(page);
  await page.check('.panel-box:nth-child(1) .stacked');
  await waitDone(page);
  await page.click('.panel-box:nth-child(1) .cm-content');
  await page.keyboard.press('Control+Enter');
  await waitDone(page);
  assert.is(await page.getAttribute('.panel-box:nth-child(1) .graph', 'data-series'), '3');
  const rows = await page.$$eval('.panel-box:nth-child(2) .result-table td.metric', (tds) => tds.map((td) => td.textContent));
  assert.equal(rows, ['demo_errors_total{cluster="eu", job="api"}']);
  for (const err of await page.$$eval('.panel-box .error', (els) => els.map((e) => (e.hidden ? '' : e.textContent)))) assert.is(err, '');
  // Legend hover values: moving over the plot fills the legend with the hovered samples' values.
  const box = (await page.locator('.panel-box:nth-child(1) .u-over').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
  await page.waitForFunction(() => Array.from(document.querySelectorAll('.panel-box:first-child .u-legend .u-series td.u-value') as ArrayLike<any>)
    .slice(1).some((td: any) => /^\d/.test(td.textContent)), undefined, { timeout: 15_000 });
  const url = new URL(page.url());
  assert.is(url.searchParams.get('g0.expr'), 'sum by (job) (rate(demo_requests_total[5m]))');
  assert.is(url.searchParams.get('g0.stacked'), '1');
  assert.is(url.searchParams.get('g0.tab'), '0');
  assert.is(url.searchParams.get('g1.expr'), 'demo_errors_total');
  assert.is(url.searchParams.get('g1.tab'), '1');
  for (const k of ['g0.range_input', 'g0.deduplicate', 'g0.partial_response', 'g0.max_source_resolution']) assert.ok(url.searchParams.has(k), k);
  await page.screenshot({ path: join(ART, 'two-panels.png'), fullPage: true });
  await page.reload();
  await waitDone(page);
  assert.is(await page.$$eval('.panel-box', (p) => p.length), 2);
  assert.is(await page.getAttribute('.panel-box:nth-child(1) .graph', 'data-series'), '3');
  assert.is(await page.isChecked('.panel-box:nth-child(1) .stacked'), true);
  assert.is(await page.isVisible('.panel-box:nth-child(2) .panel-table'), true);
  // Removing a panel renumbers the URL state.
  await page.click('.panel-box:nth-child(1) .remove-panel');
  const after = new URL(page.url());
  assert.is(after.searchParams.get('g0.expr'), 'demo_errors_total');
  assert.is(after.searchParams.has('g1.expr'), false);
  assert.equal(errors, []);
  await page.close();
});

test('format button and history; a Prometheus link with g0.* opens the same panel', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('sum(rate(demo_requests_total[5m]))by(job)')}&g0.tab=1&g0.deduplicate=0`);
  await waitDone(page);
  assert.is(await page.isChecked('.panel-box .dedup'), false);
  assert.is(await page.$$eval('.panel-box .result-table td.metric', (tds) => tds.length), 3);
  await page.click('.panel-box .format');
  await page.waitForFunction(() => window.thanosGraph.panels()[0].getExpr() === 'sum by (job) (rate(demo_requests_total[5m]))', undefined, { timeout: 15_000 });
  const history = await page.$$eval('.panel-box .history-select option', (os) => os.map((o) => (o as any).value).filter((v) => v));
  assert.ok(history.includes('sum(rate(demo_requests_total[5m]))by(job)'), JSON.stringify(history));
  // A parse error is shown (and formatting one says so too).
  await setExpr(page, 0, 'sum(');
  await page.click('.panel-box .format');
  await page.waitForFunction(() => !document.querySelector('.panel-box .error').hidden, undefined, { timeout: 15_000 });
  assert.match(await page.textContent('.panel-box .error') ?? '', /Error formatting query: bad_data/);
  // The browser reports the refused format request (HTTP 400) itself; nothing else may fail.
  assert.equal(errors.filter((e) => !/^console: Failed to load resource: .* 400 \(Bad Request\)$/.test(e) && !/^400 .*\/api\/v1\/format_query$/.test(e)), []);
  await page.close();
});

test('explain: analyze=true returns the operator tree with timings and samples; the page shows it', async () => {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('sum by (job) (rate(demo_requests_total[5m])) * 2')}&analyze=true`);
  const body = await res.json() as { data: { result: unknown[]; analysis: any } };
  assert.is(body.data.result.length, 3);
  const a = body.data.analysis;
  assert.is(a.name, '[binaryOperator] *');
  assert.match(a.executionTime, /^\d+(\.\d+)?(ns|µs|ms|s)$/);
  assert.is(a.children.length, 2);
  assert.is(a.children[0].name, '[aggregate] sum by (job)');
  assert.is(a.children[0].totalSamples, 3);
  const rate = a.children[0].children[0];
  assert.is(rate.name, '[functionCall] rate');
  assert.is(rate.children[0].name, '[matrixSelector] demo_requests_total[5m]');
  // The raw samples selected for the window (their number depends on how long after NOW this runs).
  assert.ok(rate.children[0].totalSamples >= 3 * 5, JSON.stringify(rate));
  assert.is(a.children[1].name, '[numberLiteral] 2');
  // Without analyze (or with analyze=false) there is no analysis field.
  for (const q of ['', '&analyze=false']) {
    const plain = await (await fetch(`${base}/api/v1/query?query=demo_errors_total${q}`)).json() as { data: Record<string, unknown> };
    assert.is('analysis' in plain.data, false);
  }
  const range = await (await fetch(`${base}/api/v1/query_range?query=demo_errors_total&start=${(NOW - 3600_000) / 1000}&end=${NOW / 1000}&step=60&analyze=1`)).json() as { data: { analysis: any } };
  assert.is(range.data.analysis.name, '[vectorSelector] demo_errors_total');
  assert.is(range.data.analysis.totalSamples, 61);

  const { page, errors } = await newPage();
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('sum by (job) (rate(demo_requests_total[5m]))')}&g0.tab=1`);
  await waitDone(page);
  await page.click('.panel-box .explain');
  await page.waitForSelector('.panel-box .explain-view:not([hidden]) .explain-table tbody tr', { timeout: 30_000 });
  await waitDone(page);
  const ops = await page.$$eval('.panel-box .explain-table tbody td.metric', (tds) => tds.map((td) => td.textContent));
  assert.equal(ops, ['[aggregate] sum by (job)', '[functionCall] rate', '[matrixSelector] demo_requests_total[5m]']);
  await page.screenshot({ path: join(ART, 'explain.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('every page loads with no console error; favicon served', async () => {
  const { page, errors } = await newPage();
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
  const { page, errors } = await newPage();
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
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
  assert.equal(errors, []);
  await page.close();
}

test('--web.external-prefix: the UI and API are served under it (route prefix defaults to it), links carry it', async () => {
  const q = await startQuerier({ webExternalPrefix: '/thanos' });
  const url = await serve((req) => q.comp.fetch!(req));
  const root = await fetch(`${url}/`, { redirect: 'manual' });
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/thanos/graph');
  await checkPrefixed(`${url}/thanos`, '/thanos', 'external-prefix');
});

test('--web.prefix-header: behind a proxy that strips its path and names it in the header', async () => {
  const q = await startQuerier({ webPrefixHeader: 'X-Forwarded-Prefix' });
  // The reverse proxy: /proxy/... → the querier's /..., with X-Forwarded-Prefix: /proxy.
  const proxy = await serve(async (req) => {
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
  const url = await serve((req) => ui.fetch(req));
  const { page, errors } = await newPage();
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

if (process.env.UI_TEST_TIMING) {
  let t0 = 0;
  test.before.each(() => { t0 = performance.now(); });
  test.after.each(() => { console.log(`  ${Math.round(performance.now() - t0)}ms`); });
}

test.run();

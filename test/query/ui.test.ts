// The querier's web UI in headless Chromium (Debian chromium + playwright-core): type a query, get
// a drawn uPlot graph with a legend and the instant table; errors are shown; the stores page lists
// the stores with their labels and health. Screenshots go to .test-artifacts/query-ui-*.png.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveFetch } from '../../host/server/listen.ts';
import type { HttpListener } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { MemClient, queryCtx } from './ctx.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const core = createJsCore();
const ART = new URL('../../.test-artifacts/', import.meta.url).pathname;
const NOW = Date.now();
const STEP = 15_000;

function series(replicaOffset: number): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (const job of ['api', 'db', 'web']) {
    const t: number[] = [];
    const v: number[] = [];
    let acc = 0;
    for (let k = 0; k < 480; k++) {
      t.push(NOW - 2 * 3600_000 + k * STEP + replicaOffset);
      acc += (job.length + (k % 5)) * (job === 'db' ? 2 : 1);
      v.push(acc);
    }
    out.push({ labels: labelsFromRecord({ __name__: 'ui_requests_total', job }), t, v });
  }
  return out;
}

let comp: QueryComponent;
let listener: HttpListener;
let browser: Browser;
let page: Page;
let base = '';
const stop = new AbortController();
let run: Promise<void>;
const clients = new Map<string, MemClient>();

test.before(async () => {
  mkdirSync(ART, { recursive: true });
  const stores: Record<string, MemoryStore> = {
    '127.0.0.1:10901': MemoryStore.fromSamples(series(0), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'eu', replica: 'A' }) }),
    '127.0.0.1:10902': MemoryStore.fromSamples(series(2000), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'eu', replica: 'B' }) }),
    '127.0.0.1:10903': MemoryStore.fromSamples([], core.xorEncode),
  };
  comp = await setupQuery(queryCtx(core), parseQueryConfig({ endpoints: Object.keys(stores), replicaLabels: ['replica'], endpointInfoInterval: '200ms' }), {
    clientFactory: (addr) => {
      const c = new MemClient(addr, stores[addr]!, addr.endsWith('10903') ? 'sidecar' : 'store');
      if (addr.endsWith('10903')) c.down = true;
      clients.set(addr, c);
      return c;
    },
  });
  run = comp.run(stop.signal);
  await comp.ready;
  listener = await serveFetch('127.0.0.1', 0, (req) => comp.fetch!(req));
  base = `http://127.0.0.1:${listener.address.port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

test.after(async () => {
  await browser?.close();
  await listener?.close();
  stop.abort();
  await run;
});

/** The first panel's expression, set through the page's editor API (typing would open completions). */
async function setExpr(expr: string): Promise<void> {
  await page.evaluate((e) => window.thanosGraph.panels()[0].setExpr(e), expr);
}

async function waitDone(): Promise<void> {
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'done', undefined, { timeout: 15_000 });
}

test('graph: type a query, get a drawn graph with a legend', async () => {
  await page.goto(`${base}/graph`);
  await setExpr('sum by (job) (rate(ui_requests_total[5m]))');
  await page.fill('.panel-box .range', '1h');
  await page.click('.panel-box .execute');
  await waitDone();
  assert.is(await page.isVisible('.panel-box .error'), false, await page.textContent('.panel-box .error') ?? '');
  assert.is(await page.getAttribute('.panel-box .graph', 'data-series'), '3');
  // uPlot drew on a canvas with non-background pixels.
  const painted = await page.evaluate(() => {
    const c = document.querySelector('.panel-box .graph canvas') as any;
    if (!c) return -1;
    const ctx = c.getContext('2d')!;
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return n;
  });
  assert.ok(painted > 500, `canvas painted pixels: ${painted}`);
  const legend = await page.$$eval('.panel-box .graph .u-legend .u-series th', (els) => els.map((e) => e.textContent?.trim() ?? ''));
  assert.ok(legend.some((l) => l.includes('job="api"')), JSON.stringify(legend));
  assert.ok(legend.some((l) => l.includes('job="db"')), JSON.stringify(legend));
  // The URL keeps the expression (shareable links).
  assert.match(page.url(), /g0\.expr=sum/);
  await page.screenshot({ path: join(ART, 'query-ui-graph.png'), fullPage: true });
});

test('table: the instant result; history remembers the expressions', async () => {
  await page.click('.panel-box .tab-table');
  await waitDone();
  const rows = await page.$$eval('.panel-box .result-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td') as ArrayLike<any>).map((td: any) => td.textContent ?? '')));
  assert.is(rows.length, 3, JSON.stringify(rows));
  assert.ok(rows.every((r) => r[0]!.startsWith('{job=') && Number(r[1]) > 0), JSON.stringify(rows));
  await setExpr('ui_requests_total{job="db"}');
  // Enter in the editor executes (Prometheus's key).
  await page.click('.panel-box .cm-content');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await waitDone();
  const one = await page.$$eval('.panel-box .result-table tbody tr td.metric', (tds) => tds.map((td) => td.textContent));
  assert.equal(one, ['ui_requests_total{cluster="eu", job="db"}']);
  const history = await page.$$eval('.panel-box .history-select option', (os) => os.map((o) => (o as any).value).filter((v) => v));
  assert.equal(history.slice(0, 2), ['ui_requests_total{job="db"}', 'sum by (job) (rate(ui_requests_total[5m]))']);
  // Reload: history survives (localStorage), and the URL restores the expression and tab.
  await page.reload();
  await waitDone();
  assert.is(await page.evaluate(() => window.thanosGraph.panels()[0].getExpr()), 'ui_requests_total{job="db"}');
  assert.is(await page.isVisible('.panel-box .panel-table'), true);
  await page.screenshot({ path: join(ART, 'query-ui-table.png'), fullPage: true });
});

test('errors are displayed', async () => {
  await setExpr('sum(rate(ui_requests_total[5m])');
  await page.click('.panel-box .execute');
  await waitDone();
  assert.is(await page.isVisible('.panel-box .error'), true);
  assert.match((await page.textContent('.panel-box .error')) ?? '', /bad_data: invalid parameter "query": 1:\d+: parse error/);
  await page.screenshot({ path: join(ART, 'query-ui-error.png'), fullPage: true });
});

test('dedup toggle: without dedup both replicas are listed', async () => {
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('ui_requests_total{job="api"}')}&g0.tab=1&g0.deduplicate=0`);
  await waitDone();
  const metrics = await page.$$eval('.panel-box .result-table tbody td.metric', (tds) => tds.map((td) => td.textContent));
  assert.equal(metrics, ['ui_requests_total{cluster="eu", job="api", replica="A"}', 'ui_requests_total{cluster="eu", job="api", replica="B"}']);
});

test('stores page lists every store with labels, time range and health', async () => {
  await page.goto(`${base}/stores`);
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'done');
  const rows = await page.$$eval('tr.store', (trs) => trs.map((tr) => ({
    name: tr.querySelector('.endpoint')?.textContent,
    status: tr.querySelector('.badge')?.textContent,
    labels: Array.from(tr.querySelectorAll('td:nth-child(3) .badge') as ArrayLike<any>).map((b: any) => b.textContent),
    mint: tr.querySelector('.mint')?.textContent,
    err: tr.querySelector('.last-error')?.textContent,
  })));
  assert.is(rows.length, 3, JSON.stringify(rows));
  const a = rows.find((r) => r.name === '127.0.0.1:10901')!;
  assert.is(a.status, 'Up');
  assert.equal(a.labels, ['cluster="eu"', 'replica="A"']);
  assert.is(a.mint, new Date(NOW - 2 * 3600_000).toISOString());
  const down = rows.find((r) => r.name === '127.0.0.1:10903')!;
  assert.is(down.status, 'Down');
  assert.match(down.err ?? '', /connection refused/);
  assert.is(down.mint, '-');
  const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
  assert.equal(headings, ['store', 'unknown']);
  await page.screenshot({ path: join(ART, 'query-ui-stores.png'), fullPage: true });
});

test.run();

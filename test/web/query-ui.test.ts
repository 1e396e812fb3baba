// The querier's graph page in headless Chromium (Debian chromium + playwright-core) against a live
// querier over an in-memory store: the CodeMirror PromQL editor completes metric names and label
// values from our API and lints; several panels execute and live in the URL (g0.*, g1.*) as in
// Prometheus's UI; the format button prettifies through /api/v1/format_query; explain shows the
// analyze=true operator tree, whose JSON is checked too. Screenshots go to a temp dir (printed).
// The other pages, the prefixes and the fallback without the editor: query-ui-pages.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { NOW, UiHarness, waitDone } from './uiharness.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const h = new UiHarness();
let base = '';

/** Replaces panel i's expression (through the page's own editor API: typing would trigger completion). */
async function setExpr(page: Page, i: number, expr: string): Promise<void> {
  await page.evaluate(([n, e]) => window.thanosGraph.panels()[n].setExpr(e), [i, expr] as const);
}

test.before(async () => {
  await h.start();
  const q = await h.querier({});
  base = await h.serve((req) => q.comp.fetch!(req));
});

test.after(() => h.stop());

test('editor: typing a metric prefix suggests the metric; label values are completed from the API', async () => {
  const { page, errors } = await h.page();
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
  await page.screenshot({ path: join(h.artifacts, 'editor-completion.png'), fullPage: true });
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
  const { page, errors } = await h.page();
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
  await page.screenshot({ path: join(h.artifacts, 'two-panels.png'), fullPage: true });
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
  const { page, errors } = await h.page();
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

  const { page, errors } = await h.page();
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('sum by (job) (rate(demo_requests_total[5m]))')}&g0.tab=1`);
  await waitDone(page);
  await page.click('.panel-box .explain');
  await page.waitForSelector('.panel-box .explain-view:not([hidden]) .explain-table tbody tr', { timeout: 30_000 });
  await waitDone(page);
  const ops = await page.$$eval('.panel-box .explain-table tbody td.metric', (tds) => tds.map((td) => td.textContent));
  assert.equal(ops, ['[aggregate] sum by (job)', '[functionCall] rate', '[matrixSelector] demo_requests_total[5m]']);
  await page.screenshot({ path: join(h.artifacts, 'explain.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test.run();

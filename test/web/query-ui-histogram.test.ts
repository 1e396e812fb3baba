// Native histograms in the querier's graph page (headless Chromium): the table shows a histogram
// sample as Prometheus's UI does (total count, sum, a "Histogram Sample" table of bucket ranges
// with their boundary rules, and counts), for an instant vector ("histogram") and a range matrix
// ("histograms", each followed by its timestamp), beside float samples; the graph plots the float
// series and says how many histogram samples it left out, instead of breaking. The page and its
// assets come from a live querier; the two queries below are answered by a stub in Prometheus's
// HTTP API format (what a Prometheus or a Thanos querier with native histograms returns); a live
// case runs a querier over a receiver (real gRPC StoreAPI) holding a written native histogram.
// Screenshots go to a temp dir (printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { dialGrpc, startGrpc } from '../../host/server/grpc.ts';
import { infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import { Receiver } from '../../lib/receive/mod.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import { parseQueryConfig, setupQuery } from '../../plugins/component/query/mod.ts';
import receivePlugin from '../../plugins/component/receive/mod.ts';
import { queryCtx } from '../query/ctx.ts';
import { core, receiveCtx } from '../receive/helpers.ts';
import { NOW, UiHarness, waitDone } from './uiharness.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const h = new UiHarness();
let base = '';
/** Every stubbed API request: path and form parameters. */
const stubbed: Array<{ path: string; params: URLSearchParams }> = [];

const T = Math.floor(NOW / 1000);
const HIST_EXPR = 'demo_latency_seconds';
const RANGE_EXPR = 'demo_latency_seconds[3m]';
const ONLY_HIST_EXPR = 'demo_latency_seconds{job="api"}';
const QUANTILE_EXPR = 'histogram_quantile(0.9, rate(demo_latency_seconds[5m]))';

/** A histogram sample in the API's format; boundary rules 0 (a,b], 1 [a,b), 2 (a,b), 3 [a,b]. */
function histogram(scale: number) {
  return {
    count: String(12 * scale),
    sum: String(3.5 * scale),
    buckets: [
      [1, '-0.5', '-0.25', String(1 * scale)],
      [3, '-0.001', '0.001', String(2 * scale)],
      [0, '0.25', '0.5', String(4 * scale)],
      [2, '0.5', '1', String(5 * scale)],
    ],
  };
}
const EXPECTED_RANGES = ['[-0.5 -> -0.25)', '[-0.001 -> 0.001]', '(0.25 -> 0.5]', '(0.5 -> 1)'];

/** Prometheus's answer to the instant query: one histogram sample and one float sample. */
function instantBody() {
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: [
        { metric: { __name__: HIST_EXPR, job: 'api' }, histogram: [T, histogram(1)] },
        { metric: { __name__: HIST_EXPR, job: 'batch' }, value: [T, '7'] },
      ],
    },
  };
}

/** Prometheus's answer to the range query: a series of histograms and a series of floats. */
function rangeBody(start: number, step: number) {
  const ts = [0, 1, 2].map((k) => start + k * step);
  return {
    status: 'success',
    data: {
      resultType: 'matrix',
      result: [
        { metric: { __name__: HIST_EXPR, job: 'api' }, histograms: ts.map((t, k) => [t, histogram(k + 1)]) },
        { metric: { __name__: HIST_EXPR, job: 'batch' }, values: ts.map((t, k) => [t, String(7 + k)]) },
      ],
    },
  };
}

/** The stub's answer to an API query, or undefined for the live querier to answer. */
function stubAnswer(path: string, params: URLSearchParams): unknown {
  const query = params.get('query');
  if (path === '/api/v1/query') {
    const t = Number(params.get('time'));
    if (query === HIST_EXPR) return instantBody();
    // A range selector at the table's evaluation time: the three samples up to it, a minute apart.
    if (query === RANGE_EXPR) return rangeBody(t - 120, 60);
  } else if (path === '/api/v1/query_range') {
    const [start, step] = [Number(params.get('start')), Number(params.get('step'))];
    if (query === HIST_EXPR) return rangeBody(start, step);
    if (query === ONLY_HIST_EXPR) {
      const body = rangeBody(start, step);
      body.data.result = body.data.result.slice(0, 1);
      return body;
    }
    if (query === QUANTILE_EXPR) {
      return { status: 'success', data: { resultType: 'matrix', result: [{ metric: { job: 'api' }, values: [[start, '0.45'], [start + step, '0.5']] }] } };
    }
  }
  return undefined;
}

test.before(async () => {
  await h.start();
  const q = await h.querier({});
  base = await h.serve(async (req) => {
    const url = new URL(req.url);
    if (req.method === 'POST' && (url.pathname === '/api/v1/query' || url.pathname === '/api/v1/query_range')) {
      const params = new URLSearchParams(await req.clone().text());
      const body = stubAnswer(url.pathname, params);
      if (body) {
        stubbed.push({ path: url.pathname, params });
        return Response.json(body);
      }
    }
    return q.comp.fetch!(req);
  });
});

test.after(() => h.stop());

/** A series' labels as the table writes them: name{a="x", b="y"}. */
function promMetricText(metric: Record<string, string>): string {
  const { __name__: name = '', ...rest } = metric;
  return `${name}{${Object.keys(rest).sort().map((k) => `${k}=${JSON.stringify(rest[k])}`).join(', ')}}`;
}

async function run(page: Page, query: string): Promise<void> {
  await page.goto(`${base}/graph?${query}`);
  await waitDone(page);
}

test('table: a histogram sample shows its count, sum and bucket ranges; a float sample beside it its value', async () => {
  const { page, errors } = await h.page();
  await run(page, `g0.expr=${HIST_EXPR}&g0.tab=1&g0.moment_input=${T}`);
  const req = stubbed.at(-1)!;
  assert.is(req.path, '/api/v1/query');
  assert.is(req.params.get('time'), String(T));
  const rows = await page.$$eval('.panel-box .result-table > tbody > tr', (trs) => trs.map((tr: any) => ({
    metric: tr.querySelector('td.metric')?.textContent,
    summary: Array.from(tr.querySelectorAll('.histogram-summary span') as ArrayLike<any>).map((s: any) => s.textContent),
    title: tr.querySelector('.histogram-buckets thead th')?.textContent,
    header: Array.from(tr.querySelectorAll('.histogram-buckets tbody tr:first-child th') as ArrayLike<any>).map((th: any) => th.textContent),
    buckets: Array.from(tr.querySelectorAll('.histogram-buckets tr.bucket') as ArrayLike<any>)
      .map((b: any) => Array.from(b.querySelectorAll('td') as ArrayLike<any>).map((td: any) => td.textContent)),
    value: tr.querySelector('td.value')?.textContent,
  })));
  assert.is(rows.length, 2);
  assert.is(rows[0]!.metric, `${HIST_EXPR}{job="api"}`);
  assert.equal(rows[0]!.summary, ['Total count: 12', 'Sum: 3.5']);
  assert.is(rows[0]!.title, 'Histogram Sample');
  assert.equal(rows[0]!.header, ['Range', 'Count']);
  assert.equal(rows[0]!.buckets, EXPECTED_RANGES.map((r, i) => [r, ['1', '2', '4', '5'][i]]));
  assert.is(rows[1]!.metric, `${HIST_EXPR}{job="batch"}`);
  assert.equal(rows[1]!.buckets, []);
  assert.is(rows[1]!.value, '7');
  await page.screenshot({ path: join(h.artifacts, 'histogram-table.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('table: a range selector lists each histogram sample of a series with its timestamp, floats as before', async () => {
  const { page, errors } = await h.page();
  await run(page, `g0.expr=${encodeURIComponent(RANGE_EXPR)}&g0.tab=1&g0.moment_input=${T}`);
  assert.is(stubbed.at(-1)!.params.get('query'), RANGE_EXPR);
  const rows = await page.$$eval('.panel-box .result-table > tbody > tr', (trs) => trs.map((tr: any) => ({
    samples: Array.from(tr.querySelectorAll('.histogram-at') as ArrayLike<any>).map((at: any) => ({
      summary: Array.from(at.querySelectorAll('.histogram-summary span') as ArrayLike<any>).map((s: any) => s.textContent),
      ranges: Array.from(at.querySelectorAll('tr.bucket td:first-child') as ArrayLike<any>).map((td: any) => td.textContent),
      at: at.lastChild.textContent,
    })),
    value: tr.querySelector('td.value')?.textContent,
  })));
  assert.is(rows.length, 2);
  assert.equal(rows[0]!.samples.map((x) => x.summary), [1, 2, 3].map((k) => [`Total count: ${12 * k}`, `Sum: ${3.5 * k}`]));
  assert.equal(rows[0]!.samples.map((x) => x.ranges), [EXPECTED_RANGES, EXPECTED_RANGES, EXPECTED_RANGES]);
  assert.equal(rows[0]!.samples.map((x) => x.at), [0, 1, 2].map((k) => `@${T - 120 + k * 60}`));
  assert.equal(rows[1]!.samples, []);
  assert.is(rows[1]!.value, [0, 1, 2].map((k) => `${7 + k} @${T - 120 + k * 60}`).join('\n'));
  await page.screenshot({ path: join(h.artifacts, 'histogram-table-range.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('graph: float series are plotted, histogram samples left out with a note; a float result clears the note', async () => {
  const { page, errors } = await h.page();
  await run(page, `g0.expr=${HIST_EXPR}&g0.tab=0&g0.range_input=1h&g0.end_input=${T}&g0.step_input=60`);
  assert.is(stubbed.at(-1)!.path, '/api/v1/query_range');
  assert.is(await page.getAttribute('.panel-box .graph', 'data-series'), '1');
  assert.ok(await page.$('.panel-box .graph canvas'), 'uPlot drew the float series');
  const legend = await page.$$eval('.panel-box .graph .u-legend .u-series th', (ths) => ths.map((th: any) => th.textContent));
  assert.ok(legend.some((t) => t.includes('job="batch"')) && !legend.some((t) => t.includes('job="api"')), JSON.stringify(legend));
  assert.is(await page.isVisible('.panel-box .graph-note'), true);
  assert.match(await page.textContent('.panel-box .graph-note') ?? '', /^Not graphed: 3 native histogram samples \(1 series of histograms only\)\. The Table tab shows them/);
  assert.is(await page.isVisible('.panel-box .graph-empty'), false);
  await page.screenshot({ path: join(h.artifacts, 'histogram-graph.png'), fullPage: true });

  // A float result (what histogram_quantile returns) graphs as before and drops the note.
  await page.evaluate((e) => window.thanosGraph.panels()[0].setExpr(e), QUANTILE_EXPR);
  await page.click('.panel-box .execute');
  await page.waitForFunction(() => document.querySelector('.panel-box .graph-note').hidden === true, undefined, { timeout: 30_000 });
  await waitDone(page);
  assert.is(stubbed.at(-1)!.params.get('query'), QUANTILE_EXPR);
  assert.is(await page.getAttribute('.panel-box .graph', 'data-series'), '1');
  assert.is(await page.textContent('.panel-box .graph-note'), '');
  assert.equal(errors, []);
  await page.close();
});

test('graph: a result of histograms only draws nothing and says why, without an error', async () => {
  const { page, errors } = await h.page();
  await run(page, `g0.expr=${encodeURIComponent(ONLY_HIST_EXPR)}&g0.tab=0&g0.range_input=1h&g0.end_input=${T}&g0.step_input=60`);
  assert.is(await page.getAttribute('.panel-box .graph', 'data-series'), '0');
  assert.is(await page.isVisible('.panel-box .error'), false);
  assert.match(await page.textContent('.panel-box .graph-note') ?? '', /^Not graphed: 3 native histogram samples \(1 series of histograms only\)/);
  assert.equal(errors, []);
  await page.close();
});

test('live: a querier over a receiver shows a written native histogram in the table, as its API returns it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'thanos-ui-hist-'));
  const cleanups: Array<() => unknown> = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const cfg = receivePlugin.parseConfig({ tsdbPath: dir, labels: ['replica="r1"'], remoteWriteAddress: '127.0.0.1:0' });
    const rctx = receiveCtx();
    const rx = await Receiver.open({
      fs: rctx.fs, path: cfg.tsdbPath, core: rctx.core, log: rctx.log, metrics: rctx.metrics,
      labels: cfg.labels, tenantLabelName: cfg.tenantLabelName, defaultTenant: cfg.defaultTenant,
      replicationFactor: cfg.replicationFactor, blockDurationMs: cfg.blockDurationMs, retentionMs: cfg.retentionMs,
    });
    const grpc = await startGrpc('127.0.0.1:0', { ...storeServices(rx.store), ...infoServices(() => infoResponseFromComponentInfo(rx.info())) });
    cleanups.unshift(() => grpc.close(0));
    // An integer histogram, schema 0: zero bucket 1 (threshold 0.001), (0.5, 1] 2, (1, 2] 3; count 6, sum 10.
    const at = NOW - 60_000;
    await rx.write('default-tenant', [{
      labels: [{ name: '__name__', value: 'live_latency_seconds' }, { name: 'job', value: 'api' }],
      samples: [],
      histograms: [{
        countInt: 6, sum: 10, schema: 0, zeroThreshold: 0.001, zeroCountInt: 1,
        negativeSpans: [], negativeDeltas: [], negativeCounts: [],
        positiveSpans: [{ offset: 0, length: 2 }], positiveDeltas: [2, 1], positiveCounts: [],
        resetHint: 0, timestamp: at, customValues: [],
      }],
    }]);
    const qctx = queryCtx(core);
    const comp = await setupQuery(qctx, parseQueryConfig({ endpoints: [grpc.address], replicaLabels: ['replica'], endpointInfoInterval: '100ms' }), {
      clientFactory: (addr) => new StoreClient(dialGrpc(addr)),
    });
    const stop = new AbortController();
    const running = comp.run(stop.signal);
    cleanups.unshift(async () => { stop.abort(); await running; });
    await comp.ready;
    const liveBase = await h.serve((req) => comp.fetch!(req));
    const evalAt = Math.floor(at / 1000) + 1;

    // What the querier's API answers (polled: the endpoint is discovered asynchronously).
    const deadline = Date.now() + 30_000;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let api: any;
    for (;;) {
      const res = await fetch(`${liveBase}/api/v1/query?query=live_latency_seconds&time=${evalAt}`);
      api = await res.json();
      if (api.data?.result?.length) break;
      assert.ok(Date.now() < deadline, `no result: ${JSON.stringify(api)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.is(api.data.result.length, 1);
    assert.is(api.data.result[0].metric.__name__, 'live_latency_seconds');
    const sample = api.data.result[0].histogram[1];
    assert.is(sample.count, '6');
    assert.is(sample.sum, '10');

    const { page, errors } = await h.page();
    await page.goto(`${liveBase}/graph?g0.expr=live_latency_seconds&g0.tab=1&g0.moment_input=${evalAt}`);
    await waitDone(page);
    const shown = await page.$$eval('.panel-box .result-table > tbody > tr', (trs) => trs.map((tr: any) => ({
      metric: tr.querySelector('td.metric')?.textContent,
      summary: Array.from(tr.querySelectorAll('.histogram-summary span') as ArrayLike<any>).map((x: any) => x.textContent),
      buckets: Array.from(tr.querySelectorAll('.histogram-buckets tr.bucket') as ArrayLike<any>)
        .map((b: any) => Array.from(b.querySelectorAll('td') as ArrayLike<any>).map((td: any) => td.textContent)),
    })));
    assert.equal(shown, [{
      metric: promMetricText(api.data.result[0].metric),
      summary: ['Total count: 6', 'Sum: 10'],
      buckets: sample.buckets.map((b: [number, string, string, string]) => [
        `${b[0] === 3 || b[0] === 1 ? '[' : '('}${b[1]} -> ${b[2]}${b[0] === 3 || b[0] === 0 ? ']' : ')'}`, b[3],
      ]),
    }]);
    assert.equal(sample.buckets.map((b: unknown[]) => b[3]), ['1', '2', '3']);
    await page.screenshot({ path: join(h.artifacts, 'histogram-table-live.png'), fullPage: true });
    assert.equal(errors, []);
    await page.close();
  } finally {
    for (const c of cleanups) await c();
  }
});

test.run();

// The querier component in process: HTTP API v1 over in-memory endpoints (two replicas of the
// same data with different `replica` external labels), dedup, partial response, errors, UI routes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord, type Labels } from '../../lib/labels/mod.ts';
import { Engine, MemoryQueryable, toPromJSON } from '../../lib/promql/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { MemClient, queryCtx } from './ctx.ts';

const core = createJsCore();
const T0 = 1_700_000_000_000;
const STEP = 15_000;
const N = 240; // 1h

function data(offset: number): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (const [job, inst, rate] of [['api', 'i1', 2], ['api', 'i2', 3], ['db', 'i1', 5]] as const) {
    const t: number[] = [];
    const v: number[] = [];
    let acc = 0;
    for (let k = 0; k < N; k++) {
      t.push(T0 + k * STEP + offset);
      acc += rate * (1 + (k % 4));
      if (job === 'db' && k === 120) acc = 3; // a counter reset
      v.push(acc);
    }
    out.push({ labels: labelsFromRecord({ __name__: 'http_requests_total', job, instance: inst }), t, v });
  }
  const t = Array.from({ length: N }, (_, k) => T0 + k * STEP + offset);
  out.push({ labels: labelsFromRecord({ __name__: 'temperature', room: 'a<b>&"c"' }), t, v: t.map((_, k) => 20 + Math.sin(k / 10)) });
  return out;
}

interface Env {
  comp: QueryComponent;
  clients: Map<string, MemClient>;
  stop: AbortController;
  ctx: ReturnType<typeof queryCtx>;
  run: Promise<void>;
}

async function start(extra: Record<string, unknown> = {}, stores: Record<string, MemoryStore> = {}): Promise<Env> {
  const all: Record<string, MemoryStore> = Object.keys(stores).length ? stores : {
    '127.0.0.1:10901': MemoryStore.fromSamples(data(0), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1', replica: 'A' }) }),
    '127.0.0.1:10902': MemoryStore.fromSamples(data(1000), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1', replica: 'B' }) }),
  };
  const clients = new Map<string, MemClient>();
  const ctx = queryCtx(core);
  const cfg = parseQueryConfig({ endpoints: Object.keys(all), replicaLabels: ['replica'], endpointInfoInterval: '50ms', ...extra });
  const comp = await setupQuery(ctx, cfg, {
    clientFactory: (addr) => {
      const c = new MemClient(addr, all[addr] ?? MemoryStore.fromSamples([], core.xorEncode), 'store');
      clients.set(addr, c);
      return c;
    },
  });
  const stop = new AbortController();
  const run = comp.run(stop.signal);
  await comp.ready;
  return { comp, clients, stop, ctx, run };
}

async function finish(env: Env): Promise<void> {
  env.stop.abort();
  await env.run;
}

async function get(env: Env, path: string, init?: RequestInit): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await env.comp.fetch!(new Request(`http://querier${path}`, init));
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers };
}

function form(params: Record<string, string | string[]>): RequestInit {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: p.toString() };
}

/** What the engine answers over the original (replica A) data directly, as API JSON text. */
async function direct(expr: string, range?: { start: number; end: number; step: number }, time?: number): Promise<unknown> {
  const mq = new MemoryQueryable();
  for (const s of data(0)) {
    const ls: Labels = labelsFromRecord({ ...Object.fromEntries(s.labels.map((l) => [l.name, l.value])), cluster: 'c1' });
    for (let i = 0; i < s.t.length; i++) mq.add(ls, s.t[i]!, s.v[i]!);
  }
  const engine = new Engine();
  const r = range ? await engine.rangeQuery(mq, expr, range.start, range.end, range.step) : await engine.instantQuery(mq, expr, time!);
  return toPromJSON(r);
}

function normalise(d: any): any {
  // Our JSON writes timestamps as Go does; parse both sides to numbers for comparison.
  return JSON.parse(JSON.stringify(d));
}

test('instant and range queries with dedup equal the original data', async () => {
  const env = await start();
  try {
    const t = T0 + 1800_000 + 7000;
    for (const expr of ['http_requests_total', 'sum by (job) (rate(http_requests_total[5m]))', 'max_over_time(temperature[10m])', 'temperature * 2', 'vector(1)', '1+1']) {
      const r = await get(env, `/api/v1/query?query=${encodeURIComponent(expr)}&time=${t / 1000}`);
      assert.is(r.status, 200, `${expr}: ${r.text}`);
      assert.is(r.body.status, 'success');
      assert.equal(normalise(r.body.data), normalise(await direct(expr, undefined, t)), expr);
    }
    const range = { start: T0 + 600_000, end: T0 + 3000_000, step: 60_000 };
    for (const expr of ['rate(http_requests_total[5m])', 'increase(http_requests_total{job="db"}[10m])', 'avg_over_time(temperature[5m])']) {
      const qs = `query=${encodeURIComponent(expr)}&start=${range.start / 1000}&end=${range.end / 1000}&step=60`;
      const r = await get(env, `/api/v1/query_range?${qs}`);
      assert.is(r.status, 200, r.text);
      assert.equal(normalise(r.body.data), normalise(await direct(expr, range)), expr);
      // Multipart forms are accepted as well (Go's FormValue parses them).
      const fd = new FormData();
      fd.set('query', expr);
      fd.set('start', String(range.start / 1000));
      fd.set('end', String(range.end / 1000));
      fd.set('step', '60');
      assert.is((await get(env, '/api/v1/query_range', { method: 'POST', body: fd })).text, r.text);
      // POST form gives the same answer.
      const p = await get(env, '/api/v1/query_range', form({ query: expr, start: String(range.start / 1000), end: String(range.end / 1000), step: '1m' }));
      assert.is(p.text, r.text);
    }
  } finally {
    await finish(env);
  }
});

test('dedup=false returns both replicas with their replica label', async () => {
  const env = await start();
  try {
    const t = (T0 + 1800_000) / 1000;
    const on = await get(env, `/api/v1/query?query=temperature&time=${t}`);
    const off = await get(env, `/api/v1/query?query=temperature&time=${t}&dedup=false`);
    assert.is(on.body.data.result.length, 1);
    assert.not.ok('replica' in on.body.data.result[0].metric);
    assert.is(off.body.data.result.length, 2);
    assert.equal(off.body.data.result.map((s: any) => s.metric.replica), ['A', 'B']);
    // replicaLabels[] overrides the flag: dedup by cluster merges nothing here (replica labels differ).
    const byCluster = await get(env, `/api/v1/query?query=temperature&time=${t}&replicaLabels[]=cluster`);
    assert.is(byCluster.body.data.result.length, 2);
    assert.not.ok('cluster' in byCluster.body.data.result[0].metric);
    // Bad dedup value.
    const bad = await get(env, `/api/v1/query?query=temperature&dedup=maybe`);
    assert.is(bad.status, 400);
    assert.is(bad.body.errorType, 'bad_data');
    assert.match(bad.body.error, /'dedup' parameter: strconv.ParseBool: parsing "maybe": invalid syntax/);
  } finally {
    await finish(env);
  }
});

test('exact JSON: envelope, Go value formatting, HTML-safe strings', async () => {
  const env = await start();
  try {
    const t = (T0 + 1800_000) / 1000;
    const r = await get(env, `/api/v1/query?query=${encodeURIComponent('temperature / 0')}&time=${t}`);
    assert.is(r.text, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"cluster":"c1","room":"a\\u003cb\\u003e\\u0026\\"c\\""},"value":[${t},"+Inf"]}]}}`);
    assert.is(r.headers.get('content-type'), 'application/json');
    const s = await get(env, `/api/v1/query?query=${encodeURIComponent('1e-7')}&time=1.5`);
    assert.is(s.text, '{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.0000001"]}}');
    const v = await get(env, `/api/v1/query?query=${encodeURIComponent('vector(1e-7)')}&time=1.5`);
    assert.is(v.text, '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.500,"1e-07"]}]}}');
    const str = await get(env, `/api/v1/query?query=${encodeURIComponent('"a<b"')}&time=2`);
    assert.is(str.text, '{"status":"success","data":{"resultType":"string","result":[2,"a\\u003cb"]}}');
    const nan = await get(env, `/api/v1/query?query=${encodeURIComponent('vector(0/0)')}&time=2`);
    assert.is(nan.body.data.result[0].value[1], 'NaN');
    const empty = await get(env, `/api/v1/query?query=nonexistent&time=2`);
    assert.is(empty.text, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    const emptyRange = await get(env, `/api/v1/query_range?query=nonexistent&start=1&end=100&step=10`);
    assert.is(emptyRange.text, '{"status":"success","data":{"resultType":"matrix","result":[]}}');
    const cors = await get(env, `/api/v1/query?query=vector(2)&time=2`, { headers: { Origin: 'http://grafana.example' } });
    assert.is(cors.headers.get('access-control-allow-origin'), 'http://grafana.example');
    assert.is((await get(env, '/api/v1/query', { method: 'OPTIONS', headers: { Origin: 'http://x' } })).status, 204);
    const rfc = await get(env, `/api/v1/query?query=vector(2)&time=2015-07-01T20:10:51.781Z`);
    assert.is(rfc.body.data.result[0].value[0], 1435781451.781);
  } finally {
    await finish(env);
  }
});

test('errors: types, status codes and messages as Prometheus', async () => {
  const env = await start();
  try {
    const cases: Array<[string, number, string, RegExp]> = [
      ['/api/v1/query?query=sum(', 400, 'bad_data', /^invalid parameter "query": 1:5: parse error/],
      ['/api/v1/query?query=up&time=abc', 400, 'bad_data', /^invalid parameter "time": Invalid time value for 'time': cannot parse "abc" to a valid timestamp$/],
      ['/api/v1/query_range?query=up&start=x&end=2&step=1', 400, 'bad_data', /^invalid parameter "start": cannot parse "x" to a valid timestamp$/],
      ['/api/v1/query_range?query=up&start=10&end=2&step=1', 400, 'bad_data', /^invalid parameter "end": end timestamp must not be before start time$/],
      ['/api/v1/query_range?query=up&start=1&end=2&step=0', 400, 'bad_data', /^invalid parameter "step": zero or negative query resolution step widths are not accepted/],
      ['/api/v1/query_range?query=up&start=1&end=2&step=abc', 400, 'bad_data', /^invalid parameter "step": cannot parse "abc" to a valid duration$/],
      ['/api/v1/query_range?query=up&start=0&end=100000&step=1', 400, 'bad_data', /^exceeded maximum resolution of 11,000 points per timeseries/],
      ['/api/v1/query_range?query=up[5m]&start=0&end=100&step=10', 400, 'bad_data', /invalid expression type "range vector" for range query/],
      ['/api/v1/query?query=up&timeout=zz', 400, 'bad_data', /^invalid parameter "timeout": cannot parse "zz" to a valid duration$/],
      ['/api/v1/query?query=up&max_source_resolution=-5m', 400, 'bad_data', /max_source_resolution/],
      ['/api/v1/query?query=up&partial_response=nope', 400, 'bad_data', /'partial_response' parameter/],
      ['/api/v1/series', 400, 'bad_data', /^no match\[\] parameter provided$/],
      ['/api/v1/series?match[]={job=~".*"}', 400, 'bad_data', /^invalid parameter "match\[\]": 1:1: parse error: vector selector must contain at least one non-empty matcher$/],
      ['/api/v1/labels?match[]=' + encodeURIComponent('{job=~".*"}'), 400, 'bad_data', /vector selector must contain at least one non-empty matcher/],
      ['/api/v1/label/1bad/values', 400, 'bad_data', /^invalid label name: "1bad"$/],
      ['/api/v1/labels?start=zz', 400, 'bad_data', /^invalid parameter "start": Invalid time value for 'start'/],
      ['/api/v1/query?time=' + (T0 + 1800_000) / 1000 + '&query=' + encodeURIComponent('http_requests_total / on() group_left http_requests_total'), 422, 'execution', /many-to-many|multiple matches/],
      ['/api/v1/nope', 404, 'not_found', /not found/],
    ];
    for (const [path, status, type, msg] of cases) {
      const r = await get(env, path);
      assert.is(r.status, status, `${path}: ${r.text}`);
      assert.is(r.body.status, 'error', path);
      assert.is(r.body.errorType, type, path);
      assert.match(r.body.error, msg, `${path}: ${r.body.error}`);
    }
  } finally {
    await finish(env);
  }
});

test('labels, label values, series with dedup; metadata endpoints', async () => {
  const env = await start();
  try {
    const labels = await get(env, '/api/v1/labels');
    assert.equal(labels.body.data, ['__name__', 'cluster', 'instance', 'job', 'room']);
    const labelsAll = await get(env, '/api/v1/labels?dedup=false');
    assert.ok(labelsAll.body.data.includes('replica'));
    const withMatch = await get(env, '/api/v1/labels?match[]=temperature');
    assert.equal(withMatch.body.data, ['__name__', 'cluster', 'room']);
    const vals = await get(env, '/api/v1/label/job/values');
    assert.equal(vals.body.data, ['api', 'db']);
    const names = await get(env, '/api/v1/label/__name__/values');
    assert.equal(names.body.data, ['http_requests_total', 'temperature']);
    const series = await get(env, '/api/v1/series?match[]=http_requests_total{job="api"}');
    assert.equal(series.body.data, [
      { __name__: 'http_requests_total', cluster: 'c1', instance: 'i1', job: 'api' },
      { __name__: 'http_requests_total', cluster: 'c1', instance: 'i2', job: 'api' },
    ]);
    const seriesPost = await get(env, '/api/v1/series', form({ 'match[]': ['temperature', 'http_requests_total{job="db"}'] }));
    assert.is(seriesPost.body.data.length, 2);
    const seriesNoDedup = await get(env, '/api/v1/series?match[]=temperature&dedup=false');
    assert.is(seriesNoDedup.body.data.length, 2);
    assert.is((await get(env, '/api/v1/metadata')).text, '{"status":"success","data":{}}');
    assert.is((await get(env, '/api/v1/query_exemplars?query=up')).text, '{"status":"success","data":[]}');
    const bi = await get(env, '/api/v1/status/buildinfo');
    assert.ok(typeof bi.body.data.version === 'string' && bi.body.data.version.length > 0);
    const flags = await get(env, '/api/v1/status/flags');
    assert.is(flags.body.data['query.replica-label'], 'replica');
    assert.is(flags.body.data['query.timeout'], '2m0s');
    assert.is(flags.body.data['store.unhealthy-timeout'], '5m0s');
  } finally {
    await finish(env);
  }
});

test('stores endpoint lists endpoints with type, labels, time range and health', async () => {
  const env = await start();
  try {
    const r = await get(env, '/api/v1/stores');
    assert.is(r.status, 200);
    const stores = r.body.data.store;
    assert.is(stores.length, 2);
    assert.equal(stores.map((s: any) => s.name), ['127.0.0.1:10901', '127.0.0.1:10902']);
    assert.equal(stores[0].labelSets, [{ cluster: 'c1', replica: 'A' }]);
    assert.is(stores[0].minTime, T0);
    assert.is(stores[0].maxTime, T0 + (N - 1) * STEP);
    assert.is(stores[0].lastError, null);
    assert.ok(Date.parse(stores[0].lastCheck) > 0);
  } finally {
    await finish(env);
  }
});

test('partial response: a failing store gives a warning, partial_response=false an error', async () => {
  const env = await start();
  try {
    const b = env.clients.get('127.0.0.1:10902')!;
    const t = (T0 + 1800_000) / 1000;
    // The store fails its Series calls but still answers Info (so it is still selected).
    const origSeries = b.series.bind(b);
    b.series = async function* () {
      throw new Error('store B exploded');
    } as typeof b.series;
    const warn = await get(env, `/api/v1/query?query=temperature&time=${t}`);
    assert.is(warn.status, 200);
    assert.is(warn.body.data.result.length, 1);
    assert.is(warn.body.warnings.length, 1);
    assert.match(warn.body.warnings[0], /127\.0\.0\.1:10902.*store B exploded/);
    const abort = await get(env, `/api/v1/query?query=temperature&time=${t}&partial_response=false`);
    assert.is(abort.status, 422, abort.text);
    assert.is(abort.body.errorType, 'execution');
    assert.match(abort.body.error, /store B exploded/);
    b.series = origSeries;
    // Now the endpoint goes down entirely: Info fails and it is no longer queried; no warning.
    b.down = true;
    await env.comp.endpoints.update();
    const after = await get(env, `/api/v1/query?query=temperature&time=${t}`);
    assert.is(after.status, 200);
    assert.is(after.body.data.result.length, 1);
    const stores = (await get(env, '/api/v1/stores')).body.data.store;
    assert.match(stores[1].lastError, /connection refused/);
    assert.is(stores[0].lastError, null);
  } finally {
    await finish(env);
  }
});

test('store response timeout turns a slow store into a warning', async () => {
  const env = await start({ storeResponseTimeout: '100ms' });
  try {
    env.clients.get('127.0.0.1:10902')!.delayMs = 400;
    const r = await get(env, `/api/v1/query?query=temperature&time=${(T0 + 1800_000) / 1000}`);
    assert.is(r.status, 200);
    assert.is(r.body.data.result.length, 1);
    assert.match(r.body.warnings[0], /10902/);
  } finally {
    await finish(env);
  }
});

test('a query over its timeout answers 503 timeout', async () => {
  const env = await start();
  try {
    for (const c of env.clients.values()) c.delayMs = 300;
    const r = await get(env, `/api/v1/query?query=temperature&time=${(T0 + 1800_000) / 1000}&timeout=50ms`);
    assert.is(r.status, 503, r.text);
    assert.is(r.body.errorType, 'timeout');
    assert.match(r.body.error, /timed out/);
  } finally {
    await finish(env);
  }
});

test('label and series calls are bounded by --query.timeout', async () => {
  const env = await start({ timeout: '100ms' });
  try {
    const c = env.clients.get('127.0.0.1:10902')!;
    c.labelNames = () => new Promise(() => {}); // a store that never answers
    const t0 = Date.now();
    const r = await get(env, '/api/v1/labels');
    assert.is(r.status, 503, r.text);
    assert.is(r.body.errorType, 'timeout');
    assert.ok(Date.now() - t0 < 20_000);
  } finally {
    await finish(env);
  }
});

test('unhealthy endpoints are removed after --store.unhealthy-timeout; strict ones stay', async () => {
  const env = await start({ storeUnhealthyTimeout: '200ms', strictEndpoints: ['127.0.0.1:10903'] }, {
    '127.0.0.1:10901': MemoryStore.fromSamples(data(0), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1', replica: 'A' }) }),
    '127.0.0.1:10902': MemoryStore.fromSamples(data(1000), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1', replica: 'B' }) }),
    '127.0.0.1:10903': MemoryStore.fromSamples(data(2000), core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'c1', replica: 'C' }) }),
  });
  try {
    const a = env.clients.get('127.0.0.1:10901')!;
    const strict = env.clients.get('127.0.0.1:10903')!;
    strict.down = true;
    a.down = true;
    await new Promise((r) => setTimeout(r, 500));
    const data = (await get(env, '/api/v1/stores')).body.data;
    const names = Object.values(data).flat().map((s: any) => s.name).sort();
    assert.equal(names, ['127.0.0.1:10902', '127.0.0.1:10903']);
    // The strict endpoint is still queried although it is down: a partial response warning.
    const t = (T0 + 1800_000) / 1000;
    const r = await get(env, `/api/v1/query?query=temperature&time=${t}`);
    assert.is(r.status, 200);
    assert.ok((r.body.warnings ?? []).some((w: string) => w.includes('127.0.0.1:10903')), r.text);
    // Still probed, and back on the page once healthy again.
    a.down = false;
    await env.comp.endpoints.update();
    const again = Object.values((await get(env, '/api/v1/stores')).body.data).flat().map((s: any) => s.name).sort();
    assert.equal(again, ['127.0.0.1:10901', '127.0.0.1:10902', '127.0.0.1:10903']);
  } finally {
    await finish(env);
  }
});

test('storeMatch[] restricts the stores by __address__', async () => {
  const env = await start();
  try {
    const t = (T0 + 1800_000) / 1000;
    const r = await get(env, `/api/v1/query?query=temperature&time=${t}&dedup=false&storeMatch[]=${encodeURIComponent('{__address__="127.0.0.1:10902"}')}`);
    assert.equal(r.body.data.result.map((s: any) => s.metric.replica), ['B']);
  } finally {
    await finish(env);
  }
});

test('pruning by external labels: a matcher on an external label skips the other store', async () => {
  const env = await start();
  try {
    const t = (T0 + 1800_000) / 1000;
    const before = env.clients.get('127.0.0.1:10902')!.seriesCalls;
    const r = await get(env, `/api/v1/query?query=${encodeURIComponent('temperature{replica="A"}')}&time=${t}&dedup=false`);
    assert.is(r.body.data.result.length, 1);
    assert.is(env.clients.get('127.0.0.1:10902')!.seriesCalls, before);
    // Pruning by time: a query long after both stores' max time asks neither of them.
    const a0 = env.clients.get('127.0.0.1:10901')!.seriesCalls;
    const late = await get(env, `/api/v1/query?query=temperature&time=${(T0 + 48 * 3600_000) / 1000}`);
    assert.equal(late.body.data.result, []);
    assert.is(env.clients.get('127.0.0.1:10901')!.seriesCalls, a0);
    assert.is(env.clients.get('127.0.0.1:10902')!.seriesCalls, before);
  } finally {
    await finish(env);
  }
});

test('UI: graph and stores pages, static assets, redirect', async () => {
  const env = await start();
  try {
    const root = await env.comp.fetch!(new Request('http://querier/'));
    assert.is(root.status, 302);
    assert.is(root.headers.get('location'), '/graph');
    const graph = await get(env, '/graph');
    assert.is(graph.status, 200);
    assert.match(graph.text, /<div id="panels">/);
    assert.match(graph.text, /<template id="panel-template">/);
    assert.match(graph.text, /src="\/static\/uPlot.iife.min.js"/);
    const up = await get(env, '/static/uPlot.iife.min.js');
    assert.is(up.status, 200);
    assert.match(up.text, /uPlot/);
    assert.is((await get(env, '/static/graph.js')).status, 200);
    assert.is((await get(env, '/static/uPlot.min.css')).status, 200);
    assert.is((await get(env, '/static/../mod.ts')).status, 404);
    const stores = await get(env, '/stores');
    assert.match(stores.text, /Stores/);
  } finally {
    await finish(env);
  }
});

test('--web.route-prefix serves API and UI under the prefix', async () => {
  const env = await start({ webRoutePrefix: '/thanos' });
  try {
    const r = await get(env, '/thanos/api/v1/query?query=vector(1)&time=1');
    assert.is(r.status, 200, r.text);
    const graph = await get(env, '/thanos/graph');
    assert.match(graph.text, /src="\/thanos\/static\/graph.js"/);
    const root = await env.comp.fetch!(new Request('http://querier/'));
    assert.is(root.headers.get('location'), '/thanos/graph');
  } finally {
    await finish(env);
  }
});

test('--endpoint.sd-config-file and --store.sd-files add endpoints; reload picks up changes; bad files are errors', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const d = mkdtempSync(join(tmpdir(), 'query-sd-'));
  try {
    const sd = join(d, 'endpoints.yaml');
    writeFileSync(sd, 'endpoints:\n  - address: 127.0.0.1:10901\n  - address: 127.0.0.1:10902\n    strict: true\n');
    const fsd = join(d, 'targets.json');
    writeFileSync(fsd, JSON.stringify([{ targets: ['127.0.0.1:10904'] }]));
    const env = await start({ endpoints: [], endpointSdConfigFile: sd, storeSdFiles: [fsd] });
    try {
      const names = () => env.comp.endpoints.all().map((s) => s.spec.address).sort();
      assert.equal(names(), ['127.0.0.1:10901', '127.0.0.1:10902', '127.0.0.1:10904']);
      assert.ok(env.comp.endpoints.all().find((s) => s.spec.address === '127.0.0.1:10902')!.spec.strict);
      writeFileSync(sd, 'endpoints:\n  - address: 127.0.0.1:10902\n');
      await env.comp.reload!();
      assert.equal(names(), ['127.0.0.1:10902', '127.0.0.1:10904']);
      assert.ok(env.clients.get('127.0.0.1:10901')!.closed);
      // A broken file on reload keeps the previous endpoints and reports the error.
      writeFileSync(sd, 'endpoints: [ {address: nope} ]\n');
      await env.comp.reload!().then(() => assert.unreachable('reload should fail'), (e: Error) => assert.match(e.message, /expected host:port/));
      assert.equal(names(), ['127.0.0.1:10902', '127.0.0.1:10904']);
    } finally {
      await finish(env);
    }
    writeFileSync(sd, 'endpoints:\n  - addres: 127.0.0.1:1\n');
    await start({ endpoints: [], endpointSdConfigFile: sd }).then(() => assert.unreachable('bad sd config accepted'), (e: Error) => assert.match(e.message, /endpointSdConfigFile: .*unknown field "addres"/));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('config: strict parsing and flag errors', () => {
  assert.throws(() => parseQueryConfig({ nope: 1 }), /nope: unknown query option/);
  assert.throws(() => parseQueryConfig({ endpoints: ['nohost'] }), /expected host:port/);
  assert.throws(() => parseQueryConfig({ deduplicationFunc: 'magic' }), /unknown deduplication algorithm/);
  assert.throws(() => parseQueryConfig({ endpoints: ['dnssrv+_grpc._tcp.x'] }), /DNS SRV/);
  assert.throws(() => parseQueryConfig({ grpcClientTlsSecure: true, grpcClientTlsCert: 'c.crt' }), /grpcClientTlsKey: both client key and certificate must be provided/);
  assert.throws(() => parseQueryConfig({ grpcClientTlsMinVersion: '1.4' }), /grpcClientTlsMinVersion: invalid TLS version: 1\.4, valid values are 1\.0, 1\.1, 1\.2, 1\.3/);
  assert.equal(parseQueryConfig({ grpcClientTlsSecure: true, grpcClientTlsCa: 'ca.crt', grpcClientServerName: 'store' }).grpcClientTls, { minVersion: '1.3', caFile: 'ca.crt', serverName: 'store' });
  assert.equal(parseQueryConfig({ grpcClientTlsCa: 'ca.crt' }).grpcClientTlsIgnored, ['grpcClientTlsCa'], 'without secure: plaintext, the key noted');
  assert.throws(() => parseQueryConfig({ queryMode: 'distributed' }), /queryMode: only local/);
  assert.throws(() => parseQueryConfig({ timeout: 'soon' }), /timeout: /);
  assert.is(parseQueryConfig({ promqlEngine: 'thanos', endpoints: ['dns+store.example:10901'] }).endpoints[0], 'store.example:10901');
  const c = parseQueryConfig({ stores: ['1.2.3.4:19090', '1.1.1.1:10901'], replicaLabels: ['replica,rule_replica'] });
  assert.equal(c.endpoints, ['1.2.3.4:19090', '1.1.1.1:10901']);
  assert.equal(c.replicaLabels, ['replica', 'rule_replica']);
  assert.is(c.lookbackDeltaMs, 300_000);
});

test.run();

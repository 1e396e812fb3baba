// Native histograms in the ruler (issue #17): recording rules whose results are histograms.
// - the query API's histogram JSON reads back as the histogram the engine computed (exponential
//   schemas with negative and zero buckets, custom buckets, clipped buckets next to the zero
//   bucket, empty ones), and malformed histogram JSON is refused rather than recorded;
// - the rule component in process (its --query served by our PromQL engine over native histogram
//   counters) records `sum by (job) (rate(...))` as float histogram samples in its TSDB, served over
//   its StoreAPI as FLOAT_HISTOGRAM chunks equal to the engine's answer at each evaluation time; an
//   alert on a histogram expression renders $value as the histogram's String(); a restart on the
//   same --data-dir replays them from the WAL;
// - stateless mode remote-writes them as prompb float histograms to our receive on loopback
//   (send_native_histograms: true), and leaves them out when it is false (Prometheus's default).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Engine, MemoryQueryable, toPromJSON } from '../../lib/promql/mod.ts';
import { labelsFromRecord, labelsToRecord, type Matcher } from '../../lib/labels/mod.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { histogramJSON } from '../../lib/histogram/json.ts';
import { equalsForTest } from '../../lib/histogram/compare.ts';
import { fromChunkSample } from '../../lib/histogram/convert.ts';
import { histogramFromApiJson } from '../../lib/rules/histogram.ts';
import { parseQueryResponse } from '../../lib/rules/queryapi.ts';
import { parseRemoteWriteConfig } from '../../lib/rules/remotewrite.ts';
import { createRule, parseRuleConfig } from '../../plugins/component/rule/mod.ts';
import receivePlugin from '../../plugins/component/receive/mod.ts';
import rulePlugin from '../../plugins/component/rule/mod.ts';
import { Receiver, receiveHttpHandler } from '../../lib/receive/mod.ts';
import { ChunkEncoding, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { serveFetch } from '../../host/server/listen.ts';
import type { ComponentContext } from '../../host/index.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';
import { freePort } from '../harness/ports.ts';
import { core, fsBucket, receiveCtx } from '../receive/helpers.ts';
import { RuleTSDB } from '../../lib/rules/head.ts';
import { BlockReader, bucketBlockFiles } from '../../lib/tsdb/block.ts';
import { ENC_FLOAT_HISTOGRAM } from '../../lib/tsdb/chunks.ts';
import { createLogger } from '../../host/log.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 1_000_000, timeoutMs: 10_000 });
const cleanups: Array<() => Promise<void> | void> = [];
test.after(async () => {
  for (const c of cleanups.reverse()) await c();
});
// Registered after the cleanups: uvu runs after-hooks in order, so components close before their directories go.
const tmp = tempDirs('rule-hist-');

// ---- the query API's JSON back into histograms --------------------------------------------------

const roundTrip = (h: FloatHistogram) => histogramFromApiJson(JSON.parse(JSON.stringify(histogramJSON(h))));

test('histogram JSON → FloatHistogram: schema, spans, zero and negative buckets, custom bounds come back', () => {
  const cases: Array<[string, FloatHistogram]> = [
    ['schema 0 with a gap', new FloatHistogram({ schema: 0, count: 7, sum: 12.5, positiveSpans: [{ offset: 0, length: 2 }, { offset: 3, length: 1 }], positiveBuckets: [1, 2, 4] })],
    ['schema 3, negative and zero buckets', new FloatHistogram({
      schema: 3, count: 11, sum: -3.25, zeroThreshold: 0.001, zeroCount: 2,
      positiveSpans: [{ offset: -5, length: 3 }], positiveBuckets: [1, 0.5, 2.5], negativeSpans: [{ offset: 2, length: 2 }], negativeBuckets: [3, 2],
    })],
    ['schema -2', new FloatHistogram({ schema: -2, count: 3, sum: 100, positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [1, 2] })],
    ['schema 8', new FloatHistogram({ schema: 8, count: 2.5, sum: 1, positiveSpans: [{ offset: 300, length: 2 }], positiveBuckets: [1.25, 1.25] })],
    ['custom buckets', new FloatHistogram({ schema: -53, count: 6, sum: 9, positiveSpans: [{ offset: 0, length: 2 }, { offset: 1, length: 2 }], positiveBuckets: [1, 2, 1, 2], customValues: [0.1, 0.5, 1, 5] })],
    ['zero bucket only', new FloatHistogram({ schema: 1, count: 4, sum: 0, zeroThreshold: 1e-9, zeroCount: 4 })],
    ['empty', new FloatHistogram({ schema: 2, count: 0, sum: 0 })],
  ];
  for (const [name, h] of cases) {
    const got = roundTrip(h);
    assert.equal(histogramJSON(got), histogramJSON(h), name);
    if (h.positiveBuckets.length + h.negativeBuckets.length > 0) assert.is(got.schema, h.schema, name);
    // Without exponential buckets the JSON shows no schema: the highest one is taken.
    else assert.is(got.schema, 8, name);
    const sameSchema = got.copy();
    sameSchema.schema = h.schema;
    assert.ok(equalsForTest(h, sameSchema, false), `${name}: ${got.toString()} vs ${h.toString()}`);
    assert.is(got.toString(), h.toString(), name);
  }
  // The bucket next to the zero bucket, clipped to its threshold, still tells the schema and threshold.
  const clipped = new FloatHistogram({ schema: 0, count: 5, sum: 3, zeroThreshold: 0.3, zeroCount: 1, positiveSpans: [{ offset: -1, length: 3 }], positiveBuckets: [1, 1, 2] });
  const j = histogramJSON(clipped);
  assert.equal(j.buckets![1]!.slice(1, 3), ['0.3', '0.5'], 'the first positive bucket is clipped in the JSON');
  const back = roundTrip(clipped);
  assert.is(back.schema, 0);
  assert.is(back.zeroThreshold, 0.3);
  assert.equal(histogramJSON(back), j);
});

test('histogram JSON: malformed or impossible histograms are refused with a reason', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['x', /not an object/],
    [{ count: 1, sum: '0' }, /histogram count 1 is not a string/],
    [{ count: '1', sum: 'abc' }, /histogram sum "abc" is not a number/],
    [{ count: '1', sum: '0', buckets: [[7, '1', '2', '1']] }, /boundaryRule 0\.\.3/],
    [{ count: '1', sum: '0', buckets: [[0, '2', '1', '1']] }, /lower bound 2 above upper bound 1/],
    [{ count: '2', sum: '0', buckets: [[0, '1', '3', '1'], [0, '2', '4', '1']] }, /overlaps another/],
    [{ count: '1', sum: '0', buckets: [[3, '-1', '1', '1'], [0, '1', '3', '1']] }, /zero bucket but its other buckets fit no exponential schema/],
    [{ count: '1', sum: '0', buckets: [[0, '1', '2', '-1']] }, /invalid histogram: .*observation count is negative/],
    [{ count: '1', sum: '0', buckets: Array.from({ length: 70_000 }, () => [0, '1', '2', '1']) }, /more than 65536/],
  ];
  for (const [v, re] of bad) {
    try {
      histogramFromApiJson(v);
      assert.unreachable(JSON.stringify(v).slice(0, 80));
    } catch (e) {
      assert.match((e as Error).message, re);
    }
  }
  // A vector with a histogram sample: value 0 beside it, as promql.Sample's F.
  const h = new FloatHistogram({ schema: 0, count: 1, sum: 1, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] });
  const [s] = parseQueryResponse({ status: 'success', data: { resultType: 'vector', result: [{ metric: { a: 'b' }, histogram: [1, histogramJSON(h)] }] } });
  assert.is(s!.value, 0);
  assert.is(s!.histogram!.toString(), h.toString());
});

test('--tsdb.enable-native-histograms: accepted either way (Thanos ≥ 0.40: a deprecated no-op, default true); remote write send_native_histograms is a boolean', () => {
  const f = rulePlugin.flags?.find((x) => x.name === 'tsdb.enable-native-histograms');
  assert.ok(f && f.type === 'bool' && f.default === true);
  for (const v of [true, false]) assert.is(parseRuleConfig({ ruleFiles: ['x.yml'], queries: ['http://q:1'], tsdbEnableNativeHistograms: v }).enableNativeHistograms, v);
  assert.is(parseRuleConfig({ ruleFiles: ['x.yml'], queries: ['http://q:1'] }).enableNativeHistograms, true);
  const [on] = parseRemoteWriteConfig('remote_write:\n  - url: http://r:1/api/v1/write\n    send_native_histograms: true\n');
  assert.is(on!.sendNativeHistograms, true);
  assert.is(parseRemoteWriteConfig('remote_write:\n  - url: http://r:1/api/v1/write\n')[0]!.sendNativeHistograms, false);
  assert.throws(() => parseRemoteWriteConfig('remote_write:\n  - url: http://r:1/api/v1/write\n    send_native_histograms: yes please\n'), /send_native_histograms: expected true or false/);
});

// ---- the component in process -------------------------------------------------------------------

const METRIC = 'http_request_duration_seconds';
const RECORD = 'job:http_request_duration_seconds:rate5m';
const EXPR = `sum by (job) (rate(${METRIC}[5m]))`;
const RULES = `groups:\n  - name: h\n    rules:\n      - record: ${RECORD}\n        expr: ${EXPR}\n      - alert: LatencyHistogram\n        expr: ${EXPR}\n        annotations: { v: "{{ $value }}", c: "{{ $value.Count }}", bad: "{{ humanize $value }}" }\n`;

/** Native histogram counters of two instances of one job, every 5s over the last 10 minutes and the next minute. */
function histogramData(now: number): MemoryQueryable {
  const q = new MemoryQueryable();
  for (const inst of ['1', '2']) {
    const ls = labelsFromRecord({ __name__: METRIC, job: 'api', instance: inst });
    const k = inst === '1' ? 1 : 3;
    for (let i = 0, t = now - 600_000; t <= now + 60_000; t += 5000, i++) {
      q.addHistogram(ls, t, new FloatHistogram({
        schema: inst === '1' ? 1 : 0, count: 6 * i * k, sum: 0.75 * i * k, zeroThreshold: 0.001, zeroCount: i * k,
        positiveSpans: [{ offset: -2, length: 2 }, { offset: 1, length: 1 }], positiveBuckets: [i * k, 2 * i * k, i * k],
        negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [i * k],
      }));
    }
  }
  return q;
}

function queryHandler(q: MemoryQueryable) {
  return async (req: Request): Promise<Response> => {
    const form = new URLSearchParams(await req.text());
    const res = await engine.instantQuery(q, form.get('query')!, Number(form.get('time')) * 1000);
    return Response.json({ status: 'success', data: toPromJSON(res) });
  };
}

function ruleCtx(q: MemoryQueryable, dataDir: string, ready: { v: boolean }, alerts: unknown[]): ComponentContext {
  const query = queryHandler(q);
  return stubComponentCtx({
    dataDir, pluginId: 'component:rule', core, addresses: { http: '127.0.0.1:10902' },
    setReady: (r) => { ready.v = r; },
    fetch: async (input, init) => {
      const req = new Request(input as string, init);
      const u = new URL(req.url);
      if (u.host === 'q:9090') return query(req);
      if (u.host === 'am:9093') {
        alerts.push(...((await req.json()) as unknown[]));
        return new Response('');
      }
      return fetch(req);
    },
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function seriesOf(store: { series: (r: ReturnType<typeof seriesRequest>, s: AbortSignal) => AsyncIterable<{ type: string; series?: Series }> }, name: string): Promise<Series[]> {
  const out: Series[] = [];
  const ms: Matcher[] = [{ type: '=', name: '__name__', value: name }];
  for await (const r of store.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 3_600_000, matchers: ms }), new AbortController().signal)) if (r.type === 'series') out.push(r.series!);
  return out;
}

/** The histogram samples of a Series frame (FLOAT_HISTOGRAM chunks only; anything else fails). */
function histogramSamples(s: Series): Array<{ t: number; h: FloatHistogram }> {
  const out: Array<{ t: number; h: FloatHistogram }> = [];
  for (const c of s.chunks) {
    assert.is(c.raw!.type, ChunkEncoding.FLOAT_HISTOGRAM, 'recorded histograms are float histograms');
    const d = core.histogramDecode(c.raw!.data, true);
    for (let i = 0; i < d.n; i++) out.push({ t: d.t[i]!, h: fromChunkSample(d, i) });
  }
  return out;
}

/** The engine's answer for EXPR at t (one series: job="api"). */
async function engineAt(q: MemoryQueryable, t: number): Promise<FloatHistogram> {
  const res = await engine.instantQuery(q, EXPR, t);
  const v = res.result as Array<{ value: { h?: FloatHistogram } }>;
  assert.is(v.length, 1);
  return v[0]!.value.h!;
}

test('component: a histogram recording rule is stored as float histograms, served over the StoreAPI as the engine computed them, replayed after a restart; $value renders the histogram', async () => {
  const dataDir = join(tmp(), 'data');
  const now = Date.now();
  const q = histogramData(now);
  const ruleFile = join(tmp(), 'h.yml');
  (await import('node:fs')).writeFileSync(ruleFile, RULES);
  const cfg = parseRuleConfig({ ruleFiles: [ruleFile], evalInterval: '200ms', queries: ['http://q:9090'], alertmanagersUrls: ['http://am:9093'], labels: ['replica="r0"'] });
  const ready = { v: false };
  const alerts: Array<{ annotations: Record<string, string> }> = [];
  const comp = await createRule(ruleCtx(q, dataDir, ready, alerts), cfg);
  const ac = new AbortController();
  const running = comp.run(ac.signal);
  let recorded: Array<{ t: number; h: FloatHistogram }> = [];
  try {
    await waitFor(async () => {
      const s = await seriesOf(comp.tsdb!, RECORD);
      recorded = s.length === 1 ? histogramSamples(s[0]!) : [];
      return recorded.length >= 3;
    }, 'three recorded histogram samples');
    const [s] = await seriesOf(comp.tsdb!, RECORD);
    assert.equal(labelsToRecord(s!.labels), { __name__: RECORD, job: 'api', replica: 'r0' });
    for (const { t, h } of recorded) {
      const want = await engineAt(q, t);
      assert.equal(histogramJSON(h), histogramJSON(want), `at ${t}`);
      assert.is(h.schema, want.schema, 'schema kept (the lower of the two inputs)');
      assert.ok(equalsForTest(want, h, false), `at ${t}: ${h.toString()} vs ${want.toString()}`);
    }
    // The alert: $value is the histogram (its String()), .Count a field of it, humanize refuses it.
    await waitFor(() => alerts.length > 0, 'the alert sent');
    const a = alerts[0]!.annotations;
    assert.match(a.v!, /^\{count:\d+(\.\d+)?, sum:[\d.]+, \[-1,-0\.5\):/);
    assert.match(a.c!, /^\d+(\.\d+)?$/);
    assert.match(a.bad!, /can't convert \*histogram\.FloatHistogram to float/);
    const api = (await (await comp.fetch!(new Request('http://x/api/v1/alerts'))).json()) as { data: { alerts: Array<{ value: string }> } };
    assert.is(api.data.alerts[0]!.value, '0e+00', 'the alert value is the sample float, 0 for a histogram (Prometheus: smpl.F)');
    const flags = (await (await comp.fetch!(new Request('http://x/api/v1/status/flags'))).json()) as { data: Record<string, string> };
    assert.is(flags.data['tsdb.enable-native-histograms'], 'true');
  } finally {
    ac.abort();
    await running;
  }
  // Restart on the same --data-dir: the WAL gives every histogram sample back.
  const again = await createRule(ruleCtx(q, dataDir, { v: false }, []), cfg);
  const [r] = await seriesOf(again.tsdb!, RECORD);
  const replayed = histogramSamples(r!);
  assert.ok(replayed.length >= recorded.length);
  for (const { t, h } of recorded) {
    const x = replayed.find((p) => p.t === t);
    assert.ok(x, `sample at ${t} replayed`);
    assert.equal(histogramJSON(x!.h), histogramJSON(h));
  }
});

test('stateless: histogram results are remote-written as prompb float histograms to our receive (send_native_histograms: true), left out when false', async () => {
  // Our receive on loopback.
  const rcfg = receivePlugin.parseConfig({ tsdbPath: tmp(), labels: ['replica="rx"'], remoteWriteAddress: '127.0.0.1:0' });
  const rctx = receiveCtx();
  const rx = await Receiver.open({
    fs: rctx.fs, path: rcfg.tsdbPath, core: rctx.core, log: rctx.log, metrics: rctx.metrics,
    labels: rcfg.labels, tenantLabelName: rcfg.tenantLabelName, defaultTenant: rcfg.defaultTenant,
    replicationFactor: rcfg.replicationFactor, blockDurationMs: rcfg.blockDurationMs, retentionMs: rcfg.retentionMs,
  });
  const port = await freePort();
  const bodies: number[] = [];
  const handle = receiveHttpHandler(rx, rcfg);
  const srv = await serveFetch('127.0.0.1', port, async (req) => {
    bodies.push(1);
    return handle(req);
  });
  cleanups.push(() => srv.close());
  const now = Date.now();
  const q = histogramData(now);
  const ruleFile = join(tmp(), 'h.yml');
  (await import('node:fs')).writeFileSync(ruleFile, `groups:\n  - name: h\n    rules:\n      - record: ${RECORD}\n        expr: ${EXPR}\n      - record: job:count\n        expr: count by (job) (${METRIC})\n`);
  const rw = (send: boolean, name: string) => `remote_write:\n  - url: http://127.0.0.1:${port}/api/v1/receive\n    name: ${name}\n    send_native_histograms: ${send}\n    queue_config: { batch_send_deadline: 50ms }\n`;
  for (const send of [true, false]) {
    const cfg = parseRuleConfig({ ruleFiles: [ruleFile], evalInterval: '200ms', queries: ['http://q:9090'], labels: [`ruler="${send ? 'on' : 'off'}"`], remoteWriteConfig: rw(send, send ? 'on' : 'off') });
    const comp = await createRule(ruleCtx(q, '', { v: false }, []), cfg);
    assert.is(comp.tsdb, undefined, 'stateless: no TSDB');
    const ac = new AbortController();
    const running = comp.run(ac.signal);
    try {
      // The float rule's series arrives either way; it tells when the histograms would have.
      await waitFor(async () => (await seriesOf(rx.store, 'job:count')).some((s) => labelsToRecord(s.labels).ruler === (send ? 'on' : 'off')), `job:count from ruler ${send}`);
      if (send) {
        await waitFor(async () => (await seriesOf(rx.store, RECORD)).length === 1, 'the histogram series at the receive');
        const [s] = await seriesOf(rx.store, RECORD);
        assert.equal(labelsToRecord(s!.labels), { __name__: RECORD, job: 'api', ruler: 'on', replica: 'rx', tenant_id: 'default-tenant' });
        const got = histogramSamples(s!);
        assert.ok(got.length >= 1);
        for (const { t, h } of got) {
          const want = await engineAt(q, t);
          assert.equal(histogramJSON(h), histogramJSON(want), `at ${t}`);
          assert.ok(equalsForTest(want, h, false), `at ${t}`);
        }
      }
    } finally {
      ac.abort();
      await running;
    }
  }
  const off = (await seriesOf(rx.store, RECORD)).filter((s) => labelsToRecord(s.labels).ruler === 'off');
  assert.equal(off, [], 'send_native_histograms: false leaves the histogram samples out');
  assert.ok(bodies.length > 0);
});

test('blocks: histogram samples cut from the ruler TSDB are uploaded as FLOAT_HISTOGRAM chunks with the external labels', async () => {
  const bucket = await fsBucket(tmp());
  const log = createLogger({ level: 'error', write: () => {} });
  const { tsdb } = await RuleTSDB.open({ fs: nodeFs(), dir: tmp(), core, log, externalLabels: { replica: 'r0' }, blockDurationMs: 7_200_000, retentionMs: 0, bucket });
  const hist = (i: number) => new FloatHistogram({ schema: 2, count: 3 * i, sum: i / 2, zeroThreshold: 0.001, zeroCount: i, positiveSpans: [{ offset: 3, length: 2 }], positiveBuckets: [i, i], counterResetHint: 'gauge' });
  const written = new Map<number, FloatHistogram>();
  // 4h of one-minute evaluations: the first 2h block is cut and uploaded.
  for (let i = 0, t = 0; t <= 4 * 3_600_000; t += 60_000, i++) {
    written.set(t, hist(i + 1));
    const r = await tsdb.append([{ labels: { __name__: RECORD, job: 'api' }, t, v: 0, h: hist(i + 1) }]);
    assert.is(r.accepted, 1);
  }
  const m = await tsdb.maintain();
  assert.is(m.cut.length, 1);
  assert.is(m.uploaded.length, 1);
  assert.ok(m.cut[0]!.endsWith(`/${m.uploaded[0]}`), 'the cut block is the one uploaded');
  const b = await BlockReader.open(bucketBlockFiles(bucket, m.uploaded[0]!), { core });
  assert.equal(b.meta.thanos?.labels, { replica: 'r0' });
  const got: Array<{ t: number; h: FloatHistogram }> = [];
  for await (const s of b.selectChunks([{ type: '=', name: '__name__', value: RECORD }])) {
    assert.equal(labelsToRecord(s.labels), { __name__: RECORD, job: 'api' });
    for (const c of s.chunks) {
      assert.is(c.encoding, ENC_FLOAT_HISTOGRAM);
      const d = core.histogramDecode(c.data, true);
      for (let i = 0; i < d.n; i++) got.push({ t: d.t[i]!, h: fromChunkSample(d, i) });
    }
  }
  assert.is(got.length, 120, 'the block holds [0, 2h) at one sample a minute');
  for (const { t, h } of got) {
    assert.is(h.toString(), written.get(t)!.toString(), `at ${t}`);
    assert.is(h.counterResetHint, 'gauge', 'a gauge histogram stays one');
  }
});

test.run();

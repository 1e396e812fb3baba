// Prometheus API gaps Grafana hits (issue #10 items 6 and 12), in process: exact int64 times in
// /api/v1/stores, /api/v1/format_query, /api/v1/metadata and /api/v1/targets fanned out to
// endpoints that advertise those APIs (dedup, metric/limit/state), gzip answers, and parse errors
// worded and placed as a real Prometheus 2.42 answers them (recorded in prom242-answers.json).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { decodeInfoResponse, encodeInfoResponse, infoResponseFromComponentInfo, type InfoResponse } from '../../lib/proto/info.ts';
import type { MetadataMap, MetricMetadataRequest, MetricMetadataResponse } from '../../lib/proto/metadata.ts';
import {
  decodeMetricMetadataRequest, decodeMetricMetadataResponse, encodeMetricMetadataRequest, encodeMetricMetadataResponse,
} from '../../lib/proto/metadata.ts';
import {
  decodeTargetsResponse, encodeTargetsResponse, type ActiveTarget, type TargetDiscovery, type TargetsRequest, type TargetsResponse,
} from '../../lib/proto/targets.ts';
import { Reader } from '../../lib/proto/wire.ts';
import { MemoryStore } from '../../lib/store/memory.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { MemClient, queryCtx } from './ctx.ts';

const core = createJsCore();
const answers = JSON.parse(readFileSync(new URL('./prom242-answers.json', import.meta.url), 'utf8')) as {
  queryErrors: Array<[string, string]>;
  formatQuery: Array<[string, string]>;
};

/** An endpoint with a fixed Info time range and, optionally, the Metadata and Targets APIs. */
class ApiClient extends MemClient {
  metaCalls: MetricMetadataRequest[] = [];
  targetCalls: TargetsRequest[] = [];
  constructor(address: string, private readonly opts: {
    minTime?: number; maxTime?: number; metadata?: MetadataMap; targets?: TargetDiscovery; fail?: boolean;
  }) {
    super(address, MemoryStore.fromSamples([], core.xorEncode, { externalLabels: labelsFromRecord({ replica: address.slice(-1) }) }), 'sidecar');
  }

  override async info(): Promise<InfoResponse> {
    const i = await super.info();
    return {
      ...i,
      store: { ...i.store!, minTime: this.opts.minTime ?? i.store!.minTime, maxTime: this.opts.maxTime ?? i.store!.maxTime },
      ...(this.opts.metadata ? { metricMetadata: {} } : {}),
      ...(this.opts.targets ? { targets: {} } : {}),
    };
  }

  async *metricMetadata(req: MetricMetadataRequest): AsyncIterable<MetricMetadataResponse> {
    this.metaCalls.push(req);
    if (this.opts.fail) throw new Error('connection refused');
    // through the codecs, as over gRPC
    yield decodeMetricMetadataResponse(encodeMetricMetadataResponse({ type: 'metadata', metadata: this.opts.metadata! }));
  }

  async *targets(req: TargetsRequest): AsyncIterable<TargetsResponse> {
    this.targetCalls.push(req);
    const t = this.opts.targets!;
    const pick: TargetDiscovery = {
      activeTargets: req.state === 2 ? [] : t.activeTargets,
      droppedTargets: req.state === 1 ? [] : t.droppedTargets,
    };
    yield decodeTargetsResponse(encodeTargetsResponse({ type: 'targets', targets: pick }));
  }
}

async function start(clients: Record<string, ApiClient>, extra: Record<string, unknown> = {}): Promise<{ comp: QueryComponent; stop: () => Promise<void> }> {
  const cfg = parseQueryConfig({ endpoints: Object.keys(clients), replicaLabels: ['replica'], endpointInfoInterval: '1h', ...extra });
  const comp = await setupQuery(queryCtx(core), cfg, { clientFactory: (addr) => clients[addr]! });
  const ctl = new AbortController();
  const run = comp.run(ctl.signal);
  await comp.ready;
  return { comp, stop: async () => { ctl.abort(); await run; } };
}

async function get(comp: QueryComponent, path: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await comp.fetch!(new Request(`http://querier${path}`, init));
  return { status: res.status, text: await res.text(), headers: res.headers };
}

// ---- item 6: int64 ------------------------------------------------------------------------------

test('/api/v1/stores writes int64 times exactly: MaxInt64/MinInt64, never 9223372036854776000 or ±2^53-1', async () => {
  const q = await start({
    // a sidecar: maxTime math.MaxInt64 as decoded from the wire (2^63 as a double)
    '127.0.0.1:10901': new ApiClient('127.0.0.1:10901', { minTime: 1_700_000_000_123, maxTime: 2 ** 63 }),
    // a store gateway before its first sync: the "no data" sentinels
    '127.0.0.1:10902': new ApiClient('127.0.0.1:10902', { minTime: Number.MAX_SAFE_INTEGER, maxTime: -Number.MAX_SAFE_INTEGER }),
    '127.0.0.1:10903': new ApiClient('127.0.0.1:10903', { minTime: -(2 ** 63), maxTime: 2 ** 63 }),
  });
  try {
    const r = await get(q.comp, '/api/v1/stores');
    assert.is(r.status, 200);
    // the text, not JSON.parse (which cannot hold these values)
    const times = [...r.text.matchAll(/"name":"([^"]+)".*?"minTime":(-?\d+),"maxTime":(-?\d+)/g)].map((m) => [m[1], m[2], m[3]]);
    assert.equal(times, [
      ['127.0.0.1:10901', '1700000000123', '9223372036854775807'],
      ['127.0.0.1:10902', '9223372036854775807', '-9223372036854775808'],
      ['127.0.0.1:10903', '-9223372036854775808', '9223372036854775807'],
    ], r.text);
    assert.not.match(r.text, /9223372036854776000|9007199254740991|e\+/);
  } finally {
    await q.stop();
  }
});

function readInt64Field(buf: Uint8Array, path: number[]): bigint[] {
  // walks nested messages by field number and returns the varints of the last field, as uint64 -> int64
  const out: bigint[] = [];
  const walk = (r: Reader, depth: number) => {
    while (r.pos < r.end) {
      const tag = r.tag();
      const f = tag >>> 3;
      if (f === path[depth] && depth < path.length - 1 && (tag & 7) === 2) {
        const n = r.len();
        const saved = r.push(n);
        walk(r, depth + 1);
        r.pop(saved);
      } else if (f === path[depth] && depth === path.length - 1 && (tag & 7) === 0) {
        out.push(BigInt.asIntN(64, r.uint64Big()));
      } else r.skip(tag & 7);
    }
  };
  walk(new Reader(buf), 0);
  return out;
}

test('Info on the wire: no-bound sentinels go out as exact math.MaxInt64 / math.MinInt64; a querier without stores advertises the whole range', async () => {
  const enc = encodeInfoResponse(infoResponseFromComponentInfo({
    componentType: 'store', store: { minTime: Number.MAX_SAFE_INTEGER, maxTime: -Number.MAX_SAFE_INTEGER, tsdbInfos: [] },
  }));
  assert.equal(readInt64Field(enc, [3, 1]), [9223372036854775807n]);
  assert.equal(readInt64Field(enc, [3, 2]), [-9223372036854775808n]);
  const q = await start({});
  try {
    const info = infoResponseFromComponentInfo(q.comp.info());
    const wire = encodeInfoResponse(info);
    // Thanos ProxyStore.TimeRange with no stores: MinInt64..MaxInt64
    assert.equal(readInt64Field(wire, [3, 1]), [-9223372036854775808n]);
    assert.equal(readInt64Field(wire, [3, 2]), [9223372036854775807n]);
    const back = decodeInfoResponse(wire);
    assert.ok(back.metricMetadata && back.targets, 'the querier advertises the Metadata and Targets APIs');
  } finally {
    await q.stop();
  }
});

// ---- item 12a: format_query ---------------------------------------------------------------------

test('/api/v1/format_query answers (GET and POST) as Prometheus 2.42 does', async () => {
  const q = await start({});
  try {
    for (const [query, want] of answers.formatQuery) {
      const isErr = want.startsWith('invalid parameter');
      const r = await get(q.comp, `/api/v1/format_query?query=${encodeURIComponent(query)}`);
      const body = JSON.parse(r.text);
      if (isErr) {
        assert.is(r.status, 400, query);
        assert.equal(body, { status: 'error', errorType: 'bad_data', error: want }, query);
      } else {
        assert.is(r.status, 200, `${query}: ${r.text}`);
        assert.equal(body, { status: 'success', data: want }, query);
      }
    }
    const p = await get(q.comp, '/api/v1/format_query', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'query=a%2Bb',
    });
    assert.is(p.text, '{"status":"success","data":"a + b"}');
    const empty = await get(q.comp, '/api/v1/format_query');
    assert.is(empty.text, '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:1: parse error: no expression found in input"}');
  } finally {
    await q.stop();
  }
});

// ---- item 12e: parse errors ----------------------------------------------------------------------

test('parse errors: the API error JSON equals Prometheus 2.42 byte for byte (wording and line:col)', async () => {
  const q = await start({});
  try {
    const bad: string[] = [];
    for (const [query, want] of answers.queryErrors) {
      const r = await get(q.comp, `/api/v1/query?query=${encodeURIComponent(query)}&time=1700000000`);
      if (r.status !== 400 || r.text !== want) bad.push(`${query}\n  want ${want}\n  got  ${r.text}`);
    }
    assert.is(bad.length, 0, bad.join('\n'));
    assert.ok(answers.queryErrors.length >= 90);
  } finally {
    await q.stop();
  }
});

// ---- item 12d: gzip ------------------------------------------------------------------------------

test('a small in-memory answer to a gzip-accepting client passes the gzip step with its body unread', async () => {
  // Reading `body` makes the HTTP server's lightweight Response a full one whose body is then pumped
  // through a web stream (~0.2 ms of every small answer); the gzip step knows in-memory answers by their bytes.
  const q = await start({});
  const proto = Response.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'body')!;
  let reads = 0;
  Object.defineProperty(proto, 'body', { ...original, get() { reads++; return original.get!.call(this); } });
  try {
    const res = await q.comp.fetch!(new Request('http://querier/api/v1/query?query=1%2B1&time=100', { headers: { 'Accept-Encoding': 'gzip' } }));
    assert.is(reads, 0);
    assert.is(res.headers.get('content-encoding'), null);
    assert.is(await res.text(), '{"status":"success","data":{"resultType":"scalar","result":[100,"2"]}}');
  } finally {
    Object.defineProperty(proto, 'body', original);
    await q.stop();
  }
});

test('API answers are gzipped as Thanos\'s gziphandler does: when the client accepts gzip and the body is 1400 bytes or more', async () => {
  const q = await start({});
  try {
    const big = `"${'x'.repeat(2000)}"`;
    const url = (query: string) => `http://querier/api/v1/query?query=${encodeURIComponent(query)}&time=100`;
    const plain = await q.comp.fetch!(new Request(url(big)));
    assert.is(plain.headers.get('content-encoding'), null);
    assert.match(plain.headers.get('vary') ?? '', /Accept-Encoding/);
    const plainText = await plain.text();
    assert.is(plainText, `{"status":"success","data":{"resultType":"string","result":[100,${big}]}}`);
    const res = await q.comp.fetch!(new Request(url(big), { headers: { 'Accept-Encoding': 'gzip, deflate, br' } }));
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-encoding'), 'gzip');
    assert.is(res.headers.get('content-type'), 'application/json');
    assert.match(res.headers.get('vary') ?? '', /Accept-Encoding/);
    assert.is(gunzipSync(Buffer.from(await res.arrayBuffer())).toString(), plainText);
    // Large answers, compressed off the event loop, read the same.
    const huge = `"${'y'.repeat(200_000)}"`;
    const hres = await q.comp.fetch!(new Request(url(huge), { headers: { 'Accept-Encoding': 'gzip' } }));
    assert.is(hres.headers.get('content-encoding'), 'gzip');
    assert.is(gunzipSync(Buffer.from(await hres.arrayBuffer())).toString(), `{"status":"success","data":{"resultType":"string","result":[100,${huge}]}}`);
    // Under 1400 bytes: plain, as gziphandler's DefaultMinSize (errors too).
    const small = await q.comp.fetch!(new Request(url('1+1'), { headers: { 'Accept-Encoding': 'gzip' } }));
    assert.is(small.headers.get('content-encoding'), null);
    assert.match(small.headers.get('vary') ?? '', /Accept-Encoding/);
    assert.is(await small.text(), '{"status":"success","data":{"resultType":"scalar","result":[100,"2"]}}');
    const err = await q.comp.fetch!(new Request(url('sum('), { headers: { 'Accept-Encoding': 'gzip' } }));
    assert.is(err.status, 400);
    assert.is(err.headers.get('content-encoding'), null);
    assert.match(await err.text(), /1:5: parse error: unclosed left parenthesis/);
    // Only gzip, and not when refused (q=0); deflate alone is answered plain.
    for (const ae of ['deflate', 'gzip;q=0', 'identity, gzip;q=0.0']) {
      const r = await q.comp.fetch!(new Request(url(big), { headers: { 'Accept-Encoding': ae } }));
      assert.is(r.headers.get('content-encoding'), null, ae);
      assert.is(await r.text(), plainText, ae);
    }
    const weighted = await q.comp.fetch!(new Request(url(big), { headers: { 'Accept-Encoding': 'br;q=1.0, GZIP;q=0.5' } }));
    assert.is(weighted.headers.get('content-encoding'), 'gzip');
    await weighted.arrayBuffer();
  } finally {
    await q.stop();
  }
});

// ---- item 12b/c: metadata and targets -------------------------------------------------------------

const META_A: MetadataMap = {
  up_total: [{ type: 'counter', help: 'Ups.', unit: '' }],
  temp: [{ type: 'gauge', help: 'Temperature.', unit: 'celsius' }],
};
const META_B: MetadataMap = {
  up_total: [{ type: 'counter', help: 'Ups.', unit: '' }, { type: 'counter', help: 'Other help.', unit: '' }],
  zeta: [{ type: 'gauge', help: 'Z.', unit: '' }],
};

function active(replica: string, url: string, health: ActiveTarget['health'], seconds: number): ActiveTarget {
  return {
    discoveredLabels: [{ name: '__address__', value: url }, { name: 'replica', value: replica }, { name: 'job', value: 'node' }],
    labels: [{ name: 'instance', value: url }, { name: 'job', value: 'node' }, { name: 'replica', value: replica }],
    scrapePool: 'node', scrapeUrl: `http://${url}/metrics`, globalUrl: `http://host:${url.split(':')[1]}/metrics`, lastError: health === 'down' ? 'connection refused' : '',
    lastScrape: { seconds, nanos: 53301418 }, lastScrapeDuration: 0.001143831, health,
  };
}

test('/api/v1/metadata fans out to endpoints advertising the Metadata API, merges and dedups, honours metric and limit', async () => {
  const a = new ApiClient('127.0.0.1:10901', { metadata: META_A });
  const b = new ApiClient('127.0.0.1:10902', { metadata: META_B });
  const plain = new ApiClient('127.0.0.1:10903', {}); // no Metadata API advertised: not asked
  const q = await start({ '127.0.0.1:10901': a, '127.0.0.1:10902': b, '127.0.0.1:10903': plain });
  try {
    const r = await get(q.comp, '/api/v1/metadata');
    assert.is(r.status, 200);
    assert.is(r.text, '{"status":"success","data":{"temp":[{"type":"gauge","help":"Temperature.","unit":"celsius"}],' +
      '"up_total":[{"type":"counter","help":"Ups.","unit":""},{"type":"counter","help":"Other help.","unit":""}],"zeta":[{"type":"gauge","help":"Z.","unit":""}]}}');
    assert.equal(a.metaCalls.at(-1), { metric: '', limit: -1, partialResponseStrategy: 0 });
    const m = await get(q.comp, '/api/v1/metadata?metric=temp&limit=5');
    assert.equal(a.metaCalls.at(-1), { metric: 'temp', limit: 5, partialResponseStrategy: 0 });
    assert.is(m.status, 200);
    const lim = await get(q.comp, '/api/v1/metadata?limit=1');
    assert.equal(Object.keys(JSON.parse(lim.text).data).length, 1);
    const zero = await get(q.comp, '/api/v1/metadata?limit=0');
    assert.is(zero.text, '{"status":"success","data":{}}');
    const badLimit = await get(q.comp, '/api/v1/metadata?limit=abc');
    assert.is(badLimit.status, 400);
    assert.is(badLimit.text, `{"status":"error","errorType":"bad_data","error":"invalid metric metadata limit='abc'"}`);
    // the request codec carries every field (negative int32 limit included)
    assert.equal(decodeMetricMetadataRequest(encodeMetricMetadataRequest({ metric: 'x', limit: -1, partialResponseStrategy: 1 })), { metric: 'x', limit: -1, partialResponseStrategy: 1 });
  } finally {
    await q.stop();
  }
});

test('/api/v1/metadata: a failing endpoint is a warning with partial response, an error without', async () => {
  const a = new ApiClient('127.0.0.1:10901', { metadata: META_A });
  const bad = new ApiClient('127.0.0.1:10902', { metadata: META_B, fail: true });
  const q = await start({ '127.0.0.1:10901': a, '127.0.0.1:10902': bad }, { partialResponse: true });
  try {
    const r = JSON.parse((await get(q.comp, '/api/v1/metadata')).text);
    assert.is(r.status, 'success');
    assert.equal(Object.keys(r.data).sort(), ['temp', 'up_total']);
    assert.match(r.warnings[0], /127\.0\.0\.1:10902.*connection refused/);
    const e = await get(q.comp, '/api/v1/metadata?partial_response=false');
    assert.is(e.status, 500, e.text);
    assert.match(JSON.parse(e.text).error, /connection refused/);
  } finally {
    await q.stop();
  }
});

test('/api/v1/targets fans out, dedups replicas (keeping the healthiest, newest), filters by state, answers in Prometheus\'s shape', async () => {
  const tA: TargetDiscovery = {
    activeTargets: [active('A', '10.0.0.1:9100', 'down', 1_800_000_000), active('A', '10.0.0.2:9100', 'up', 1_800_000_000)],
    droppedTargets: [{ discoveredLabels: [{ name: 'replica', value: 'A' }, { name: '__address__', value: '10.0.0.9:1' }] }],
  };
  const tB: TargetDiscovery = {
    activeTargets: [active('B', '10.0.0.1:9100', 'down', 1_800_000_005)],
    droppedTargets: [{ discoveredLabels: [{ name: '__address__', value: '10.0.0.9:1' }, { name: 'replica', value: 'B' }] }],
  };
  const a = new ApiClient('127.0.0.1:10901', { targets: tA });
  const b = new ApiClient('127.0.0.1:10902', { targets: tB });
  const q = await start({ '127.0.0.1:10901': a, '127.0.0.1:10902': b });
  try {
    const r = await get(q.comp, '/api/v1/targets');
    assert.is(r.status, 200);
    const t1 = '{"discoveredLabels":{"__address__":"10.0.0.1:9100","job":"node"},"labels":{"instance":"10.0.0.1:9100","job":"node"},"scrapePool":"node",' +
      '"scrapeUrl":"http://10.0.0.1:9100/metrics","globalUrl":"http://host:9100/metrics","lastError":"connection refused",' +
      '"lastScrape":"2027-01-15T08:00:05.053301418Z","lastScrapeDuration":0.001143831,"health":"down"}';
    const t2 = '{"discoveredLabels":{"__address__":"10.0.0.2:9100","job":"node"},"labels":{"instance":"10.0.0.2:9100","job":"node"},"scrapePool":"node",' +
      '"scrapeUrl":"http://10.0.0.2:9100/metrics","globalUrl":"http://host:9100/metrics","lastError":"",' +
      '"lastScrape":"2027-01-15T08:00:00.053301418Z","lastScrapeDuration":0.001143831,"health":"up"}';
    assert.is(r.text, `{"status":"success","data":{"activeTargets":[${t1},${t2}],"droppedTargets":[{"discoveredLabels":{"__address__":"10.0.0.9:1"}}]}}`);
    const act = JSON.parse((await get(q.comp, '/api/v1/targets?state=Active')).text).data;
    assert.is(act.activeTargets.length, 2);
    assert.equal(act.droppedTargets, []);
    assert.is(a.targetCalls.at(-1)!.state, 1);
    const dr = JSON.parse((await get(q.comp, '/api/v1/targets?state=dropped')).text).data;
    assert.equal(dr.activeTargets, []);
    assert.is(dr.droppedTargets.length, 1);
    assert.is(a.targetCalls.at(-1)!.state, 2);
    assert.is((await get(q.comp, '/api/v1/targets?state=any')).status, 200);
    const badState = await get(q.comp, '/api/v1/targets?state=foo');
    assert.is(badState.status, 400);
    assert.is(badState.text, `{"status":"error","errorType":"bad_data","error":"invalid targets parameter state='foo'"}`);
  } finally {
    await q.stop();
  }
});

test.run();

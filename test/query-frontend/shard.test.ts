// Vertical query sharding pieces: the query analyzer (upstream pkg/querysharding's test cases), the
// store-side shard matcher (disjoint and complete shards; by/without keep each group in one shard),
// shard_info's JSON form, the proxy sharding for stores that do not advertise supports_sharding,
// and the frontend's cache key per shard.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeQuery, isShardable, shardInfos, CachedQueryAnalyzer, instantSortPlan } from '../../lib/queryfrontend/shard.ts';
import { decodeInstant, encodeInstant, mergeVector, type VectorResponse } from '../../lib/queryfrontend/response.ts';
import { encodeShardInfoJson, filterShard, parseShardInfoJson, shardMatcher, ShardInfoError } from '../../lib/store/shard.ts';
import { ProxyStore } from '../../lib/store/proxy.ts';
import { rangeCacheKey, decodeRangeRequest, encodeRangeRequest } from '../../lib/queryfrontend/mod.ts';
import { seriesRequest, type Series, type SeriesResponse } from '../../lib/proto/store.ts';
import type { StoreServer } from '../../lib/store/api.ts';
import type { Label } from '../../lib/labels/mod.ts';

const NON_SHARDABLE = [
  'sum(http_requests_total)',
  'count(sum by (pod) (http_requests_total))',
  'count(sum without (pod) (http_requests_total))',
  'http_requests_total{code="400"} / 4',
  'http_requests_total{code="400"} / on () http_requests_total',
  'sum by (pod) (http_requests_total{code="400"}) / sum by (cluster) (http_requests_total)',
  '(http_requests_total{code="400"} + on (cluster, pod) http_requests_total{code="500"}) / on () http_requests_total',
  'sum by (dst_label) (label_replace(metric, "dst_label", "$1", "src_label", "re"))',
  'sum by (dst_label) (label_join(metric, "dst_label", ",", "src_label"))',
  'sum by (url) (absent_over_time(http_requests_total{code="400"}[5m]))',
  'sum by (url) (absent(http_requests_total{code="400"}))',
  'scalar(sum by (url) (http_requests_total{code="400"}))',
  'sum by (le) (histogram_quantile(0.99, http_requests_duration_seconds_bucket))',
  'sum by (le) (http_requests_duration_seconds_bucket) + histogram_quantile(0.99, http_requests_duration_seconds_bucket)',
  'rate(x[5m])',
  'sum(',
];

const BY: Array<[string, string[]]> = [
  ['sum by (pod) (http_requests_total)', ['pod']],
  ['max by (pod) (sum by (pod, cluster) (http_requests_total))', ['pod']],
  ['http_requests_total{code="400"} / on (pod) http_requests_total', ['pod']],
  ['sum by (cluster, pod) (http_requests_total{code="400"}) / on (pod) sum by (cluster, pod) (http_requests_total)', ['pod']],
  ['sum(http_requests_total{code="400"} * http_requests_total) by (pod)', ['pod']],
  ['sum by (container) ((http_requests_total{code="400"} + on (cluster, pod, container) http_requests_total{code="500"}) / on (pod, container) http_requests_total)', ['container']],
  ['histogram_quantile(0.95, sum(rate(metric[1m])) by (le, cluster))', ['cluster']],
  ['sum(http_requests_total) by (pod, cluster) [1h:1m]', ['cluster', 'pod']],
  ['increase(sum(http_requests_total) by (pod, cluster) [1h:1m])', ['cluster', 'pod']],
  ['sum(rate(node_cpu_seconds_total[3h])) by (cluster_id, mode) / ignoring(mode) group_left sum(rate(node_cpu_seconds_total[3h])) by (cluster_id)', ['cluster_id']],
  ['sum by (pod) (label_replace(metric, "dst_label", "$1", "src_label", "re"))', ['pod']],
  ['sum by (pod, dst_label) (label_join(metric, "dst_label", ",", "src_label"))', ['pod']],
  ['label_join(sum by (pod) (label_join(metric, "dst_label", ",", "src_label")), "dst_label1", ",", "dst_label")', ['pod']],
  ['sort_desc(avg(label_replace(label_replace(label_replace(count_over_time(container_memory_working_set_bytes{container!="", container!="POD", instance!="", }[1h] ), "node", "$1", "instance", "(.+)"), "container_name", "$1", "container", "(.+)"), "pod_name", "$1", "pod", "(.+)")*label_replace(label_replace(label_replace(avg_over_time(container_memory_working_set_bytes{container!="", container!="POD", instance!="", }[1h] ), "node", "$1", "instance", "(.+)"), "container_name", "$1", "container", "(.+)"), "pod_name", "$1", "pod", "(.+)")) by (namespace, container_name, pod_name, node, cluster_id))', ['cluster_id', 'namespace']],
  ['sum by (le) (http_requests_duration_seconds_bucket)', ['le']],
];

const WITHOUT: Array<[string, string[]]> = [
  ['sum without (pod) (http_requests_total)', ['pod']],
  ['max without (pod) (sum without (pod, cluster) (http_requests_total))', ['cluster', 'pod']],
  ['sum(http_requests_total{code="400"} * http_requests_total) without (pod)', ['__name__', 'pod']],
  ['sum(http_requests_total{code="400"} * ignoring(cluster) http_requests_total) without ()', ['__name__', 'cluster']],
  ['(http_requests_total{code="400"} + ignoring (pod) http_requests_total{code="500"}) / ignoring (cluster, pod) http_requests_total', ['__name__', 'cluster', 'pod']],
  ['histogram_quantile(0.95, sum(rate(metric[1m])) without (le, cluster))', ['cluster', 'le']],
  ['sum without (pod) (label_replace(metric, "dst_label", "$1", "src_label", "re"))', ['dst_label', 'pod']],
  ['http_requests_total{code="400"} / http_requests_total', ['__name__']],
  ['aaaa - bbb > 1000', ['__name__']],
  ['aaaa and bbb', ['__name__']],
];

test('analyzer: queries upstream cannot shard are not sharded', () => {
  for (const q of NON_SHARDABLE) assert.not.ok(isShardable(analyzeQuery(q)), q);
});

test('analyzer: by-sharding labels as upstream', () => {
  for (const [q, want] of BY) {
    const a = analyzeQuery(q);
    assert.ok(isShardable(a), q);
    assert.ok(a.by, q);
    assert.equal([...a.labels!].sort(), want, q);
  }
});

test('analyzer: without-sharding labels as upstream', () => {
  for (const [q, want] of WITHOUT) {
    const a = analyzeQuery(q);
    assert.ok(isShardable(a), q);
    assert.not.ok(a.by, q);
    assert.equal([...a.labels!].sort(), want, q);
  }
});

test('analyzer cache: the same answer, bounded', () => {
  const c = new CachedQueryAnalyzer(2);
  for (const [q] of BY) assert.equal(c.analyze(q), analyzeQuery(q));
  assert.equal(c.analyze(BY[0]![0]), analyzeQuery(BY[0]![0]));
});

const L = (o: Record<string, string>): Label[] => Object.keys(o).sort().map((name) => ({ name, value: o[name]! }));

function population(): Label[][] {
  const out: Label[][] = [];
  for (const pod of ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']) {
    for (const code of ['200', '500', '503']) {
      for (const replica of ['a', 'b']) out.push(L({ __name__: 'http_requests_total', pod, code, replica }));
    }
  }
  return out;
}

test('shard matcher: shards are disjoint and complete; a by-group stays in one shard', () => {
  const all = population();
  for (const [by, labels] of [[true, ['pod']], [false, ['code', 'replica']], [true, ['pod', 'code']]] as const) {
    const seen = new Map<string, number>();
    const groupShard = new Map<string, number>();
    for (let i = 0; i < 3; i++) {
      const m = shardMatcher({ shardIndex: i, totalShards: 3, by, labels: [...labels] })!;
      for (const s of all) {
        if (!m(s)) continue;
        const k = JSON.stringify(s);
        assert.not.ok(seen.has(k), `${k} in two shards`);
        seen.set(k, i);
        const group = JSON.stringify(s.filter((l) => (labels as readonly string[]).includes(l.name) === by));
        if (groupShard.has(group)) assert.is(groupShard.get(group), i, `group ${group} split over shards`);
        groupShard.set(group, i);
      }
    }
    assert.is(seen.size, all.length, 'every series in one shard');
    assert.ok(new Set(seen.values()).size > 1, 'the population spreads over shards');
  }
  assert.is(shardMatcher(undefined), undefined);
  assert.is(shardMatcher({ shardIndex: 0, totalShards: 0, by: true, labels: ['pod'] }), undefined, 'total_shards 0: not sharded');
});

test('shard_info JSON: Go field names, zero values omitted; bad values refused', () => {
  const info = { shardIndex: 1, totalShards: 3, by: true, labels: ['pod'] };
  assert.is(encodeShardInfoJson(info), '{"shard_index":1,"total_shards":3,"by":true,"labels":["pod"]}');
  assert.is(encodeShardInfoJson({ shardIndex: 0, totalShards: 2, by: false, labels: ['a', 'b'] }), '{"total_shards":2,"labels":["a","b"]}');
  assert.equal(parseShardInfoJson(encodeShardInfoJson(info)), info);
  assert.equal(parseShardInfoJson('{"total_shards":2,"labels":["a"]}'), { shardIndex: 0, totalShards: 2, by: false, labels: ['a'] });
  for (const bad of ['{', '[]', '{"total_shards":"2"}', '{"labels":[1]}', '{"by":1}', '{"shard_index":3,"total_shards":3}']) {
    assert.throws(() => parseShardInfoJson(bad), (e: unknown) => e instanceof ShardInfoError, bad);
  }
});

function fixedStore(series: Series[]): StoreServer {
  return {
    async *series() {
      yield { type: 'batch', batch: series } as SeriesResponse;
    },
    async labelNames() { return { names: [], warnings: [] }; },
    async labelValues() { return { values: [], warnings: [] }; },
  };
}

async function collect(it: AsyncIterable<SeriesResponse>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) {
    if (r.type === 'series') out.push(JSON.stringify(r.series.labels));
    else if (r.type === 'batch') for (const s of r.batch) out.push(JSON.stringify(s.labels));
  }
  return out;
}

test('proxy: shards for a store without supports_sharding, passes shard_info on to one with it', async () => {
  const all = population().map((labels) => ({ labels, chunks: [] }));
  const half = (k: number) => all.filter((_, i) => i % 2 === k);
  const asked: Array<unknown> = [];
  const sharding: StoreServer = {
    ...fixedStore(half(1)),
    series(req, signal) {
      asked.push(req.shardInfo);
      return fixedStore(half(1)).series(req, signal);
    },
  };
  const proxy = new ProxyStore(() => [
    { name: 'old', store: fixedStore(half(0)), minTime: 0, maxTime: 1e15, labelSets: [] },
    { name: 'new', store: sharding, minTime: 0, maxTime: 1e15, labelSets: [], supportsSharding: true },
  ]);
  const signal = new AbortController().signal;
  const infos = shardInfos({ labels: ['pod'], by: true }, 2);
  const got: string[][] = [];
  for (const shardInfo of infos) got.push(await collect(proxy.series(seriesRequest({ minTime: 0, maxTime: 1e15, matchers: [], shardInfo }), signal)));
  assert.equal(asked, infos, 'shard_info passed on unchanged');
  const want = half(0).map((s) => JSON.stringify(s.labels));
  const m = infos.map((i) => shardMatcher(i)!);
  // the store without sharding was filtered by the proxy; the sharding one answered as it liked
  for (let i = 0; i < 2; i++) assert.equal(got[i]!.filter((k) => want.includes(k)), want.filter((k) => m[i]!(JSON.parse(k))));
  const unsharded = await collect(proxy.series(seriesRequest({ minTime: 0, maxTime: 1e15, matchers: [] }), signal));
  assert.is(unsharded.length, all.length);
  // filterShard (the gRPC server's) keeps frames in order and drops emptied batches
  const filtered = await collect(filterShard(fixedStore(all).series(seriesRequest({ minTime: 0, maxTime: 1, matchers: [] }), signal), infos[0]));
  assert.equal(filtered, all.map((s) => JSON.stringify(s.labels)).filter((k) => m[0]!(JSON.parse(k))));
});

test('frontend request: shard_info is encoded for the querier and part of the cache key', () => {
  const p = new URLSearchParams({ query: 'sum by (pod) (x)', start: '0', end: '3600', step: '60' });
  const dc = { path: '/api/v1/query_range', headers: new Headers(), forwardHeaders: [] };
  const r = decodeRangeRequest(p, dc, true);
  assert.is(r.shardInfo, undefined);
  assert.match(rangeCacheKey(r), /:-:/);
  const [s0, s1] = shardInfos(analyzeQuery(r.query), 2);
  const k0 = rangeCacheKey({ ...r, shardInfo: s0 });
  const k1 = rangeCacheKey({ ...r, shardInfo: s1 });
  assert.match(k0, /:2:0:/);
  assert.ok(k0 !== k1);
  const enc = encodeRangeRequest({ ...r, shardInfo: s1 });
  assert.is(enc.get('shard_info'), '{"shard_index":1,"total_shards":2,"by":true,"labels":["pod"]}');
  // a client's shard_info is read back, a malformed one refused as bad data
  assert.equal(decodeRangeRequest(enc, dc, true).shardInfo, s1);
  assert.throws(() => decodeRangeRequest(new URLSearchParams({ ...Object.fromEntries(p), shard_info: '{' }), dc, true), /shard_info/);
});

test('instant shards: Thanos\'s sort plan and vectorMerge', () => {
  assert.is(instantSortPlan('topk by (pod) (3, x)'), 'merge-only');
  assert.is(instantSortPlan('sort_desc(sum by (pod) (x))'), 'values-desc');
  assert.is(instantSortPlan('sum by (pod) (x) / sort(sum by (pod) (y))'), 'values-asc');
  assert.is(instantSortPlan('sum by (pod) (x)'), 'labels');
  const shard = (samples: Array<[string, number, string]>): VectorResponse =>
    decodeInstant(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: samples.map(([pod, t, v]) => ({ metric: { pod }, value: [t, v] })) } })) as VectorResponse;
  const a = shard([['b', 10, '5'], ['a', 10, '1']]);
  const b = shard([['c', 10, '3'], ['a', 11, '2']]);
  const pods = (r: VectorResponse) => r.result.map((s) => `${s.metric.pod}=${s.value![1]}`);
  assert.equal(pods(mergeVector([a, b], 'labels')), ['a=2', 'b=5', 'c=3'], 'by label set; the later sample of an overlap');
  assert.equal(pods(mergeVector([a, b], 'values-desc')), ['b=5', 'c=3', 'a=2']);
  assert.equal(pods(mergeVector([a, b], 'values-asc')), ['a=2', 'c=3', 'b=5']);
  assert.equal(pods(mergeVector([a, b], 'merge-only')), ['b=5', 'a=2', 'c=3'], 'shard order kept');
  assert.is(encodeInstant(mergeVector([a], 'labels')), '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[10,"1"]},{"metric":{"pod":"b"},"value":[10,"5"]}]}}');
});

test.run();

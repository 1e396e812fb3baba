// Query frontend benchmark: a 30-day dashboard range query (step 5m, split by 24h) through the
// frontend, first with an empty results cache (miss: 31 pieces asked downstream, merged, written to
// the cache) and then repeated (hit: extents read back and merged, nothing asked downstream). The
// downstream is in process (answers built once, served from memory with a fixed delay per piece), so
// this measures the frontend's own work plus the simulated downstream time; with memcached on this
// machine the same runs against a real memcached.
//
//   npm run bench -- frontend [--series=50] [--days=30] [--downstream-ms=20]
import { existsSync } from 'node:fs';
import { createLogger } from '../host/log.ts';
import { Registry } from '../host/metrics.ts';
import { createResponseCache, parseResponseCacheConfig, QueryFrontend, type MemcachedResponseCache } from '../lib/queryfrontend/mod.ts';
import { startMemcached, tcpConnect } from '../test/store-gateway/helpers.ts';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

const DAY = 24 * 3600_000;

export default async function main(args: string[]): Promise<void> {
  const nSeries = arg(args, 'series', 50);
  const days = arg(args, 'days', 30);
  const delayMs = arg(args, 'downstream-ms', 20);
  const step = 300_000;
  const end = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
  const start = end - days * DAY;
  let downstreamCalls = 0;
  const fetchFake = async (_url: string, init?: RequestInit): Promise<Response> => {
    downstreamCalls++;
    const p = new URLSearchParams(String(init?.body ?? ''));
    const s = Math.round(Number(p.get('start')) * 1000);
    const e = Math.round(Number(p.get('end')) * 1000);
    const result = [];
    for (let i = 0; i < nSeries; i++) {
      const values: Array<[number, string]> = [];
      for (let t = s; t <= e; t += step) values.push([t / 1000, String((i * 7 + t / step) % 1000)]);
      result.push({ metric: { __name__: 'http_requests:rate5m', job: `job${i % 10}`, instance: `host${i}:9090` }, values });
    }
    const body = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } });
    await new Promise((r) => setTimeout(r, delayMs));
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  };
  const log = createLogger({ level: 'error', write: () => {} });
  const run = async (label: string, cacheYaml: string, connect?: Parameters<typeof createResponseCache>[1]['connect']) => {
    const registry = new Registry();
    const cache = createResponseCache(parseResponseCacheConfig(cacheYaml, 'bench')!, { connect, log, metrics: registry, tripperware: 'query_range', compression: '' });
    const fe = new QueryFrontend({
      downstreamUrl: 'http://downstream',
      range: { splitIntervalMs: DAY, alignRangeWithStep: true, requestDownsampled: true, maxRetries: 5, maxQueryLengthMs: 0, maxQueryParallelism: 14, maxFreshnessMs: 60_000, partialResponse: true, cache },
      labels: { splitIntervalMs: DAY, maxRetries: 5, maxQueryParallelism: 14, maxFreshnessMs: 60_000, partialResponse: true, defaultTimeRangeMs: DAY },
      instantMaxRetries: 5, forwardHeaders: [], compressResponses: false, logQueriesLongerThanMs: 0, disableCors: false,
      fetch: fetchFake, log, metrics: registry,
    });
    const q = new URLSearchParams({ query: 'sum by (job, instance) (rate(http_requests_total[5m]))', start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) });
    const once = async () => {
      const t = performance.now();
      const res = await fe.handle(new Request(`http://fe/api/v1/query_range?${q}`));
      const bytes = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      return { ms: performance.now() - t, bytes };
    };
    downstreamCalls = 0;
    const miss = await once();
    const missCalls = downstreamCalls;
    await (cache?.backend as MemcachedResponseCache | undefined)?.flush?.();
    downstreamCalls = 0;
    let hitMs = Infinity;
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const h = await once();
      hitMs = Math.min(hitMs, h.ms);
      bytes = h.bytes;
    }
    console.log(`${label}: miss ${miss.ms.toFixed(0)} ms (${missCalls} downstream requests, ${delayMs} ms each, 14 in parallel); hit ${hitMs.toFixed(1)} ms (${downstreamCalls} downstream requests); answer ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${nSeries} series x ${days * 288} points`);
    await cache?.backend.close();
  };
  await run('IN-MEMORY', 'type: IN-MEMORY\nconfig:\n  max_size: 512MB\n');
  if (existsSync('/usr/bin/memcached')) {
    const mc = await startMemcached();
    try {
      await run('MEMCACHED', `type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:${mc.port}"]\n  timeout: 5s\n  max_item_size: 16MiB\n`, tcpConnect);
    } finally {
      await mc.stop();
    }
  }
}

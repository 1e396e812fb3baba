// End to end on loopback: promtool-made blocks (5 hours) in a FILESYSTEM bucket, a real `thanos
// store` and `thanos query`, a counting proxy in this process between the frontends and the
// querier (it can fail requests on demand), and two real `thanos query-frontend` processes splitting
// by 1h: one with the IN-MEMORY response cache, one with MEMCACHED (a real memcached). Answers through
// the frontend must equal the querier's; the proxy's request counts show cache hits, extents reused
// when the range moves forward, the freshness window asked for again, and retries.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { freePort, httpReady, openMetrics, promtoolBlocks, REPO, thanos, toBucket, waitFor, writeBucketConfig, type Fixture, type Proc } from '../query/harness.ts';
import { startMemcached, type Memcached } from '../store-gateway/helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { valueOf } from '../mixin/components.ts';
import { get, rangePath } from './http.ts';

const dir = mkdtempSync(join(tmpdir(), 'qfe-e2e-'));
const MIN = 60_000;
const H = 3600_000;
const END = Math.floor((Date.now() - H) / MIN) * MIN;
const fx: Fixture = { start: END - 5 * H, end: END, stepMs: 15_000, offsetMs: 3217 };
/** Hour-aligned start inside the data, so split pieces and moved ranges are predictable. */
const S = Math.ceil(fx.start / H) * H;

const procs: Proc[] = [];
let querier = 0;
let proxyPort = 0;
let proxy: Server;
let feMem = 0;
let feMc = 0;
let feMcProc: Proc;
let memcached: Memcached;

/** What the proxy saw: one entry per request it passed on. */
const seen: Array<{ path: string; params: URLSearchParams }> = [];
let failNext = 0;

function startProxy(port: number): Promise<Server> {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const params = new URLSearchParams(url.search);
      if ((req.headers['content-type'] ?? '').includes('form-urlencoded')) for (const [k, v] of new URLSearchParams(body.toString())) params.append(k, v);
      if (url.pathname !== '/-/ready') seen.push({ path: url.pathname, params });
      if (failNext > 0 && url.pathname !== '/-/ready') {
        failNext--;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"status":"error","errorType":"internal","error":"injected failure"}');
        return;
      }
      try {
        const headers: Record<string, string> = {};
        if (req.headers['content-type']) headers['content-type'] = String(req.headers['content-type']);
        const r = await fetch(`http://127.0.0.1:${querier}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
        const out = Buffer.from(await r.arrayBuffer());
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(out);
      } catch (e) {
        res.writeHead(502);
        res.end(String(e));
      }
    });
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

function startFrontend(name: string, port: number, cacheYaml: string, extra: string[] = []): Proc {
  return thanos(name, ['query-frontend', '--http-address', `127.0.0.1:${port}`, '--query-frontend.downstream-url', `http://127.0.0.1:${proxyPort}`,
    '--query-range.split-interval=1h', `--query-range.response-cache-config=${cacheYaml}`, ...extra], dir);
}

test.before(async () => {
  try {
    await setup();
  } catch (e) {
    console.error('setup failed:', e);
    throw e;
  }
});

async function setup(): Promise<void> {
  writeFileSync(join(dir, 'full.om'), openMetrics(fx));
  const ids = await promtoolBlocks(join(dir, 'full.om'), join(dir, 'blocks'));
  toBucket(join(dir, 'blocks'), ids, join(dir, 'bucket'), { replica: 'A' });
  writeBucketConfig(join(dir, 'bucket.yaml'), join(dir, 'bucket'));
  const sGrpc = await freePort();
  const sHttp = await freePort();
  const store = thanos('store', ['store', '--data-dir', join(dir, 'store'), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--http-address', `127.0.0.1:${sHttp}`, '--grpc-address', `127.0.0.1:${sGrpc}`], dir);
  procs.push(store);
  await waitFor(() => httpReady(sHttp), STARTUP_MS, 'store ready', store.logs);
  querier = await freePort();
  const qGrpc = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${querier}`, '--grpc-address', `127.0.0.1:${qGrpc}`,
    '--endpoint', `127.0.0.1:${sGrpc}`, '--query.replica-label', 'replica', '--endpoint.info-interval', '1s'], dir);
  procs.push(q);
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${querier}/api/v1/stores`)).json()) as any;
    return (r.data.store ?? []).filter((s: { lastError: string | null }) => s.lastError === null).length === 1;
  }, STARTUP_MS, 'querier sees the store', q.logs);
  proxyPort = await freePort();
  proxy = await startProxy(proxyPort);
  memcached = await startMemcached();
  feMem = await freePort();
  feMc = await freePort();
  const mem = startFrontend('fe-mem', feMem, 'type: IN-MEMORY\nconfig:\n  max_size: 64MB\n');
  procs.push(mem);
  feMcProc = startFrontend('fe-mc', feMc, `type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:${memcached.port}"]\n  timeout: 5s\n`, ['--cache-compression-type=snappy']);
  await waitFor(() => httpReady(feMem), STARTUP_MS, 'frontend (in-memory) ready', mem.logs);
  await waitFor(() => httpReady(feMc), STARTUP_MS, 'frontend (memcached) ready', feMcProc.logs);
}

test.after(async () => {
  await feMcProc?.kill();
  for (const p of procs.reverse()) await p.kill();
  await memcached?.stop();
  await new Promise((r) => proxy?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const QUERIES = [
  'rate(e2e_requests_total[5m])',
  'sum by (job) (rate(e2e_requests_total[5m]))',
  'increase(e2e_requests_total{job="web"}[15m])',
  'histogram_quantile(0.9, sum by (le) (rate(e2e_latency_seconds_bucket[10m])))',
  'max_over_time(e2e_temperature[30m:1m])',
  'e2e_temperature{room="a"} offset 30m',
  'e2e_temperature{room="b"} @ end()',
  'avg_over_time(e2e_temperature{room="a"}[10m] @ start())',
  'min_over_time(e2e_temperature[10m] @ ' + (S + 90 * MIN) / 1000 + ')',
];

test('range queries through the frontend equal the querier\'s, over several split intervals', async () => {
  const start = fx.start + 7 * MIN - ((fx.start + 7 * MIN) % MIN);
  const end = END - 3 * MIN;
  const diffs: string[] = [];
  for (const q of QUERIES) {
    const path = rangePath(q, start, end);
    seen.length = 0;
    const [fe, direct] = await Promise.all([get(feMem, path), get(querier, path)]);
    if (fe.status !== 200 || direct.status !== 200) diffs.push(`${q}: status ${fe.status} vs ${direct.status}: ${fe.text.slice(0, 300)}`);
    else if (JSON.stringify(fe.body.data) !== JSON.stringify(direct.body.data)) diffs.push(`${q}:\n fe:     ${JSON.stringify(fe.body.data).slice(0, 300)}\n direct: ${JSON.stringify(direct.body.data).slice(0, 300)}`);
    else if (direct.body.data.result.length === 0) diffs.push(`${q}: empty answer proves nothing`);
    const pieces = seen.filter((s) => s.path === '/api/v1/query_range');
    assert.ok(pieces.length >= 5, `${q}: split into ${pieces.length} pieces`);
    // Each piece within one hour; @ start()/end() fixed to the whole range in every piece.
    for (const p of pieces) {
      const ps = Number(p.params.get('start')) * 1000;
      const pe = Number(p.params.get('end')) * 1000;
      assert.ok(Math.floor(ps / H) === Math.floor(pe / H) || pe === end, `${q}: piece ${ps}..${pe} spans an hour boundary`);
      assert.not.match(p.params.get('query')!, /start\(\)|end\(\)/);
    }
  }
  assert.is(diffs.length, 0, diffs.join('\n'));
});

test('instant queries, labels and series pass through with the querier\'s answers', async () => {
  const t = (S + 2 * H) / 1000;
  for (const path of [
    `/api/v1/query?query=${encodeURIComponent('sum by (code) (e2e_requests_total)')}&time=${t}`,
    `/api/v1/labels?start=${fx.start / 1000}&end=${END / 1000}`,
    `/api/v1/label/job/values?start=${fx.start / 1000}&end=${END / 1000}`,
    `/api/v1/series?match[]=${encodeURIComponent('e2e_requests_total{job="api"}')}&start=${fx.start / 1000}&end=${END / 1000}`,
    '/api/v1/status/buildinfo',
  ]) {
    const [fe, direct] = await Promise.all([get(feMem, path), get(querier, path)]);
    assert.is(fe.status, direct.status, path);
    assert.equal(fe.body.data, direct.body.data, path);
  }
});

test('cache: a repeat asks the downstream nothing; a range moved forward asks only for the new hour', async () => {
  const q = 'sum by (code) (rate(e2e_requests_total[5m]))';
  const first = await get(feMem, rangePath(q, S, S + 3 * H));
  assert.is(first.status, 200);
  seen.length = 0;
  const again = await get(feMem, rangePath(q, S, S + 3 * H));
  assert.is(seen.length, 0, 'repeat served from the cache');
  assert.equal(again.body.data, first.body.data);
  const moved = await get(feMem, rangePath(q, S + 30 * MIN, S + 3 * H + 30 * MIN));
  assert.equal(seen.map((s) => [Number(s.params.get('start')) * 1000 - S, Number(s.params.get('end')) * 1000 - S]), [[3 * H, 3 * H + 30 * MIN]]);
  const direct = await get(querier, rangePath(q, S + 30 * MIN, S + 3 * H + 30 * MIN));
  assert.equal(moved.body.data, direct.body.data);
  const metrics = (await get(feMem, '/metrics')).text;
  assert.match(metrics, /cortex_cache_hits_total\{name="fifocache",tripperware="query_range"\} [1-9]/);
  assert.match(metrics, /thanos_query_frontend_queries_total\{op="query_range"\} [1-9]/);
  assert.match(metrics, /thanos_frontend_split_queries_total\{tripperware="query_range"\} [1-9]/);
});

test('cache: the freshness window (1m) is asked for again, older ranges are not', async () => {
  const q = 'count(e2e_temperature)';
  const now = Math.floor(Date.now() / MIN) * MIN;
  // A range ending now: its last minute is never cached.
  await get(feMem, rangePath(q, now - 20 * MIN, now + 5 * MIN, 15));
  seen.length = 0;
  await get(feMem, rangePath(q, now - 20 * MIN, now + 5 * MIN, 15));
  assert.ok(seen.length >= 1, 'the recent part is asked for again');
  for (const s of seen) assert.ok(Number(s.params.get('end')) * 1000 >= Date.now() - 3 * MIN, 'only the recent part');
  // The same length well in the past: all cached.
  await get(feMem, rangePath(q, S, S + 25 * MIN, 15));
  seen.length = 0;
  await get(feMem, rangePath(q, S, S + 25 * MIN, 15));
  assert.is(seen.length, 0);
});

test('retries: a downstream that fails once still gives the answer', async () => {
  const q = 'max(e2e_temperature)';
  const path = rangePath(q, S + 10 * MIN, S + 40 * MIN);
  seen.length = 0;
  failNext = 1;
  const fe = await get(feMem, path);
  assert.is(fe.status, 200, fe.text);
  assert.is(seen.length, 2, 'the failed piece was asked again');
  assert.equal(fe.body.data, (await get(querier, path)).body.data);
  const metrics = (await get(feMem, '/metrics')).text;
  assert.match(metrics, /cortex_query_frontend_retries_bucket\{tripperware="query_range",le="0"\} /);
});

/** memcached's curr_items, over a raw connection. */
function memcachedItems(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('END\r\n')) {
        s.end();
        const m = /STAT curr_items (\d+)/.exec(buf);
        resolve(m ? Number(m[1]) : 0);
      }
    });
    s.on('error', reject);
    s.connect(port, '127.0.0.1', () => s.write('stats\r\n'));
  });
}

test('MEMCACHED cache: hits on repeat, and after the frontend restarts (the cache is memcached, not memory)', async () => {
  const q = 'avg by (job) (rate(e2e_requests_total[10m]))';
  const path = rangePath(q, S, S + 3 * H);
  seen.length = 0;
  const first = await get(feMc, path);
  assert.is(first.status, 200, first.text);
  assert.ok(seen.length >= 3);
  // Writes to memcached are asynchronous: wait until the three windows are stored.
  await waitFor(async () => (await memcachedItems(memcached.port)) >= 3, 30_000, 'memcached holds the extents');
  seen.length = 0;
  const again = await get(feMc, path);
  assert.is(seen.length, 0);
  assert.equal(again.body.data, first.body.data);
  // cache.Instrument times memcached's writes when they ran (after the queue), its reads as they return.
  const mc = { name: 'memcache', tripperware: 'query_range', status_code: '200' };
  await waitFor(async () => valueOf((await get(feMc, '/metrics')).text, 'cortex_cache_request_duration_seconds_count', { ...mc, method: 'memcache.store' }) >= 3, 30_000, 'memcached writes timed', feMcProc.logs);
  assert.ok(valueOf((await get(feMc, '/metrics')).text, 'cortex_cache_request_duration_seconds_count', { ...mc, method: 'memcache.fetch' }) >= 2);
  await feMcProc.kill();
  feMcProc = startFrontend('fe-mc2', feMc, `type: MEMCACHED\nconfig:\n  addresses: ["127.0.0.1:${memcached.port}"]\n  timeout: 5s\n`, ['--cache-compression-type=snappy']);
  await waitFor(() => httpReady(feMc), STARTUP_MS, 'frontend (memcached) ready again', feMcProc.logs);
  seen.length = 0;
  const afterRestart = await get(feMc, path);
  assert.is(seen.length, 0, 'served from memcached after a restart');
  assert.equal(afterRestart.body.data, first.body.data);
  assert.match((await get(feMc, '/metrics')).text, /cortex_cache_hits_total\{name="memcache",tripperware="query_range"\} [1-9]/);
});

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, 'bin/thanos.mjs'), 'query-frontend', ...args], { cwd: dir, timeout: STARTUP_MS }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

test('unknown and unimplemented flags and cache types are refused by name', async () => {
  const [unknown, shards, redis] = await Promise.all([
    run(['--query-range.bogus=1']),
    run(['--query-range.horizontal-shards=4']),
    run(['--http-address=127.0.0.1:0', '--query-range.response-cache-config=type: REDIS\nconfig:\n  addr: 127.0.0.1:6379\n']),
  ]);
  assert.is(unknown.code, 2, unknown.out);
  assert.match(unknown.out, /unknown flag --query-range.bogus/);
  assert.is(shards.code, 2, shards.out);
  assert.match(shards.out, /--query-range.horizontal-shards=4 is not implemented yet/);
  // Config errors surface when the component starts (the host parses config there): exit 1.
  assert.is.not(redis.code, 0, redis.out);
  assert.match(redis.out, /REDIS is not implemented yet/);
});

test.run();

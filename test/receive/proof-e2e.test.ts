// The scale-out proof of issue #15, on loopback, processes only: a real Prometheus 2.42 scrapes an
// exporter of this test (1,000 series) every second and remote-writes into three `thanos receive`
// (one ketama hashring file, --receive.replication-factor=3, uploading to a FILESYSTEM bucket).
// Mid-run one receiver is killed -9 and restarted, then the hashring file grows from 3 to 4
// receivers while Prometheus keeps writing; a querier answers deduplicated (1,000 series) the whole
// time. Checked: Prometheus dropped nothing, and every sample it had sent and had acknowledged (one
// remote-write shard, in time order, up to its highest sent timestamp) is on at least a quorum (2)
// of receivers. Then the receivers stop (flushing and uploading their heads), two store gateways
// sharded by hashmod on __block_id serve the uploaded blocks (each block in one, together the
// bucket), two queriers read them (chain dedup, Thanos's choice for receive replicas: the answer
// does not depend on the query range), and a query-frontend (split by 1m, 2 vertical shards,
// results cache) in front of both queriers (round robin) answers the query set as they do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialGrpc } from '../../host/server/grpc.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, startProc, thanos, waitFor, writeBucketConfig, type Proc } from '../query/harness.ts';
import { valueOf } from '../mixin/components.ts';
import { collect, labelsRec, samplesOf } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'rcv-proof-'));
const procs: Proc[] = [];
const clients: StoreClient[] = [];
const servers: Server[] = [];
test.after(async () => {
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const N_SERIES = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const get = async (port: number, path: string): Promise<any> => (await fetch(`http://127.0.0.1:${port}${path}`)).json();
const metricsOf = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

/** The exporter Prometheus scrapes: 1,000 gauges whose value follows the scrape count. */
function startExporter(port: number): Promise<Server> {
  let scrapes = 0;
  const srv = createServer((_req, res) => {
    scrapes++;
    let body = '# TYPE proof_series gauge\n';
    for (let i = 0; i < N_SERIES; i++) body += `proof_series{i="${String(i).padStart(4, '0')}",mod="${i % 7}"} ${scrapes * 10 + (i % 13)}\n`;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(body);
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

/** Round robin over the queriers: what a load balancer in front of them does for the frontend. */
function startBalancer(port: number, targets: number[]): Promise<Server> {
  let next = 0;
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const target = targets[next++ % targets.length]!;
      try {
        const headers: Record<string, string> = {};
        if (req.headers['content-type']) headers['content-type'] = String(req.headers['content-type']);
        const r = await fetch(`http://127.0.0.1:${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks) });
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      } catch (e) {
        res.writeHead(502);
        res.end(String(e));
      }
    });
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

const hashmodConfig = (shard: number) => JSON.stringify([
  { source_labels: ['__block_id'], modulus: 2, target_label: 'shard', action: 'hashmod' },
  { source_labels: ['shard'], regex: String(shard), action: 'keep' },
]);

interface Rx { i: number; rw: number; grpc: number; http: number; proc?: Proc }

test('Prometheus 2.42 → 3 receivers RF=3 ketama (kill -9, restart, ring 3 → 4): nothing lost; sharded gateways + frontend over 2 queriers answer as the queriers', async () => {
  const bucketYaml = join(dir, 'bucket.yaml');
  mkdirSync(join(dir, 'bucket'));
  writeBucketConfig(bucketYaml, join(dir, 'bucket'));
  const rxs: Rx[] = [];
  for (let i = 0; i < 4; i++) rxs.push({ i, rw: await freePort(), grpc: await freePort(), http: await freePort() });
  const ringFile = join(dir, 'hashrings.json');
  const writeRing = (n: number) =>
    writeFileSync(ringFile, JSON.stringify([{ hashring: 'default', endpoints: rxs.slice(0, n).map((r) => `127.0.0.1:${r.grpc}`) }]));
  writeRing(3);
  const startRx = (r: Rx) => {
    r.proc = thanos(`receive-${r.i}`, [
      'receive', `--remote-write.address=127.0.0.1:${r.rw}`, `--grpc-address=127.0.0.1:${r.grpc}`, `--http-address=127.0.0.1:${r.http}`,
      `--tsdb.path=${join(dir, `r${r.i}`)}`, `--label=receive_replica="r${r.i}"`, `--receive.hashrings-file=${ringFile}`,
      '--receive.hashrings-algorithm=ketama', '--receive.replication-factor=3', `--receive.local-endpoint=127.0.0.1:${r.grpc}`,
      `--objstore.config-file=${bucketYaml}`,
    ], dir);
    procs.push(r.proc);
  };
  // The receivers and querier 0 (queried during the run) start first; the gateways, querier 1 and
  // the frontend start while Prometheus writes (startup is the slow part on a loaded machine).
  const gws = await Promise.all([0, 1].map(async (shard) => ({ shard, grpc: await freePort(), http: await freePort(), proc: undefined as Proc | undefined })));
  const qs = await Promise.all([0, 1].map(async () => ({ http: await freePort(), grpc: await freePort() })));
  const startQuerier = (k: number) => {
    const q = qs[k]!;
    procs.push(thanos(`query-${k}`, ['query', `--http-address=127.0.0.1:${q.http}`, `--grpc-address=127.0.0.1:${q.grpc}`,
      ...rxs.map((r) => `--endpoint=127.0.0.1:${r.grpc}`), ...gws.map((g) => `--endpoint=127.0.0.1:${g.grpc}`),
      '--query.replica-label=receive_replica', '--deduplication.func=chain', '--endpoint.info-interval=1s'], dir));
  };
  // the 4th receiver waits outside the ring (it only joins when the file changes)
  for (const r of rxs) startRx(r);
  startQuerier(0);
  const balancer = await freePort();
  await startBalancer(balancer, qs.map((q) => q.http));
  const fe = await freePort();
  const startRest = () => {
    for (const g of gws) {
      g.proc = thanos(`store-${g.shard}`, ['store', '--data-dir', join(dir, `gw${g.shard}`), '--objstore.config-file', bucketYaml,
        '--http-address', `127.0.0.1:${g.http}`, '--grpc-address', `127.0.0.1:${g.grpc}`, '--sync-block-duration=1s', '--selector.relabel-config', hashmodConfig(g.shard)], dir);
      procs.push(g.proc);
    }
    startQuerier(1);
    procs.push(thanos('frontend', ['query-frontend', `--http-address=127.0.0.1:${fe}`, `--query-frontend.downstream-url=http://127.0.0.1:${balancer}`,
      '--query-frontend.vertical-shards=2', '--query-range.split-interval=1m', '--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 32MB\n'], dir));
  };

  const exporter = await freePort();
  await startExporter(exporter);
  const promPort = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', '  - job_name: proof', '    static_configs:', `      - targets: ['127.0.0.1:${exporter}']`,
    'remote_write:', `  - url: http://127.0.0.1:${rxs[0]!.rw}/api/v1/receive`,
    '    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 500ms, min_shards: 1, max_shards: 1}', '',
  ].join('\n'));
  for (const r of rxs) await waitFor(() => httpReady(r.http), STARTUP_MS, `receiver ${r.i} ready`, () => r.proc!.logs());
  const prom = startProc('prometheus', '/usr/bin/prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`,
    `--web.listen-address=127.0.0.1:${promPort}`], dir);
  procs.push(prom);
  await waitFor(() => httpReady(promPort), STARTUP_MS, 'prometheus ready', prom.logs);
  startRest();
  const sent = async () => valueOf(await metricsOf(promPort), 'prometheus_remote_storage_samples_total');
  const sentAfter = async (n: number, what: string) => {
    const want = (await sent()) + n;
    await waitFor(async () => (await sent()) >= want, 120_000, what, () => rxs.map((r) => r.proc?.logs().slice(-1500) ?? '').join('\n----\n') + prom.logs().slice(-1500));
  };

  // ---- queries the whole time against querier 0: complete, deduplicated to 1,000 series
  const queryErrors: string[] = [];
  let queries = 0;
  let stopQueries = false;
  let phase = 'before the kill';
  await waitFor(async () => (await get(qs[0]!.http, `/api/v1/query?query=count(proof_series)`)).data?.result?.[0]?.value?.[1] === String(N_SERIES),
    STARTUP_MS, 'querier 0 answers 1,000 series');
  const querying = (async () => {
    while (!stopQueries) {
      try {
        const j = await get(qs[0]!.http, `/api/v1/query?query=count(proof_series)`);
        queries++;
        if (j.status !== 'success' || j.data.result[0]?.value?.[1] !== String(N_SERIES)) queryErrors.push(`${phase}: ${JSON.stringify(j).slice(0, 400)}`);
      } catch (e) {
        queryErrors.push((e as Error).message);
      }
      await sleep(300);
    }
  })();

  // ---- kill -9 receiver 2 while Prometheus writes; restart it
  await sentAfter(2 * N_SERIES, 'first scrapes written');
  const victim = rxs[2]!;
  phase = 'receiver 2 killed';
  const marks: string[] = [`kill -9 r2 at ${Date.now()}`];
  await victim.proc!.kill('SIGKILL');
  await sentAfter(2 * N_SERIES, 'scrapes written with a receiver down');
  phase = 'receiver 2 restarting';
  startRx(victim);
  await waitFor(() => httpReady(victim.http), STARTUP_MS, 'receiver 2 ready again', () => victim.proc!.logs());
  phase = 'receiver 2 ready again';
  marks.push(`r2 ready again at ${Date.now()}`);
  await sentAfter(N_SERIES, 'scrapes written after the restart');

  // ---- the hashring file grows to 4 receivers while Prometheus writes
  const r3 = rxs[3]!;
  const r3Client = new StoreClient(dialGrpc(`127.0.0.1:${r3.grpc}`));
  clients.push(r3Client);
  phase = 'ring 3 -> 4';
  marks.push(`ring 3 -> 4 at ${Date.now()}`);
  writeRing(4);
  for (const r of rxs) await waitFor(async () => /hashring configuration changed/.test(r.proc!.logs()), 30_000, `receiver ${r.i} reloads the hashring`, () => r.proc!.logs());
  // ketama, RF=3 of 4: the new receiver (outside the ring until now: it holds nothing) gets about
  // three quarters of the series from now on. Prometheus may send with a lag: any sample time counts.
  await waitFor(async () => {
    const got = await collect(r3Client.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 60_000, matchers: [{ type: '=', name: '__name__', value: 'proof_series' }] }), new AbortController().signal));
    return got.length > N_SERIES / 2;
  }, 60_000, 'receiver 3 takes its share', () => r3.proc!.logs());
  await sentAfter(N_SERIES, 'scrapes written on the 4-node ring');

  // ---- acknowledged: one remote-write shard sends in time order, so every sample up to its highest
  // sent timestamp (whole seconds, truncated) was answered 200 by the router
  stopQueries = true;
  await querying;
  assert.ok(queries >= 10, `${queries} queries during the run`);
  assert.equal(queryErrors, [], 'queries during the run');
  const pm = await metricsOf(promPort);
  const ackedUpTo = valueOf(pm, 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds') * 1000;
  assert.is(valueOf(pm, 'prometheus_remote_storage_samples_failed_total'), 0, 'Prometheus dropped samples (4xx)');
  assert.is(valueOf(pm, 'prometheus_remote_storage_samples_dropped_total'), 0, 'Prometheus dropped samples');

  // ---- every sample Prometheus holds is on at least a quorum of receivers
  const end = Date.now();
  const promData = await get(promPort, `/api/v1/query?query=${encodeURIComponent('proof_series[10m]')}&time=${end / 1000}`);
  await prom.kill('SIGKILL');
  assert.is(promData.status, 'success');
  assert.is(promData.data.result.length, N_SERIES);
  const want: string[] = [];
  let first = Infinity;
  let last = 0;
  for (const s of promData.data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>) {
    for (const [t, v] of s.values) {
      const ms = Math.round(t * 1000);
      if (ms > ackedUpTo) continue;
      want.push(`${s.metric.i}@${ms}=${v}`);
      first = Math.min(first, ms);
      last = Math.max(last, ms);
    }
  }
  const holders = new Map<string, number>();
  const heldBy = new Map<string, string[]>(); // for the failure message: which receivers hold a sample
  let r3After = 0;
  for (const r of rxs) {
    const c = new StoreClient(dialGrpc(`127.0.0.1:${r.grpc}`));
    clients.push(c);
    const got = await collect(c.series(seriesRequest({ minTime: first - 1, maxTime: end, matchers: [{ type: '=', name: '__name__', value: 'proof_series' }] }), new AbortController().signal));
    for (const s of got) {
      const l = labelsRec(s);
      assert.is(l.receive_replica, `r${r.i}`);
      for (const [t, v] of samplesOf(s)) {
        if (Number.isNaN(v)) continue; // staleness markers
        const k = `${l.i}@${t}=${v}`;
        holders.set(k, (holders.get(k) ?? 0) + 1);
        (heldBy.get(k) ?? heldBy.set(k, []).get(k)!).push(`r${r.i}`);
        if (r.i === 3) r3After++;
      }
    }
  }
  const lost = want.filter((k) => !holders.has(k));
  const under = want.filter((k) => (holders.get(k) ?? 0) < 2);
  assert.ok(want.length >= 6 * N_SERIES, `${want.length} acknowledged samples in Prometheus`);
  assert.equal(lost.slice(0, 5), [], `${lost.length} of ${want.length} samples lost`);
  // On failure, say where the samples are and when the run's events were (an observed-once failure
  // under load: 64-76 samples of one timestamp on one receiver only).
  assert.equal(under.slice(0, 5).map((k) => `${k} on ${(heldBy.get(k) ?? []).join(',')}`), [],
    `${under.length} samples on fewer than a quorum of receivers (${marks.join('; ')}; acknowledged up to ${ackedUpTo})`);
  assert.ok(r3After > 0, 'receiver 3 took writes after the hashring change');

  for (const p of [...gws.map((g) => g.http), qs[1]!.http, fe]) await waitFor(() => httpReady(p), STARTUP_MS, `process on ${p} ready`);
  // ---- the receivers stop: heads flushed and uploaded; the sharded gateways load them
  // A receiver's shutdown cuts and uploads its head: on a loaded machine that takes longer than the
  // harness's usual 10 s before SIGKILL (which left 2 of the 4+ blocks uploaded once, load ~45).
  await Promise.all(rxs.map((r) => r.proc!.kill('SIGTERM', 120_000)));
  for (const r of rxs) assert.is(r.proc!.proc.signalCode, null, `receiver ${r.i} exited by itself (${r.proc!.proc.signalCode}): ${r.proc!.logs().slice(-800)}`);
  const bucketBlocks = readdirSync(join(dir, 'bucket')).filter((d) => existsSync(join(dir, 'bucket', d, 'meta.json')));
  assert.ok(bucketBlocks.length >= 4, `${bucketBlocks.length} blocks uploaded`);
  const loaded = async () => Promise.all(gws.map(async (g) => valueOf(await metricsOf(g.http), 'thanos_bucket_store_blocks_loaded')));
  await waitFor(async () => (await loaded()).reduce((a, b) => a + b, 0) === bucketBlocks.length, 60_000, 'the gateways load every block');
  // hashmod shards: disjoint, together the bucket (each block in exactly one)
  const perGateway = await loaded();
  assert.is(perGateway[0]! + perGateway[1]!, bucketBlocks.length, `blocks per gateway ${perGateway}`);

  // ---- the queriers read the gateways only now; the frontend (round robin over both) answers as they do
  for (const q of qs) {
    await waitFor(async () => (await get(q.http, `/api/v1/query?query=count(proof_series)&time=${last / 1000}`)).data?.result?.[0]?.value?.[1] === String(N_SERIES),
      60_000, 'queriers answer from the gateways');
  }
  const QUERIES = [
    'proof_series{i="0007"}',
    'count(proof_series)',
    'sum by (mod) (proof_series)',
    'max without (i) (proof_series)',
    'sum by (mod) (rate(proof_series[10s]))',
    'topk(3, proof_series)',
    'avg by (mod) (delta(proof_series[5s])) / on (mod) group_left count by (mod) (proof_series)',
    // a value every sample in the range has (10 per scrape; the range starts 5 scrapes in), however
    // fast the run: a fixed bigger threshold left nothing to count on a quick machine
    'count(proof_series > 25)',
  ];
  const start = Math.ceil(first / 1000) * 1000 + 5000;
  const stop = Math.floor(last / 1000) * 1000;
  // A querier learns each gateway's blocks (its Info time range) a refresh after the gateway loaded
  // them; until both queriers give the same answers twice in a row they may still prune a gateway,
  // and the frontend (never asked before this point) would cache such a partial answer.
  const rangeOf = (q: string) => `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${stop / 1000}&step=1`;
  let previous = '';
  await waitFor(async () => {
    const now = JSON.stringify(await Promise.all(QUERIES.flatMap((q) => qs.map(async (x) => (await get(x.http, rangeOf(q))).data))));
    const settled = now === previous && QUERIES.every((_q, k) => JSON.stringify(JSON.parse(now)[2 * k]) === JSON.stringify(JSON.parse(now)[2 * k + 1]));
    previous = now;
    if (!settled) await sleep(1000);
    return settled;
  }, 60_000, 'both queriers answer the query set alike, twice in a row');
  const diffs: string[] = [];
  for (const q of QUERIES) {
    const path = `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${stop / 1000}&step=1`;
    const [viaFe, a, b] = await Promise.all([get(fe, path), get(qs[0]!.http, path), get(qs[1]!.http, path)]);
    if (viaFe.status !== 'success' || a.status !== 'success') diffs.push(`${q}: ${JSON.stringify(viaFe).slice(0, 200)} / ${JSON.stringify(a).slice(0, 200)}`);
    else if (JSON.stringify(viaFe.data) !== JSON.stringify(a.data)) diffs.push(`${q}: frontend differs\n fe: ${JSON.stringify(viaFe.data).slice(0, 300)}\n q0: ${JSON.stringify(a.data).slice(0, 300)}`);
    else if (JSON.stringify(a.data) !== JSON.stringify(b.data)) diffs.push(`${q}: the queriers differ`);
    else if (a.data.result.length === 0) diffs.push(`${q}: empty answer proves nothing`);
  }
  assert.equal(diffs, [], diffs.join('\n'));
  console.log(`proof e2e: ${want.length} acknowledged samples on a quorum, ${queries} queries during the run, ${bucketBlocks.length} blocks over gateways ${perGateway.join('+')}`);
});

test.run();

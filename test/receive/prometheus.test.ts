// End to end: a real Prometheus 2.42 scraping itself every second and remote-writing into a
// `thanos receive` process. Series over gRPC returns the raw samples Prometheus's own query API
// returns for the same series (plus our external labels), stale markers bit-exact; after kill -9
// and a restart the WAL
// brings everything back; on SIGTERM the head is flushed into a block in the FILESYSTEM bucket
// that promtool dumps with the same samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, core, labelsRec, samplesOf } from './helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const dir = mkdtempSync(join(tmpdir(), 'rcv-e2e-'));
const procs: Proc[] = [];
const closers: Array<() => void> = [];
const clients: StoreClient[] = [];
test.after(async () => {
  for (const f of closers) f();
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

type Pair = [number, number];

async function promRaw(url: string, selector: string, time: number): Promise<Array<{ metric: Record<string, string>; values: Pair[] }>> {
  const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: selector, time: (time / 1000).toFixed(3) })}`);
  const j = (await r.json()) as any;
  if (j.status !== 'success') throw new Error(JSON.stringify(j));
  return j.data.result.map((s: any) => ({ metric: s.metric, values: s.values.map(([t, v]: [number, string]) => [Math.round(t * 1000), Number(v)] as Pair) }));
}

async function rxSeries(client: StoreClient, name: string, minTime: number, maxTime: number) {
  const got = await collect(client.series(seriesRequest({ minTime, maxTime, matchers: [{ type: '=', name: '__name__', value: name }] }), new AbortController().signal));
  return got.map((s) => ({ labels: labelsRec(s), values: samplesOf(s).filter(([t]) => t >= minTime && t <= maxTime) }));
}

const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());

test('Prometheus remote write → receive: same samples as Prometheus; kill -9 + restart keeps them; SIGTERM flushes a block promtool can dump', async () => {
  if (!existsSync('/usr/bin/prometheus')) throw new Error('/usr/bin/prometheus missing: apt-get install -y prometheus');
  const [rwPort, grpcPort, httpPort, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bucketDir = join(dir, 'bucket');
  const rxArgs = [
    'receive', `--remote-write.address=127.0.0.1:${rwPort}`, `--grpc-address=127.0.0.1:${grpcPort}`, `--http-address=127.0.0.1:${httpPort}`,
    `--tsdb.path=${join(dir, 'rx')}`, '--label=receive_replica="r1"', '--label=cluster="e2e"',
    `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bucketDir}\n`, '--log.level=debug',
  ];
  let rx = thanos('receive', rxArgs, dir);
  procs.push(rx);
  await waitFor(() => httpReady(httpPort), STARTUP_MS, 'receiver ready', rx.logs);

  // a second target that goes away later: Prometheus then writes stale markers for its series
  const gaugePort = await freePort();
  const gauge = createServer((_req, res) => res.end('# TYPE rx_e2e_gauge gauge\nrx_e2e_gauge 42\n'));
  await new Promise<void>((r) => gauge.listen(gaugePort, '127.0.0.1', () => r()));
  closers.push(() => {
    gauge.closeAllConnections();
    gauge.close();
  });
  // One remote-write shard: on a loaded machine Prometheus reshards when sends lag, and a reshard
  // stops the old shards with the flush deadline (1 s below): samples not sent by then are dropped
  // on Prometheus's side ("Failed to flush all samples on shutdown"), which this test would take
  // for samples the receiver lost.
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: prom', '    static_configs:', `      - targets: ['127.0.0.1:${promPort}']`,
    '  - job_name: gauge', '    static_configs:', `      - targets: ['127.0.0.1:${gaugePort}']`,
    'remote_write:', `  - url: http://127.0.0.1:${rwPort}/api/v1/receive`, '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 500ms, min_shards: 1, max_shards: 1 }', '',
  ].join('\n'));
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'promdata')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    '--storage.remote.flush-deadline=1s',
  ], dir);
  procs.push(prom);
  const promUrl = `http://127.0.0.1:${promPort}`;
  await waitFor(() => httpReady(promPort), STARTUP_MS, 'prometheus ready', prom.logs);

  let client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  clients.push(client);
  const MIN = -9223372036854775808;
  const MAX = 9223372036854775807;
  await waitFor(async () => {
    const up = await rxSeries(client, 'up', MIN, MAX);
    return up.length === 2 && up.every((u) => u.values.length >= 6);
  }, 30_000, 'six scrapes in the receiver', () => rx.logs() + prom.logs());

  // Compare up to a time both sides surely hold: 2 s before the receiver's newest `up` sample.
  const upNow = await rxSeries(client, 'up', MIN, MAX);
  const T = Math.min(...upNow.map((u) => u.values.at(-1)![0])) - 2000;
  const compare = async (c: StoreClient, metric: string) => {
    const want = await promRaw(promUrl, `${metric}[1h]`, T);
    const got = await rxSeries(c, metric, T - 3600_000 + 1, T);
    assert.ok(want.length > 0, `prometheus has ${metric}`);
    const byKey = new Map(got.map((s) => {
      const { receive_replica, cluster, tenant_id, ...rest } = s.labels;
      assert.equal([receive_replica, cluster, tenant_id], ['r1', 'e2e', 'default-tenant']);
      return [key(rest), s.values];
    }));
    for (const w of want) {
      const g = byKey.get(key(w.metric));
      assert.ok(g, `receiver misses ${JSON.stringify(w.metric)}`);
      assert.equal(g, w.values, `samples of ${JSON.stringify(w.metric)}`);
    }
    assert.is(got.filter((s) => s.values.length > 0).length, want.length, metric);
    return want.reduce((n, w) => n + w.values.length, 0);
  };
  const metrics = ['up', 'scrape_samples_scraped', 'prometheus_http_requests_total', 'go_goroutines', 'prometheus_tsdb_head_samples_appended_total'];
  let compared = 0;
  try {
    for (const m of metrics) compared += await compare(client, m);
  } catch (e) {
    // Say why samples are missing: the receiver's answers (4xx makes Prometheus drop a batch) and
    // what Prometheus's remote-write queue reports.
    const notable = (s: string) => s.split('\n').filter((l) => /level=(warn|error)|status=4|status=5|non-recoverable|dropped|retry/i.test(l)).slice(-40).join('\n');
    const promMetrics = await (await fetch(`${promUrl}/metrics`)).text().catch(() => '');
    const rw = promMetrics.split('\n').filter((l) => /^prometheus_remote_storage_(samples_(failed|retried|dropped|total)|shards |enqueue_retries)/.test(l)).join('\n');
    throw new Error(`${(e as Error).message}\nreceiver:\n${notable(rx.logs())}\nprometheus:\n${notable(prom.logs())}\n${rw}`);
  }
  assert.ok(compared >= 20, `compared ${compared} samples`);

  // the gauge target disappears: the stale marker (NaN with payload 0x7ff0000000000002) arrives bit-exact
  gauge.closeAllConnections();
  await new Promise<void>((r) => gauge.close(() => r()));
  const STALE = 0x7ff0000000000002n;
  const lastBits = async (c: StoreClient) => {
    // straight from the decoded chunk into a typed array (a [t, v] array literal would canonicalise the NaN)
    const got = await collect(c.series(seriesRequest({ minTime: MIN, maxTime: MAX, matchers: [{ type: '=', name: '__name__', value: 'rx_e2e_gauge' }] }), new AbortController().signal));
    const last = got[0]!.chunks.at(-1)!;
    const d = core.xorDecode(last.raw!.data);
    const f = new Float64Array(1);
    f[0] = d.v[d.n - 1]!;
    return new BigUint64Array(f.buffer)[0];
  };
  await waitFor(async () => (await lastBits(client)) === STALE, 20_000, 'stale marker for rx_e2e_gauge', () => rx.logs() + prom.logs());

  // kill -9: the restarted receiver replays its WAL
  await rx.kill('SIGKILL');
  client.close();
  rx = thanos('receive', rxArgs, dir);
  procs.push(rx);
  await waitFor(() => httpReady(httpPort), STARTUP_MS, 'receiver ready again', rx.logs);
  client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  clients.push(client);
  assert.match(rx.logs(), /WAL replayed/);
  for (const m of metrics) await compare(client, m);
  assert.is(await lastBits(client), STALE, 'stale marker after WAL replay');
  // Prometheus resends what failed while we were down, and new scrapes arrive
  const restartedAt = Date.now();
  await waitFor(async () => {
    const up = await rxSeries(client, 'up', MIN, MAX);
    return up.find((u) => u.labels.job === 'prom')!.values.at(-1)![0] > restartedAt + 1000;
  }, 20_000, 'new samples after the restart', () => rx.logs() + prom.logs());

  // Stop Prometheus first (recipes §1 shutdown gotcha), then SIGTERM the receiver: flush + upload.
  await prom.kill('SIGTERM');
  const finalUp = (await rxSeries(client, 'up', MIN, MAX)).filter((u) => u.labels.job === 'prom');
  await rx.kill('SIGTERM');
  assert.is(rx.proc.exitCode, 0, rx.logs().slice(-3000));
  const blocks = readdirSync(bucketDir).filter((d) => existsSync(join(bucketDir, d, 'meta.json')));
  // two blocks: the restart flushed the replayed head (upstream's flush on the first hashring load), SIGTERM the rest
  assert.is(blocks.length, 2, rx.logs().slice(-3000));
  mkdirSync(join(bucketDir, 'wal'));
  const dump = execFileSync('/usr/bin/promtool', ['tsdb', 'dump', '--match=up{job="prom"}', bucketDir], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const dumped = dump.trim().split('\n').map((l) => {
    const m = /^\{(.*)\} (\S+) (\d+)$/.exec(l)!;
    return [Number(m[3]), Number(m[2])] as Pair;
  });
  assert.equal(dumped, finalUp.flatMap((u) => u.values));
});

test.run();

// End to end with periodic block cuts while Prometheus 2.42 keeps remote-writing: with
// --tsdb.block-duration=10s blocks are cut and uploaded every ~10 s under live writes. No sample is
// refused (Prometheus reports no failed or dropped samples) and Series over blocks + head still equals
// Prometheus's own raw samples (also through `thanos query` over the receiver); the uploaded blocks
// carry the thanos section and do not overlap.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, labelsRec, samplesOf } from './helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const dir = mkdtempSync(join(tmpdir(), 'rcv-cut-'));
const procs: Proc[] = [];
const clients: StoreClient[] = [];
test.after(async () => {
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

type Pair = [number, number];
const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());

test('blocks cut every 10 s under live remote write: nothing refused, Series over blocks + head equals Prometheus', async () => {
  if (!existsSync('/usr/bin/prometheus')) throw new Error('/usr/bin/prometheus missing: apt-get install -y prometheus');
  const [rwPort, grpcPort, httpPort, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bucketDir = join(dir, 'bucket');
  const rx = thanos('receive', [
    'receive', `--remote-write.address=127.0.0.1:${rwPort}`, `--grpc-address=127.0.0.1:${grpcPort}`, `--http-address=127.0.0.1:${httpPort}`,
    `--tsdb.path=${join(dir, 'rx')}`, '--label=receive_replica="r1"', '--tsdb.block-duration=10s',
    `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bucketDir}\n`,
  ], dir);
  procs.push(rx);
  await waitFor(() => httpReady(httpPort), STARTUP_MS, 'receiver ready', rx.logs);
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: prom', '    static_configs:', `      - targets: ['127.0.0.1:${promPort}']`,
    'remote_write:', `  - url: http://127.0.0.1:${rwPort}/api/v1/receive`, '    queue_config: { batch_send_deadline: 1s, min_shards: 1, max_shards: 1 }', '',
  ].join('\n'));
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'promdata')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    '--storage.remote.flush-deadline=1s',
  ], dir);
  procs.push(prom);
  const promUrl = `http://127.0.0.1:${promPort}`;
  await waitFor(() => httpReady(promPort), STARTUP_MS, 'prometheus ready', prom.logs);

  const blocks = () => (existsSync(bucketDir) ? readdirSync(bucketDir).filter((d) => existsSync(join(bucketDir, d, 'meta.json'))) : []);
  await waitFor(async () => blocks().length >= 2, 45_000, 'two uploaded blocks', () => rx.logs() + prom.logs());

  const client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  clients.push(client);
  const rxRaw = async (name: string, mint: number, maxt: number) =>
    (await collect(client.series(seriesRequest({ minTime: mint, maxTime: maxt, matchers: [{ type: '=', name: '__name__', value: name }] }), new AbortController().signal)))
      .map((s) => ({ labels: labelsRec(s), values: samplesOf(s).filter(([t]) => t >= mint && t <= maxt) }));
  const up = await rxRaw('up', 0, 9e15);
  const T = up[0]!.values.at(-1)![0] - 2000;
  let compared = 0;
  for (const metric of ['up', 'scrape_duration_seconds', 'prometheus_http_requests_total', 'go_memstats_alloc_bytes']) {
    const r = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: `${metric}[1h]`, time: (T / 1000).toFixed(3) })}`);
    const want = ((await r.json()) as any).data.result.map((s: any) => ({ metric: s.metric, values: s.values.map(([t, v]: [number, string]) => [Math.round(t * 1000), Number(v)] as Pair) }));
    const got = new Map((await rxRaw(metric, T - 3600_000 + 1, T)).map((s) => {
      const { receive_replica, tenant_id, ...rest } = s.labels;
      assert.equal([receive_replica, tenant_id], ['r1', 'default-tenant']);
      return [key(rest), s.values];
    }));
    assert.ok(want.length > 0);
    for (const w of want) {
      assert.equal(got.get(key(w.metric)), w.values, `${JSON.stringify(w.metric)}`);
      compared += w.values.length;
    }
  }
  assert.ok(compared > 50, `compared ${compared}`);
  // Prometheus saw no refused samples
  const m = await (await fetch(`${promUrl}/metrics`)).text();
  for (const name of ['prometheus_remote_storage_samples_failed_total', 'prometheus_remote_storage_samples_dropped_total']) {
    const line = m.split('\n').find((l) => l.startsWith(name + '{'));
    assert.ok(line, `${name} missing from Prometheus's metrics`);
    assert.is(Number(line!.split(' ').at(-1)), 0, line);
  }
  // uploaded blocks: thanos section, no overlap, in time order
  const metas = blocks().map((id) => JSON.parse(readFileSync(join(bucketDir, id, 'meta.json'), 'utf8'))).sort((a, b) => a.minTime - b.minTime);
  for (const meta of metas) {
    assert.equal(meta.thanos.labels, { receive_replica: 'r1', tenant_id: 'default-tenant' });
    assert.is(meta.thanos.source, 'receive');
    assert.is(meta.maxTime % 10_000, 0);
  }
  for (let i = 1; i < metas.length; i++) assert.ok(metas[i].minTime >= metas[i - 1].maxTime, 'blocks overlap');
  // our querier over the receiver's StoreAPI answers PromQL with the same raw samples
  const qPort = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${qPort}`, '--grpc-address', `127.0.0.1:${await freePort()}`,
    '--endpoint', `127.0.0.1:${grpcPort}`, '--endpoint.info-interval', '1s'], dir);
  procs.push(q);
  await waitFor(() => httpReady(qPort), STARTUP_MS, 'querier ready', q.logs);
  const pq = async (url: string) => {
    const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: 'up[1h]', time: (T / 1000).toFixed(3) })}`);
    const j = (await r.json()) as any;
    return j.data?.result?.[0]?.values as unknown;
  };
  const wantUp = await pq(promUrl);
  assert.ok(Array.isArray(wantUp) && wantUp.length > 10, JSON.stringify(wantUp));
  await waitFor(async () => JSON.stringify(await pq(`http://127.0.0.1:${qPort}`)) === JSON.stringify(wantUp), 15_000, 'querier answers up[1h] like Prometheus', q.logs);
  await q.kill('SIGTERM');
  await prom.kill('SIGTERM');
  await rx.kill('SIGTERM');
  assert.is(rx.proc.exitCode, 0, rx.logs().slice(-2000));
});

test.run();

// Sidecar start-up and heartbeat against a scriptable fake Prometheus (a node:http server on
// loopback answering /-/ready, /api/v1/status/config, /api/v1/status/flags and /metrics), so the
// failure paths are quick to reach: Prometheus not up yet, flags that forbid uploads, no external
// labels, heartbeat failures, ready_timeout. Also the config parser's errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { parseSidecarConfig } from '../../plugins/component/sidecar/config.ts';
import { NO_EXTERNAL_LABELS } from '../../lib/sidecar/mod.ts';
import { setupSidecar } from '../../plugins/component/sidecar/mod.ts';
import { freePort, sidecarCtx, waitFor } from './harness.ts';

const core = createJsCore();
const tsdb = mkdtempSync(join(tmpdir(), 'sidecar-life-'));

interface Fake {
  up: boolean;
  ext: Record<string, string>;
  flags: Record<string, string>;
  lowestMs: number;
  url: string;
  calls: string[];
  close(): Promise<void>;
}

async function fakeProm(): Promise<Fake> {
  const f: Fake = {
    up: true, ext: { cluster: 'c1' }, flags: { 'storage.tsdb.min-block-duration': '2h', 'storage.tsdb.max-block-duration': '2h' },
    lowestMs: 1_700_000_000_123, url: '', calls: [], close: async () => {},
  };
  const srv: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    f.calls.push(path);
    req.resume();
    if (!f.up) {
      res.writeHead(503).end('Service Unavailable');
      return;
    }
    const json = (data: unknown) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'success', data }));
    if (path === '/-/ready') return void res.writeHead(200).end('ready');
    if (path === '/api/v1/status/config') {
      const labels = Object.entries(f.ext).map(([k, v]) => `    ${k}: ${v}\n`).join('');
      return json({ yaml: `global:\n  scrape_interval: 15s\n${labels ? `  external_labels:\n${labels}` : ''}` });
    }
    if (path === '/api/v1/status/flags') return json(f.flags);
    if (path === '/metrics') {
      return void res.writeHead(200).end(`# TYPE prometheus_tsdb_lowest_timestamp gauge\nprometheus_tsdb_lowest_timestamp ${f.lowestMs}\nprometheus_tsdb_lowest_timestamp_seconds ${Math.floor(f.lowestMs / 1000)}\n`);
    }
    res.writeHead(404).end('not found');
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${port}`;
  f.close = () => new Promise<void>((r) => srv.close(() => r()));
  return f;
}

async function start(f: Fake, extra: Record<string, unknown> = {}, bucket = false) {
  const ctx = sidecarCtx(core, bucket ? new MemoryBucket() : undefined);
  const comp = await setupSidecar(ctx, parseSidecarConfig({ prometheusUrl: f.url, tsdbPath: tsdb, ...extra }));
  const ac = new AbortController();
  let error: unknown;
  const done = comp.run(ac.signal).catch((e) => (error = e));
  return {
    ctx, comp, done, error: () => error,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

test.after(() => rmSync(tsdb, { recursive: true, force: true }));

test('waits for Prometheus, then ready with its external labels and lowest timestamp', async () => {
  const f = await fakeProm();
  f.up = false;
  const s = await start(f);
  await waitFor(async () => s.ctx.logs.some((l) => l.includes('failed to fetch initial external labels. Is Prometheus running? Retrying')), 5000, 'a retry logged');
  assert.not.ok(s.ctx.ready);
  f.up = true;
  await waitFor(async () => s.ctx.ready, 5000, 'ready');
  const info = s.comp.info();
  assert.is(info.componentType, 'sidecar');
  assert.equal(info.labelSets, [{ cluster: 'c1' }]);
  assert.is(info.store?.minTime, f.lowestMs);
  await s.stop();
  await f.close();
});

test('heartbeat: a failure turns not-ready, recovery turns ready and picks up new external labels', async () => {
  const f = await fakeProm();
  const s = await start(f, { getConfigInterval: '100ms' });
  await waitFor(async () => s.ctx.ready, 5000, 'ready');
  f.up = false;
  await waitFor(async () => !s.ctx.ready, 3000, 'not ready after a failed heartbeat');
  assert.match(s.ctx.registry.render(), /thanos_sidecar_prometheus_up 0/);
  f.ext = { cluster: 'c2', replica: 'B' };
  f.lowestMs += 7200_000;
  f.up = true;
  await waitFor(async () => s.ctx.ready, 3000, 'ready again');
  await waitFor(async () => s.comp.externalLabels().cluster === 'c2', 3000, 'new labels');
  assert.equal(s.comp.info().labelSets, [{ cluster: 'c2', replica: 'B' }]);
  assert.is(s.comp.info().store?.minTime, f.lowestMs);
  await s.stop();
  await f.close();
});

test('--min-time raises the advertised min time above Prometheus\'s oldest sample', async () => {
  const f = await fakeProm();
  const s = await start(f, { minTime: '2030-01-01T00:00:00Z' });
  await waitFor(async () => s.ctx.ready, 5000, 'ready');
  assert.is(s.comp.info().store?.minTime, Date.parse('2030-01-01T00:00:00Z'));
  await s.stop();
  await f.close();
});

test('no external labels: run() fails with Thanos\'s message and never becomes ready', async () => {
  const f = await fakeProm();
  f.ext = {};
  const s = await start(f, {}, true);
  await s.done;
  assert.instance(s.error(), Error);
  assert.is((s.error() as Error).message, NO_EXTERNAL_LABELS);
  assert.not.ok(s.ctx.ready);
  await f.close();
});

test('uploads enabled: unequal min/max block durations keep retrying until ready_timeout; the ignore flag allows them; non-2h warns', async () => {
  const f = await fakeProm();
  f.flags = { 'storage.tsdb.min-block-duration': '2h', 'storage.tsdb.max-block-duration': '1d' };
  const s = await start(f, { readyTimeout: '300ms' }, true);
  await s.done;
  assert.not.ok(s.ctx.ready);
  assert.match(String(s.error()), /not ready within --prometheus.ready_timeout/);
  assert.match(String(s.error()), /Compaction needs to be disabled \(storage.tsdb.min-block-duration = storage.tsdb.max-block-duration\)/);
  // without a bucket the flags are not checked (Thanos does the same)
  const nob = await start(f, {}, false);
  await waitFor(async () => nob.ctx.ready, 5000, 'ready without bucket');
  await nob.stop();
  const ign = await start(f, { ignoreUnequalBlockSize: true }, true);
  await waitFor(async () => ign.ctx.ready, 5000, 'ready with the ignore flag');
  assert.ok(ign.ctx.logs.some((l) => l.includes('flag to ignore Prometheus min/max block duration')));
  await ign.stop();
  f.flags = { 'storage.tsdb.min-block-duration': '1h', 'storage.tsdb.max-block-duration': '1h' };
  const one = await start(f, {}, true);
  await waitFor(async () => one.ctx.ready, 5000, 'ready with 1h blocks');
  assert.ok(one.ctx.logs.some((l) => l.includes('found that TSDB block time is not 2h')));
  await one.stop();
  await f.close();
});

test('Series before the external labels are known: Unavailable', async () => {
  const f = await fakeProm();
  f.up = false;
  const s = await start(f);
  try {
    for await (const _ of s.comp.store.series({ minTime: 0, maxTime: 1, matchers: [{ type: '=', name: '__name__', value: 'up' }] } as never, new AbortController().signal)) { /* none */ }
    assert.unreachable('should fail');
  } catch (e) {
    assert.match((e as Error).message, /external labels are not loaded yet/);
  }
  await s.stop();
  await f.close();
});

test('config: defaults, and clear errors for unknown keys and bad values', () => {
  const c = parseSidecarConfig({});
  assert.is(c.prometheusUrl, 'http://localhost:9090');
  assert.is(c.tsdbPath, './data');
  assert.is(c.readyTimeoutMs, 600_000);
  assert.is(c.getConfigIntervalMs, 30_000);
  assert.is(c.shipperMetaFileName, 'thanos.shipper.json');
  assert.is(c.uploadCompacted, false);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ reloaderConfigFile: 'x' }, /reloaderConfigFile: unknown sidecar option/],
    [{ prometheusUrl: 'not a url' }, /prometheusUrl: invalid URL/],
    [{ prometheusUrl: 'ftp://x' }, /prometheusUrl: unsupported scheme/],
    [{ readyTimeout: 'soon' }, /readyTimeout/],
    [{ minTime: 'yesterday' }, /minTime: invalid time/],
    [{ uploadCompacted: 'yes' }, /uploadCompacted: must be true or false/],
    [{ shipperMetaFileName: '../x.json' }, /shipperMetaFileName: must be a plain file name/],
    [{ requestSeriesLimit: -1 }, /requestSeriesLimit/],
  ];
  for (const [raw, re] of bad) {
    try {
      parseSidecarConfig(raw);
      assert.unreachable(JSON.stringify(raw));
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, re);
    }
  }
});

test.run();

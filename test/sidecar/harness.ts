// Test helpers for the sidecar: an OpenMetrics fixture turned into real blocks by promtool, a real
// Prometheus 2.42 started on those blocks (copied into its data dir before it starts, so the shipper
// has blocks to upload at once) with external labels and the remote-write receiver, and an in-process
// ComponentContext. Everything started is stopped by pid.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bucket, ComponentContext, Core } from '../../host/index.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { NoObjectStorageError } from '../../lib/objstore/kit/errors.ts';
import { freePort, httpReady, startProc, waitFor, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

export { freePort, httpReady, promtoolBlocks, startProc, thanos, waitFor, writeBucketConfig, REPO, type Proc } from '../query/harness.ts';

export const EXT = { cluster: 'test-cluster', replica: 'A' };
export const MIN = 60_000;
export const H = 3600_000;

export interface Fixture {
  start: number;
  end: number;
  stepMs: number;
  offsetMs: number;
}

/**
 * Deterministic OpenMetrics text: counters, gauges, two series whose order flips once external labels
 * are added (sc_ord), and one series carrying a label named like an external label (sc_conflict).
 */
export function openMetrics(f: Fixture): string {
  const ts: number[] = [];
  for (let t = f.start + f.offsetMs; t < f.end; t += f.stepMs) ts.push(t);
  const sec = (t: number) => (t / 1000).toFixed(3);
  let out = '# HELP sc_requests_total Requests.\n# TYPE sc_requests_total counter\n';
  const ctrs = [
    { l: 'instance="i1",job="api"', inc: 3 }, { l: 'instance="i2",job="api"', inc: 5 },
    { l: 'instance="i1",job="web"', inc: 1 }, { l: 'instance="i2",job="web"', inc: 7 },
  ];
  const acc = ctrs.map(() => 0);
  ts.forEach((t, k) => ctrs.forEach((c, i) => {
    acc[i] = acc[i]! + c.inc * (1 + (k % 4)) + (k % 3) * 0.5;
    out += `sc_requests_total{${c.l}} ${acc[i]} ${sec(t)}\n`;
  }));
  out += '# HELP sc_temp Temperature.\n# TYPE sc_temp gauge\n';
  ts.forEach((t, k) => ['a', 'b'].forEach((room, i) => {
    out += `sc_temp{room="${room}"} ${Math.round((20 + 5 * Math.sin(k / (11 + i * 5)) + i) * 1000) / 1000} ${sec(t)}\n`;
  }));
  out += '# HELP sc_ord Order check.\n# TYPE sc_ord gauge\n';
  ts.forEach((t, k) => {
    out += `sc_ord{a="1"} ${k} ${sec(t)}\n`;
    out += `sc_ord{a="1",b="1"} ${k * 2} ${sec(t)}\n`;
  });
  out += '# HELP sc_conflict Label named like an external label.\n# TYPE sc_conflict gauge\n';
  ts.forEach((t, k) => {
    out += `sc_conflict{cluster="inner"} ${k % 10} ${sec(t)}\n`;
  });
  return out + '# EOF\n';
}

export interface PromProc {
  proc: Proc;
  port: number;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Real Prometheus on 127.0.0.1 with `blocks` copied into its (empty) data dir first. */
export async function startPrometheus(dir: string, opts: { ext?: Record<string, string>; blocksDir?: string; ids?: string[]; args?: string[] } = {}): Promise<PromProc> {
  const data = join(dir, 'promdata');
  mkdirSync(data, { recursive: true });
  for (const id of opts.ids ?? []) cpSync(join(opts.blocksDir!, id), join(data, id), { recursive: true });
  const ext = opts.ext ?? {};
  const extYaml = Object.keys(ext).length ? `  external_labels:\n${Object.entries(ext).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('')}` : '';
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1h\n${extYaml}scrape_configs: []\n`);
  const port = await freePort();
  const proc = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=10y', '--storage.tsdb.min-block-duration=2h', '--storage.tsdb.max-block-duration=2h',
    '--web.enable-remote-write-receiver', '--storage.remote.flush-deadline=1s', ...(opts.args ?? []),
  ], dir);
  await waitFor(() => httpReady(port), STARTUP_MS, 'prometheus ready', proc.logs);
  return { proc, port, url: `http://127.0.0.1:${port}`, dataDir: data, stop: () => proc.kill() };
}

export interface TestCtx extends ComponentContext {
  ready: boolean;
  registry: Registry;
  logs: string[];
}

export function sidecarCtx(core: Core, bucket?: Bucket): TestCtx {
  const registry = new Registry();
  const logs: string[] = [];
  const ctx: TestCtx = {
    pluginId: 'component:sidecar',
    fetch: (input, init) => fetch(input, init),
    listen: async () => {
      throw new Error('listen not available in tests');
    },
    connect: async () => {
      throw new Error('connect not available in tests');
    },
    grpcDial: () => {
      throw new Error('grpcDial not available in tests');
    },
    fs: nodeFs(),
    env: { get: (n) => process.env[n] },
    log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
    metrics: registry,
    bucket: async () => {
      if (!bucket) throw new NoObjectStorageError('sidecar', 'pass --objstore.config-file or --objstore.config');
      return bucket;
    },
    core,
    setReady: (r) => {
      ctx.ready = r;
    },
    ready: false,
    registry,
    logs,
  };
  return ctx;
}

/** Prometheus /api/v1/query data (vector or matrix). */
export async function promQuery(url: string, params: Record<string, string>, path = '/api/v1/query'): Promise<any> {
  const r = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
  const j = (await r.json()) as any;
  if (j.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${JSON.stringify(j)}`);
  return j.data;
}

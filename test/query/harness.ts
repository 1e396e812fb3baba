// End-to-end harness for the querier: OpenMetrics fixtures turned into real TSDB blocks by promtool,
// FILESYSTEM buckets with Thanos external labels, and real processes on loopback ports: Prometheus
// 2.42, `thanos store` gateways and `thanos query`. Everything started is stopped by pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
export { freePort };

export const REPO = new URL('../../', import.meta.url).pathname;
const execFileP = promisify(execFile);

export async function waitFor(pred: () => Promise<boolean>, ms: number, what: string, logs?: () => string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await pred()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${logs ? `\n${logs().slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Proc {
  name: string;
  proc: ChildProcess;
  logs(): string;
  /** Sends `signal`; SIGKILL after `graceMs` (10 s) if the process has not exited. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function startProc(name: string, cmd: string, args: string[], cwd: string): Proc {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const add = (d: Buffer) => {
    out += d;
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', add);
  proc.stderr!.on('data', add);
  return {
    name,
    proc,
    logs: () => out,
    kill: (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill(signal);
      }),
  };
}

export async function httpReady(port: number, path = '/-/ready'): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  await r.arrayBuffer();
  return r.status === 200;
}

/** A thanos subcommand from this checkout. */
export function thanos(name: string, args: string[], cwd: string): Proc {
  return startProc(name, process.execPath, [join(REPO, 'bin/thanos.mjs'), ...args], cwd);
}

// ---- fixtures ------------------------------------------------------------------------------------

export interface Fixture {
  /** ms, inclusive/exclusive sample range. */
  start: number;
  end: number;
  stepMs: number;
  /** Sample timestamps are start + k*step + offsetMs (off the whole seconds, so range boundaries never coincide). */
  offsetMs: number;
}

/** Deterministic OpenMetrics text: counters (one with a reset), gauges, histogram-like buckets. */
export function openMetrics(f: Fixture, opts: { gap?: { room: string; from: number; to: number } } = {}): string {
  const ts: number[] = [];
  for (let t = f.start + f.offsetMs; t < f.end; t += f.stepMs) ts.push(t);
  const sec = (t: number) => (t / 1000).toFixed(3);
  let out = '';
  out += '# HELP e2e_requests_total Requests.\n# TYPE e2e_requests_total counter\n';
  const counters: Array<{ labels: string; inc: (k: number) => number; resetAt?: number }> = [];
  for (const job of ['api', 'web']) {
    for (const inst of ['i1', 'i2']) {
      for (const code of ['200', '500']) {
        const base = (job === 'api' ? 3 : 1) * (inst === 'i1' ? 1 : 2) * (code === '200' ? 10 : 1);
        counters.push({
          labels: `code="${code}",instance="${inst}",job="${job}"`,
          inc: (k) => base * (1 + (k % 7)) + (k % 3) * 0.25,
          resetAt: job === 'web' && inst === 'i2' && code === '200' ? Math.floor(ts.length / 2) : undefined,
        });
      }
    }
  }
  const acc = counters.map(() => 0);
  const rows: string[][] = counters.map(() => []);
  ts.forEach((t, k) => {
    counters.forEach((c, i) => {
      acc[i] = c.resetAt === k ? 2 : acc[i]! + c.inc(k);
      rows[i]!.push(`e2e_requests_total{${c.labels}} ${acc[i]} ${sec(t)}\n`);
    });
  });
  // OpenMetrics: samples of one family in time order across its series.
  for (let k = 0; k < ts.length; k++) for (const r of rows) out += r[k];
  out += '# HELP e2e_temperature Temperature.\n# TYPE e2e_temperature gauge\n';
  const rooms = ['a', 'b', 'gap'];
  ts.forEach((t, k) => {
    rooms.forEach((room, i) => {
      if (opts.gap && room === opts.gap.room && t >= opts.gap.from && t < opts.gap.to) return;
      const v = Math.round((20 + 5 * Math.sin(k / (15 + i * 7)) + i) * 1000) / 1000;
      out += `e2e_temperature{room="${room}"} ${v} ${sec(t)}\n`;
    });
  });
  out += '# HELP e2e_latency_seconds_bucket Latency buckets.\n# TYPE e2e_latency_seconds_bucket gauge\n';
  const les = ['0.1', '0.5', '1', '+Inf'];
  const bacc = les.map(() => 0);
  ts.forEach((t, k) => {
    let cum = 0;
    les.forEach((le, i) => {
      cum += (i + 1) * (1 + ((k + i) % 5));
      bacc[i] = (bacc[i] ?? 0) + cum;
      out += `e2e_latency_seconds_bucket{le="${le}"} ${bacc[i]} ${sec(t)}\n`;
    });
  });
  return out + '# EOF\n';
}

/** promtool tsdb create-blocks-from openmetrics; returns the block directory names. */
export async function promtoolBlocks(omFile: string, outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  await execFileP('/usr/bin/promtool', ['tsdb', 'create-blocks-from', 'openmetrics', omFile, outDir], { maxBuffer: 64 << 20 });
  return readdirSync(outDir).filter((d) => existsSync(join(outDir, d, 'meta.json')));
}

/** Copies blocks into a FILESYSTEM bucket directory, adding the Thanos meta.json section. */
export function toBucket(blocksDir: string, ids: string[], bucketDir: string, labels: Record<string, string>): void {
  mkdirSync(bucketDir, { recursive: true });
  for (const id of ids) {
    const dst = join(bucketDir, id);
    cpSync(join(blocksDir, id), dst, { recursive: true });
    const meta = JSON.parse(readFileSync(join(dst, 'meta.json'), 'utf8'));
    meta.thanos = { version: 1, labels, downsample: { resolution: 0 }, source: 'test' };
    writeFileSync(join(dst, 'meta.json'), JSON.stringify(meta, null, '\t'));
  }
}

export function writeBucketConfig(path: string, dir: string): void {
  writeFileSync(path, `type: FILESYSTEM\nconfig:\n  directory: ${dir}\n`);
}

export async function startPrometheus(dir: string, blocksDir: string, ids: string[]): Promise<{ proc: Proc; port: number }> {
  const data = join(dir, 'promdata');
  mkdirSync(data, { recursive: true });
  for (const id of ids) cpSync(join(blocksDir, id), join(data, id), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  const port = await freePort();
  const proc = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=10y', '--storage.tsdb.min-block-duration=2h', '--storage.tsdb.max-block-duration=2h',
  ], dir);
  await waitFor(() => httpReady(port), STARTUP_MS, 'prometheus ready', proc.logs);
  return { proc, port };
}

export async function promtool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('/usr/bin/promtool', args, { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

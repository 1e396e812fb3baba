// Test helper: a real Prometheus 2.42 (Debian /usr/bin/prometheus) on a free 127.0.0.1 port in a
// temp dir, with the remote-write receiver on. stop() kills it by pid and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
export { freePort };

export const PROMETHEUS = '/usr/bin/prometheus';

export function prometheusMissing(): string | undefined {
  return existsSync(PROMETHEUS) ? undefined : `${PROMETHEUS} missing: apt-get install -y prometheus`;
}

export interface Prom {
  url: string;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(configYaml: string, extraArgs: string[] = []): Promise<Prom> {
  const dir = mkdtempSync(join(tmpdir(), 'prom-'));
  const port = await freePort();
  // $PROM_PORT in the config stands for the port Prometheus itself listens on
  writeFileSync(join(dir, 'prometheus.yml'), configYaml.replaceAll('$PROM_PORT', String(port)));
  let out = '';
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--storage.remote.flush-deadline=1s',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus not ready after ${STARTUP_MS / 1000}s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    logs: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

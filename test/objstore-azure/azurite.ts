// Azurite (npm azurite 3.35.0, the last for Node 20) on loopback, once per test file: the Blob
// service only, telemetry off (it would phone Application Insights), data in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';

export const ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, in Azure's docs). */
export const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  port: number;
  hostPort: string;
  blobEndpoint: string;
  connectionString(key?: string): string;
  stop(): Promise<void>;
}

async function waitPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`azurite not listening after ${STARTUP_MS} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * tls: serve HTTPS with this certificate; oauth: also accept Azure AD bearer tokens (azurite's
 * `--oauth basic`: it checks the token's issuer, audience and lifetime, not its signature; azurite
 * accepts OAuth only over HTTPS).
 */
export async function startAzurite(o: { tls?: { cert: string; key: string }; oauth?: boolean } = {}): Promise<Azurite> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'azurite-'));
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const args = [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--skipApiVersionCheck', '--loose', '--disableTelemetry', '--silent'];
  if (o.tls) args.push('--cert', o.tls.cert, '--key', o.tls.key);
  if (o.oauth) args.push('--oauth', 'basic');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out = (out + d).slice(-4000); });
  child.stderr!.on('data', (d) => { out = (out + d).slice(-4000); });
  await waitPort(port, child, () => out);
  const blobEndpoint = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    blobEndpoint,
    connectionString: (key = KEY) => `DefaultEndpointsProtocol=${o.tls ? 'https' : 'http'};AccountName=${ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

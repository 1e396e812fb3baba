// Test harness: a real OpenStack Swift all-in-one (memcached + account/container/object/proxy
// servers) on 127.0.0.1 free ports, in a temp dir. The proxy speaks the Swift API (tempauth v1)
// and the S3 API (s3api, path-style). Start it once per test file; stop() kills what it started,
// by pid, and removes the temp dir.
//
//   const swift = await startSwift();
//   swift.s3Endpoint      -> '127.0.0.1:PORT' (plain http), access key test:tester, secret testing
//   swift.authUrl         -> 'http://127.0.0.1:PORT/auth/v1.0'
//   await swift.createContainer('thanos')   // = an S3 bucket of the same name
//   await swift.stop()
//
// Needs the Debian packages swift swift-proxy swift-object swift-account swift-container memcached.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface SwiftServer {
  /** host:port of the proxy (S3 and Swift APIs). */
  hostPort: string;
  proxyPort: number;
  /** S3 endpoint as Thanos writes it (no scheme; use insecure: true). */
  s3Endpoint: string;
  authUrl: string;
  user: string;
  key: string;
  /** The storage URL tempauth hands out for test:tester. */
  storageUrl: string;
  dir: string;
  /** Gets a tempauth token (X-Auth-Token). */
  token(): Promise<string>;
  /** Creates a Swift container (visible through s3api as a bucket). */
  createContainer(name: string): Promise<void>;
  /** Last lines of the server logs, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

export function swiftAvailable(): string | undefined {
  for (const b of ['/usr/bin/memcached', '/usr/bin/swift-proxy-server', '/usr/bin/swift-object-server', '/usr/bin/swift-ring-builder']) {
    if (!existsSync(b)) return `${b} missing: apt-get install -y swift swift-proxy swift-object swift-account swift-container memcached`;
  }
  return undefined;
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => { sock.destroy(); resolve(false); });
  });
}

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSwift(opts: { timeoutMs?: number } = {}): Promise<SwiftServer> {
  const missing = swiftAvailable();
  if (missing) throw new Error(`cannot start Swift: ${missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'swift-saio-'));
  const children: ChildProcess[] = [];
  const logs: Record<string, string> = {};
  const spawnLogged = (name: string, cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    logs[name] = '';
    const keep = (d: Buffer) => { logs[name] = (logs[name] + d.toString()).slice(-8000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  let watchdog: ChildProcess | undefined;
  const killAll = () => {
    if (watchdog?.pid !== undefined && watchdog.exitCode === null) {
      try { process.kill(watchdog.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try { process.kill(c.pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
  };
  // If the test process exits without calling stop(), don't leave servers behind.
  const onExit = () => killAll();
  process.once('exit', onExit);

  try {
    const [mcPort, proxyPort, objPort, contPort, acctPort] = await distinctFreePorts(5);
    const mcArgs = ['-l', '127.0.0.1', '-p', String(mcPort), '-U', '0', '-m', '32'];
    if (process.getuid?.() === 0) mcArgs.push('-u', 'root');
    spawnLogged('memcached', '/usr/bin/memcached', mcArgs);

    await run('bash', [join(root, 'scripts/swift-saio.sh'), dir, String(proxyPort), String(objPort), String(contPort), String(acctPort), `127.0.0.1:${mcPort}`, '--configure-only']);
    for (const kind of ['object', 'container', 'account']) {
      spawnLogged(kind, `swift-${kind}-server`, [join(dir, 'etc', `${kind}-server.conf`), '-v']);
    }
    spawnLogged('proxy', 'swift-proxy-server', [join(dir, 'etc', 'proxy-server.conf'), '-v']);
    // A watchdog: if this process dies without stop() (SIGKILL by a test timeout), it stops the
    // servers it started (by pid) within a second or two. stop() ends the watchdog first.
    const pids = children.map((c) => c.pid).filter((p): p is number => p !== undefined).join(' ');
    watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill ${pids} 2>/dev/null; rm -rf '${dir}'`], { stdio: 'ignore', detached: true });
    watchdog.unref();

    const hostPort = `127.0.0.1:${proxyPort}`;
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`a Swift process exited early (code ${dead.exitCode})`);
      try {
        const r = await fetch(`http://${hostPort}/healthcheck`);
        await r.arrayBuffer();
        if (r.ok) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error('Swift did not come up in time');
      await sleep(100);
    }

    // The backends must accept connections before the proxy is asked to use them.
    for (const port of [objPort, contPort, acctPort]) {
      for (;;) {
        if (await canConnect(port)) break;
        const dead = children.find((c) => c.exitCode !== null);
        if (dead) throw new Error(`a Swift process exited early (code ${dead.exitCode})`);
        if (Date.now() > deadline) throw new Error(`Swift backend on port ${port} did not come up in time`);
        await sleep(100);
      }
    }

    const authUrl = `http://${hostPort}/auth/v1.0`;
    const user = 'test:tester';
    const key = 'testing';
    let cached: { token: string; storageUrl: string } | undefined;
    const auth = async () => {
      if (cached) return cached;
      // tempauth needs memcached; give both a moment on a cold start.
      for (let i = 0; ; i++) {
        const r = await fetch(authUrl, { headers: { 'X-Auth-User': user, 'X-Auth-Key': key } });
        await r.arrayBuffer();
        if (r.ok) {
          cached = { token: r.headers.get('x-auth-token')!, storageUrl: r.headers.get('x-storage-url')! };
          return cached;
        }
        if (Date.now() > deadline) throw new Error(`tempauth answered ${r.status} after ${i + 1} tries`);
        await sleep(100);
      }
    };
    const first = await auth();
    // The proxy's healthcheck says nothing of the backends: create a container to be sure.
    for (let i = 0; ; i++) {
      const r = await fetch(`${first.storageUrl}/harness-probe`, { method: 'PUT', headers: { 'X-Auth-Token': first.token } });
      await r.arrayBuffer();
      if (r.ok) break;
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`a Swift process exited (code ${dead.exitCode})`);
      if (Date.now() > deadline) throw new Error(`Swift backends not ready after ${i + 1} tries: container PUT answered ${r.status}`);
      await sleep(250);
    }
    const server: SwiftServer = {
      hostPort,
      proxyPort,
      s3Endpoint: hostPort,
      authUrl,
      user,
      key,
      storageUrl: first.storageUrl,
      dir,
      token: async () => (await auth()).token,
      async createContainer(name: string) {
        const { token, storageUrl } = await auth();
        // Right after start-up the account/container servers may still answer 503 for a moment.
        for (let i = 0; ; i++) {
          const r = await fetch(`${storageUrl}/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'X-Auth-Token': token } });
          const body = await r.text();
          if (r.ok) return;
          if (r.status !== 503 || i >= 30) throw new Error(`create container ${name}: ${r.status} ${body}\n${server.logs()}`);
          await sleep(200);
        }
      },
      logs() {
        return Object.entries(logs).map(([k, v]) => `--- ${k}\n${v.slice(-2000)}`).join('\n');
      },
      async stop() {
        process.removeListener('exit', onExit);
        killAll();
        const deadline = Date.now() + 5000;
        while (children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await sleep(50);
        for (const c of children) {
          if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
            try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
          }
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (err) {
    const tail = Object.entries(logs).map(([k, v]) => `--- ${k}\n${v.slice(-1500)}`).join('\n');
    process.removeListener('exit', onExit);
    killAll();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
}


/**
 * Registers before/after hooks on a uvu suite that start one Swift for the file and stop it.
 * A start-up failure is printed (uvu reports a failing hook without its message).
 */
export function useSwift(suite: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void }): { readonly server: SwiftServer } {
  let server: SwiftServer | undefined;
  suite.before(async () => {
    try {
      server = await startSwift();
    } catch (err) {
      console.error(`[swift harness] ${(err as Error).stack ?? String(err)}`);
      throw err;
    }
  });
  suite.after(async () => {
    await server?.stop();
  });
  return {
    get server(): SwiftServer {
      if (!server) throw new Error('Swift is not running (the before hook failed)');
      return server;
    },
  };
}

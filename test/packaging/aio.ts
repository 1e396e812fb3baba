// The repository's plugins.yaml (the all-in-one stack) started as documented, for the first-start
// and docs tests: run as written except its loopback ports (free ones from the harness, so a
// developer's running stack does not collide) and the two asset grants made absolute (the copy
// lives in a temp dir, and with it its data/).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';

export const ROOT = new URL('../..', import.meta.url).pathname;

/** plugins.yaml copied into `dir` with each 127.0.0.1 port replaced by a free one. */
export async function manifestCopy(dir: string): Promise<{ file: string; port: (p: number) => number }> {
  let text = fs.readFileSync(path.join(ROOT, 'plugins.yaml'), 'utf8');
  const ports = new Map<number, number>();
  for (const m of text.matchAll(/127\.0\.0\.1:(\d+)/g)) if (!ports.has(Number(m[1]))) ports.set(Number(m[1]), await freePort());
  text = text.replace(/127\.0\.0\.1:(\d+)/g, (_m, p) => `127.0.0.1:${ports.get(Number(p))}`);
  text = text.replace(/\.\/(plugins\/component\/query\/ui|node_modules\/uplot\/dist)/g, (_m, p) => path.join(ROOT, p));
  const file = path.join(dir, 'plugins.yaml');
  fs.writeFileSync(file, text);
  return { file, port: (p) => ports.get(p)! };
}

export interface Stack {
  child: ChildProcess;
  /** The querier's base URL (plugins.yaml's 127.0.0.1:10904). */
  queryUrl: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `<command...> run -c <copy>` in its own process group and waits for the querier's /-/ready. */
export async function startStack(dir: string, command: string[], started = Date.now()): Promise<Stack> {
  const { file, port } = await manifestCopy(dir);
  const queryUrl = `http://127.0.0.1:${port(10904)}`;
  const child = spawn(command[0]!, [...command.slice(1), 'run', '-c', file], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err = (err + d).slice(-20_000); });
  const stack: Stack = {
    child, queryUrl, stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
      // The child may be npx, which exits before the thanos process it started has finished its
      // graceful shutdown (still writing its data dir: a caller removing the dir then raced it).
      // Wait for the whole process group; past the host's grace period, kill what is left.
      const alive = () => { try { process.kill(-child.pid!, 0); return true; } catch { return false; } };
      // (Bounded: an unreaped zombie would answer signal 0 for ever.)
      const graceEnd = Date.now() + 30_000;
      while (alive() && Date.now() < graceEnd + 5_000) {
        if (Date.now() > graceEnd) { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  const deadline = started + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}): ${err}`);
    if (await fetch(`${queryUrl}/-/ready`).then((r) => r.ok, () => false)) return stack;
    if (Date.now() > deadline) {
      await stack.stop();
      throw new Error(`querier not ready within ${STARTUP_MS} ms: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

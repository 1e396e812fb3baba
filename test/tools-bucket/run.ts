// Runs `bin/thanos.mjs <args>` as a child process, for the tools-bucket suites.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Finished { code: number | null; out: string; err: string }

/** Starts the command (`env`: variables added to this process's environment); `done` resolves with its exit code and everything it printed. */
export function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(process.execPath, ['bin/thanos.mjs', ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err }))) };
}

/** Runs the command to its end. */
export const thanos = (...args: string[]): Promise<Finished> => run(args).done;

// Launches the Firebase Storage emulator of firebase-tools (it implements the GCS JSON API:
// /storage/v1/b/:b/o…, /upload/storage/v1/… media, multipart and resumable; buckets appear on first
// write; it ignores the Authorization header) in a child process on loopback, for tests.
//
// Why not `firebase emulators:start --only storage`: the CLI insists on Java 21 (Debian 12 has 17)
// and downloads a rules-runtime jar. The GCS API never consults Storage rules, so the child stubs
// the rules runtime out and starts the emulator through firebase-tools' registry (which its URL
// building needs). That reaches into firebase-tools internals: the version is pinned.
//
// firebase-tools is 600+ packages, so it is not in package.json: .ci/run installs it under
// $HOME/.cache/thanos-ts-gcs-emu (THANOS_TS_GCS_EMU_DIR overrides the prefix).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.ts';

export const FIREBASE_TOOLS_VERSION = '15.34.2';

export interface GcsEmulator {
  /** The JSON API root, e.g. http://127.0.0.1:20123 (what STORAGE_EMULATOR_HOST may name). */
  endpoint: string;
  hostPort: string;
  stop(): Promise<void>;
}

export function emulatorPrefix(): string {
  return process.env.THANOS_TS_GCS_EMU_DIR || join(homedir(), '.cache', 'thanos-ts-gcs-emu');
}

/** The install command, for the error a test fails with when the emulator is missing. */
export function installHint(prefix = emulatorPrefix()): string {
  return `npm install --prefix ${JSON.stringify(prefix)} --no-audit --no-fund --ignore-scripts firebase-tools@${FIREBASE_TOOLS_VERSION}`;
}

// Runs in the child (plain CommonJS). argv: prefix, port. It exits when its stdin closes, so a
// test process that dies without stopping it does not leave the emulator behind.
const CHILD = `
const { createRequire } = require('node:module');
const req = createRequire(require('node:path').join(process.argv[1], 'node_modules', 'x.js'));
const runtime = req('firebase-tools/lib/emulator/storage/rules/runtime.js');
runtime.StorageRulesRuntime.prototype.start = async function () {};
runtime.StorageRulesRuntime.prototype.stop = async function () {};
const { StorageEmulator } = req('firebase-tools/lib/emulator/storage/index.js');
StorageEmulator.prototype.createRulesManager = function () {
  return { start: async () => {}, stop: async () => {}, getRuleset: () => undefined };
};
const port = Number(process.argv[2]);
const emu = new StorageEmulator({ projectId: 'demo-thanos', host: '127.0.0.1', port, rules: [], auto_download: false });
req('firebase-tools/lib/emulator/registry.js').EmulatorRegistry.start(emu).then(
  () => console.log('gcs emulator listening on ' + port),
  (e) => { console.error('gcs emulator failed to start:', e); process.exit(1); });
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

/** Starts the emulator; throws (with the install command) when firebase-tools is not installed. */
export async function startGcsEmulator(o: { readyTimeoutMs?: number } = {}): Promise<GcsEmulator> {
  const prefix = emulatorPrefix();
  const pkg = join(prefix, 'node_modules', 'firebase-tools', 'package.json');
  if (!existsSync(pkg)) {
    throw new Error(`the GCS emulator (firebase-tools@${FIREBASE_TOOLS_VERSION}) is not installed under ${prefix}: run\n  ${installHint(prefix)}\n(.ci/run does this; THANOS_TS_GCS_EMU_DIR names another prefix)`);
  }
  const port = await freePort();
  // The emulator keeps blobs under $TMPDIR/firebase/storage: a directory of its own, removed on stop.
  const tmp = await mkdtemp(join(tmpdir(), 'gcs-emu-'));
  const child = spawn(process.execPath, ['-e', CHILD, prefix, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' },
  });
  let output = '';
  child.stdout!.on('data', (d) => { output = (output + d).slice(-4000); });
  child.stderr!.on('data', (d) => { output = (output + d).slice(-4000); });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    await waitReady(child, endpoint, o.readyTimeoutMs ?? 60_000, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, hostPort: `127.0.0.1:${port}`, stop };
}

/** Polls until the emulator answers HTTP (any status), the child exits, or the timeout passes. */
async function waitReady(child: ChildProcess, endpoint: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => { exited = true; });
  for (;;) {
    if (exited) throw new Error(`the GCS emulator exited before it listened:\n${output()}`);
    try {
      await fetch(`${endpoint}/storage/v1/b/ready-probe/o`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the GCS emulator did not answer on ${endpoint} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

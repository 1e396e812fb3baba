// Cold start of `thanos store` on one provider (part of `npm run bench -- objstore`): a bucket is
// given a few TSDB blocks through the provider's plugin, then `thanos` is spawned with a fresh data
// dir (no local index-header cache) and timed from spawn to the first 200 of /-/ready (ready means
// the initial block sync is done: every meta.json read, index headers built).
// Built-in providers run `thanos store --objstore.config-file bucket.yaml …`, the documented
// command; GCS runs `thanos run -c plugins.yaml` with the store component on gcs-fake-plugin.ts,
// because Thanos's GCS config cannot name a non-Google endpoint. THANOS_RUN_FROM=sources for every
// run (the loader-based path: an external .ts plugin cannot load from dist/).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Bucket } from '../../lib/objstore/bucket.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { genSeries, writeRawBlock } from '../../test/store-gateway/fixtures.ts';
import { freePort } from '../../test/harness/ports.ts';

const repo = new URL('../../', import.meta.url).pathname;
const H2 = 2 * 3600_000;
const READY_TIMEOUT_MS = 180_000;

export interface ColdStartTarget {
  name: string;
  /** Uploads the blocks. */
  writer: Bucket;
  /** Thanos objstore YAML (type + config) for `thanos store --objstore.config-file`, or ... */
  objstoreYaml?: string;
  /** ... a plugins.yaml objstore entry (its lines after `- id: bench`) for `thanos run`. */
  manifestEntry?: (dir: string) => string;
}

export interface ColdStartResult { name: string; blocks: number; ms: number[] }

/** Writes `blocks` 2h blocks of 50 series (30 s samples) into the bucket. */
export async function writeBlocks(b: Bucket, blocks: number): Promise<void> {
  const core = createJsCore();
  const t0 = Math.floor((Date.now() - 10 * 86400_000) / H2) * H2;
  const ext = { cluster: 'bench', replica: 'A' };
  for (let i = 0; i < blocks; i++) {
    const from = t0 + i * H2;
    await writeRawBlock(b, core, genSeries(50, from, from + H2, 30_000, i + 1), from, from + H2, ext);
  }
}

async function once(t: ColdStartTarget): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-coldstart-'));
  const [http, grpc] = [await freePort(), await freePort()];
  let args: string[];
  if (t.objstoreYaml !== undefined) {
    writeFileSync(join(dir, 'bucket.yaml'), t.objstoreYaml);
    args = ['store', '--data-dir', './store', '--objstore.config-file', 'bucket.yaml', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`, '--log.level', 'warn'];
  } else {
    writeFileSync(join(dir, 'plugins.yaml'), `apiVersion: 1
log: { level: warn }
objstore:
  - id: bench
${t.manifestEntry!(dir)}
components:
  - id: store
    use: store
    objstore: bench
    http: 127.0.0.1:${http}
    grpc: 127.0.0.1:${grpc}
    dataDir: ./store
    permissions: { read: [./store], write: [./store] }
`);
    args = ['run', '-c', 'plugins.yaml'];
  }
  let out = '';
  const started = performance.now();
  const child = spawn(process.execPath, [join(repo, 'bin/thanos.mjs'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, THANOS_RUN_FROM: 'sources' } });
  child.stdout!.on('data', (d) => { out = (out + d).slice(-4000); });
  child.stderr!.on('data', (d) => { out = (out + d).slice(-4000); });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${t.name}: thanos exited (${child.exitCode}) before ready:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${http}/-/ready`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`${t.name}: not ready after ${READY_TIMEOUT_MS} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `runs` cold starts of `thanos store` on the target's bucket (which already holds the blocks). */
export async function coldStart(t: ColdStartTarget, blocks: number, runs: number): Promise<ColdStartResult> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await once(t));
  return { name: t.name, blocks, ms };
}

/** `use:` for a plugin file, relative to the manifest's directory as plugins.yaml wants it. */
export function useOf(manifestDir: string, file: string): string {
  const rel = relative(manifestDir, file);
  return rel.startsWith('.') ? rel : `./${rel}`;
}

// Provider benchmark (part of `npm run bench -- objstore`; alone: `npm run bench -- objstore --providers-only`):
// each SDK-backed provider against its loopback server, beside the old hand-written S3 client
// (bench/objstore/s3-handwritten.ts) on the same server:
//   - upload / download of one streamed object (MB/s)
//   - 16 KiB ranged reads at random offsets (the store gateway's pattern): p50 / p99 ms
//   - small (4 KiB) PUTs: p50 ms
// Servers: Swift s3api (Debian swift, test/harness/swift.ts), s3rver 3.7.1, Azurite 3.35.
// Env: OBJSTORE_BENCH_MB (object size, default 32), OBJSTORE_BENCH_OPS (ranged reads / small PUTs, default 200).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import s3plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import azurePlugin from '../../plugins/objstore/azure/mod.ts';
import { S3Bucket as HandwrittenS3 } from './s3-handwritten.ts';
import { startSwift, swiftAvailable } from '../../test/harness/swift.ts';
import { startAzurite, ACCOUNT } from '../../test/objstore-azure/azurite.ts';
import { testCtx } from '../../test/objstore-s3/ctx.ts';
import { freePort } from '../../test/harness/ports.ts';

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 1;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}

function streamOf(data: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({ pull(c) { if (off >= data.length) c.close(); else { c.enqueue(data.subarray(off, off + chunk)); off += chunk; } } });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

interface Row { name: string; upMBs: number; downMBs: number; rangeP50: number; rangeP99: number; putP50: number }

async function measure(name: string, b: Bucket, sizeMb: number, ops: number): Promise<Row> {
  const data = pattern(sizeMb * 1024 * 1024);
  // Warm-up (JIT on both sides, the server's first write): not measured.
  await b.upload('bench/warm', streamOf(data.subarray(0, 4 * 1024 * 1024)));
  await readAll(await b.get('bench/warm'));
  let t = performance.now();
  await b.upload('bench/big', streamOf(data));
  const upMBs = sizeMb / ((performance.now() - t) / 1000);
  t = performance.now();
  const got = await readAll(await b.get('bench/big'));
  const downMBs = sizeMb / ((performance.now() - t) / 1000);
  if (got.length !== data.length) throw new Error(`${name}: read back ${got.length} bytes, wrote ${data.length}`);
  const ranges: number[] = [];
  let x = 7;
  for (let i = 0; i < ops; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const off = x % (data.length - 16384);
    const t0 = performance.now();
    await readAll(await b.getRange('bench/big', off, 16384));
    ranges.push(performance.now() - t0);
  }
  const puts: number[] = [];
  const small = pattern(4096);
  for (let i = 0; i < ops; i++) {
    const t0 = performance.now();
    await b.upload(`bench/small/${i}`, small);
    puts.push(performance.now() - t0);
  }
  await b.close();
  return { name, upMBs, downMBs, rangeP50: pct(ranges, 50), rangeP99: pct(ranges, 99), putP50: pct(puts, 50) };
}

function print(rows: Row[]): void {
  console.log(`  ${'provider / server / client'.padEnd(44)} ${'up MB/s'.padStart(8)} ${'down MB/s'.padStart(9)} ${'range p50'.padStart(9)} ${'range p99'.padStart(9)} ${'put p50'.padStart(8)}`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(44)} ${r.upMBs.toFixed(1).padStart(8)} ${r.downMBs.toFixed(1).padStart(9)} ${r.rangeP50.toFixed(2).padStart(9)} ${r.rangeP99.toFixed(2).padStart(9)} ${r.putP50.toFixed(2).padStart(8)}`);
  }
}

function handwritten(ctx: ReturnType<typeof testCtx>, cfg: ReturnType<typeof s3plugin.parseConfig>): Bucket {
  return new HandwrittenS3(ctx, cfg, { accessKey: cfg.accessKey, secretKey: cfg.secretKey, sessionToken: '' }, 'us-east-1', { regionFixed: true });
}

export async function benchProviders(): Promise<void> {
  const sizeMb = Number(process.env.OBJSTORE_BENCH_MB ?? 32);
  const ops = Number(process.env.OBJSTORE_BENCH_OPS ?? 200);
  console.log(`\nproviders against their loopback servers (${sizeMb} MiB object, ${ops} ranged reads and 4 KiB PUTs)`);
  const rows: Row[] = [];

  // s3rver (needs the legacy OpenSSL provider for its DES continuation tokens)
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', new URL('../../test/objstore-s3/fixtures/s3rver-run.cjs', import.meta.url).pathname, String(port), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout!.once('data', r));
  try {
    for (const [label, bucket] of [['SDK', 'thanos'], ['hand-written', 'thanos2']] as const) {
      const ctx = testCtx({ net: [`127.0.0.1:${port}`] });
      const cfg = s3plugin.parseConfig({ bucket, endpoint: `127.0.0.1:${port}`, insecure: true, access_key: 'S3RVER', secret_key: 'S3RVER' });
      const b = label === 'SDK' ? await createS3Bucket(ctx, cfg) : handwritten(ctx, cfg);
      rows.push(await measure(`S3 / s3rver / ${label}`, b, sizeMb, ops));
    }
  } finally {
    child.kill('SIGTERM');
  }

  if (!swiftAvailable()) {
    const swift = await startSwift();
    try {
      for (const label of ['SDK', 'hand-written'] as const) {
        const bucket = `bench-${label === 'SDK' ? 'sdk' : 'hand'}`;
        await swift.createContainer(bucket);
        const ctx = testCtx({ net: [swift.hostPort] });
        const cfg = s3plugin.parseConfig({ bucket, endpoint: swift.s3Endpoint, insecure: true, access_key: swift.user, secret_key: swift.key });
        const b = label === 'SDK' ? await createS3Bucket(ctx, cfg) : handwritten(ctx, cfg);
        rows.push(await measure(`S3 / Swift s3api / ${label}`, b, sizeMb, ops));
      }
    } finally {
      await swift.stop();
    }
  } else {
    console.log(`  (Swift s3api skipped: ${swiftAvailable()})`);
  }

  const az = await startAzurite();
  try {
    const ctx = testCtx({ net: [az.hostPort] });
    const b = await azurePlugin.create(ctx, azurePlugin.parseConfig({ storage_account: ACCOUNT, container: 'bench', storage_connection_string: az.connectionString() }));
    rows.push(await measure('AZURE / Azurite / SDK', b, sizeMb, ops));
  } finally {
    await az.stop();
  }
  print(rows);
  const ratio = (server: string) => {
    const sdk = rows.find((r) => r.name === `S3 / ${server} / SDK`);
    const hw = rows.find((r) => r.name === `S3 / ${server} / hand-written`);
    if (sdk && hw) console.log(`  S3 SDK / hand-written on ${server}: upload ${(sdk.upMBs / hw.upMBs).toFixed(2)}x, download ${(sdk.downMBs / hw.downMBs).toFixed(2)}x, range p50 ${(hw.rangeP50 / sdk.rangeP50).toFixed(2)}x (speed ratio, >1 = SDK faster)`);
  };
  ratio('s3rver');
  ratio('Swift s3api');
}

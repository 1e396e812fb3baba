// Provider benchmark (part of `npm run bench -- objstore`; alone: `npm run bench -- objstore --providers-only`):
// each SDK-backed provider against its loopback server, beside the old hand-written S3 client
// (bench/objstore/s3-handwritten.ts) on the same server:
//   - upload / download of one streamed object (MB/s)
//   - 16 KiB ranged reads at random offsets (the store gateway's pattern): p50 / p99 ms
//   - small (4 KiB) PUTs: p50 ms
//   - cold start of `thanos store` on a bucket holding a few blocks (coldstart.ts): spawn to /-/ready
// Servers: Swift s3api and the Swift API (Debian swift, test/harness/swift.ts), s3rver 3.7.1,
// Azurite 3.35; no GCS or COS server runs here, so those two run against the signature-verifying
// fakes their acceptance tests use (test/objstore-gcs/fake.ts: JSON API + OAuth, RS256 JWT checked;
// test/objstore-cos/fake.ts: COS request signatures checked). The Firebase Storage emulator recipe
// (../shared/recipes) needs firebase-tools, which is not installed.
// Env: OBJSTORE_BENCH_MB (object size, default 32), OBJSTORE_BENCH_OPS (ranged reads / small PUTs,
// default 200), OBJSTORE_BENCH_BLOCKS (blocks for the cold start, default 4), OBJSTORE_BENCH_COLD_RUNS
// (cold starts per provider, default 3; 0 skips them).
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import s3plugin, { createS3Bucket } from '../../plugins/objstore/s3/mod.ts';
import azurePlugin from '../../plugins/objstore/azure/mod.ts';
import swiftPlugin from '../../plugins/objstore/swift/mod.ts';
import { createGcsBucket, parseGcsConfig } from '../../plugins/objstore/gcs/mod.ts';
import { createCosBucket, parseCosConfig } from '../../plugins/objstore/cos/mod.ts';
import { startFakeGcs } from '../../test/objstore-gcs/fake.ts';
import { startFakeCos } from '../../test/objstore-cos/fake.ts';
import { coldStart, useOf, writeBlocks, type ColdStartResult, type ColdStartTarget } from './coldstart.ts';
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

function printCold(rows: ColdStartResult[]): void {
  if (rows.length === 0) return;
  console.log(`\n  cold start of thanos store (spawn to /-/ready, fresh data dir; ${rows[0]!.blocks} blocks in the bucket)`);
  console.log(`  ${'provider / server'.padEnd(44)} ${'median ms'.padStart(9)} ${'min ms'.padStart(8)} ${'max ms'.padStart(8)}  runs`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(44)} ${pct(r.ms, 50).toFixed(0).padStart(9)} ${Math.min(...r.ms).toFixed(0).padStart(8)} ${Math.max(...r.ms).toFixed(0).padStart(8)}  ${r.ms.length}`);
  }
}

export async function benchProviders(): Promise<void> {
  const sizeMb = Number(process.env.OBJSTORE_BENCH_MB ?? 32);
  const ops = Number(process.env.OBJSTORE_BENCH_OPS ?? 200);
  const blocks = Number(process.env.OBJSTORE_BENCH_BLOCKS ?? 4);
  const coldRuns = Number(process.env.OBJSTORE_BENCH_COLD_RUNS ?? 3);
  // Shared machines: the load average says how much of a row is other people's work.
  const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`\nproviders against their loopback servers (${sizeMb} MiB object, ${ops} ranged reads and 4 KiB PUTs; load average ${load()})`);
  const rows: Row[] = [];
  const cold: ColdStartResult[] = [];
  const measureCold = async (t: ColdStartTarget) => {
    if (coldRuns <= 0) return;
    await writeBlocks(t.writer, blocks);
    cold.push(await coldStart(t, blocks, coldRuns));
  };

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
    const s3cfg = { bucket: 'thanos', endpoint: `127.0.0.1:${port}`, insecure: true, access_key: 'S3RVER', secret_key: 'S3RVER' };
    await measureCold({
      name: 'S3 / s3rver',
      writer: await createS3Bucket(testCtx({ net: [`127.0.0.1:${port}`] }), s3plugin.parseConfig(s3cfg)),
      objstoreYaml: `type: S3\nconfig: ${JSON.stringify(s3cfg)}\n`,
    });
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
      await swift.createContainer('bench-cold');
      const swiftCfg = { auth_url: swift.authUrl, username: swift.user, password: swift.key, container_name: 'bench-cold' };
      await measureCold({
        name: 'SWIFT / Swift all-in-one',
        writer: await swiftPlugin.create(testCtx({ net: [swift.hostPort] }), swiftPlugin.parseConfig(swiftCfg)),
        objstoreYaml: `type: SWIFT\nconfig: ${JSON.stringify(swiftCfg)}\n`,
      });
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
    const azCfg = { storage_account: ACCOUNT, container: 'bench-cold', storage_connection_string: az.connectionString() };
    await measureCold({
      name: 'AZURE / Azurite',
      writer: await azurePlugin.create(testCtx({ net: [az.hostPort] }), azurePlugin.parseConfig(azCfg)),
      objstoreYaml: `type: AZURE\nconfig: ${JSON.stringify(azCfg)}\n`,
    });
  } finally {
    await az.stop();
  }

  // GCS: the JSON API + OAuth fake (every token's RS256 JWT verified, every request's bearer token checked).
  {
    const email = 'bench@project.iam.gserviceaccount.com';
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const gcs = await startFakeGcs({ bucket: 'thanos', clientEmail: email, publicKey });
    try {
      const serviceAccount = JSON.stringify({
        type: 'service_account', project_id: 'project', private_key_id: 'k1', client_email: email, client_id: '1',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: gcs.tokenUri,
      });
      const gcsCfg = { bucket: 'thanos', service_account: serviceAccount };
      const mk = () => createGcsBucket(testCtx({ net: [gcs.hostPort] }), parseGcsConfig(gcsCfg), { endpoint: gcs.endpoint });
      rows.push(await measure('GCS / signature-verifying fake / SDK', await mk(), sizeMb, ops));
      const plugin = new URL('./gcs-fake-plugin.ts', import.meta.url).pathname;
      await measureCold({
        name: 'GCS / fake (thanos run, store component)',
        writer: await mk(),
        manifestEntry: (dir) => `    use: ${useOf(dir, plugin)}\n    isolation: inline\n    trust: true\n    permissions: { net: ["${gcs.hostPort}"] }\n    config: ${JSON.stringify({ endpoint: gcs.endpoint, gcs: gcsCfg })}`,
      });
    } finally {
      await gcs.stop();
    }
  }

  // COS: the fake that recomputes every request's COS signature.
  {
    const creds = { secretId: 'AKIDbench', secretKey: 'cos-bench-secret' };
    const cos = await startFakeCos(creds);
    try {
      const cosCfg = { endpoint: cos.endpoint, secret_id: creds.secretId, secret_key: creds.secretKey };
      const mk = () => createCosBucket(testCtx({ net: [cos.hostPort] }), parseCosConfig(cosCfg));
      rows.push(await measure('COS / signature-verifying fake / SDK signer', await mk(), sizeMb, ops));
      await measureCold({ name: 'COS / fake', writer: await mk(), objstoreYaml: `type: COS\nconfig: ${JSON.stringify(cosCfg)}\n` });
    } finally {
      await cos.stop();
    }
  }
  print(rows);
  const ratio = (server: string) => {
    const sdk = rows.find((r) => r.name === `S3 / ${server} / SDK`);
    const hw = rows.find((r) => r.name === `S3 / ${server} / hand-written`);
    if (sdk && hw) console.log(`  S3 SDK / hand-written on ${server}: upload ${(sdk.upMBs / hw.upMBs).toFixed(2)}x, download ${(sdk.downMBs / hw.downMBs).toFixed(2)}x, range p50 ${(hw.rangeP50 / sdk.rangeP50).toFixed(2)}x (speed ratio, >1 = SDK faster)`);
  };
  ratio('s3rver');
  ratio('Swift s3api');
  printCold(cold);
  console.log(`  load average at the end: ${load()}`);
}

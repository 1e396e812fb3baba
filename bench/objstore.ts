// Object store benchmark: `npm run bench -- objstore [--objects=N] [--size=BYTES]`.
// For the memory and filesystem providers (through the checked FsCapability), bare and wrapped
// with prefix+retry+metrics: upload/get of N objects, 16 KiB ranged reads inside a 64 MiB object
// (the store gateway's access pattern), exists, recursive iter. Prints ops/s and MiB/s.
// Then the SDK-backed providers against their loopback servers beside the old hand-written S3
// client (bench/objstore/providers.ts); --no-providers skips them, --providers-only runs only them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAll, type Bucket } from '../lib/objstore/bucket.ts';
import { MetricsBucket } from '../lib/objstore/metrics.ts';
import { PrefixedBucket } from '../lib/objstore/prefix.ts';
import { RetryBucket } from '../lib/objstore/retry.ts';
import { MemoryBucket } from '../plugins/objstore/memory/mod.ts';
import filesystem from '../plugins/objstore/filesystem/mod.ts';
import { createCapabilities } from '../host/capabilities.ts';
import { Permissions } from '../host/permissions.ts';
import { createLogger } from '../host/log.ts';
import { Registry } from '../host/metrics.ts';
import { benchProviders } from './objstore/providers.ts';

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

async function time(label: string, ops: number, bytes: number, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  const mib = bytes ? `  ${(bytes / 1048576 / s).toFixed(1).padStart(8)} MiB/s` : '';
  console.log(`  ${label.padEnd(34)} ${(ops / s).toFixed(0).padStart(9)} ops/s${mib}`);
}

async function run(name: string, b: Bucket, n: number, size: number): Promise<void> {
  console.log(`${name}:`);
  const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  await time(`upload ${n} x ${size} B`, n, n * size, async () => {
    for (let i = 0; i < n; i++) await b.upload(`blk${i % 10}/chunks/${String(i).padStart(6, '0')}`, data);
  });
  await time(`get ${n} x ${size} B`, n, n * size, async () => {
    for (let i = 0; i < n; i++) await readAll(await b.get(`blk${i % 10}/chunks/${String(i).padStart(6, '0')}`));
  });
  await time(`exists ${n}`, n, 0, async () => {
    for (let i = 0; i < n; i++) await b.exists(`blk${i % 10}/chunks/${String(i).padStart(6, '0')}`);
  });
  await time('iter recursive (all objects) x 10', 10, 0, async () => {
    for (let k = 0; k < 10; k++) for await (const _ of b.iter('', { recursive: true })) { /* count */ }
  });
  const big = new Uint8Array(64 * 1048576);
  await b.upload('big/index', big);
  const reads = 5000;
  let x = 12345;
  await time(`getRange 16 KiB x ${reads} (64 MiB obj)`, reads, reads * 16384, async () => {
    for (let i = 0; i < reads; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      await readAll(await b.getRange('big/index', x % (big.length - 16384), 16384));
    }
  });
}

export default async function main(args: string[]): Promise<void> {
  if (args.includes('--providers-only')) return benchProviders();
  const n = arg(args, 'objects', 2000);
  const size = arg(args, 'size', 64 * 1024);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-objstore-'));
  try {
    const wrap = (b: Bucket) => new MetricsBucket(new RetryBucket(new PrefixedBucket(b, 'tenant')), new Registry(), 'bench');
    await run('memory (bare)', new MemoryBucket(), n, size);
    await run('memory (prefix+retry+metrics)', wrap(new MemoryBucket()), n, size);
    const fsBucket = async (dir: string) => filesystem.create(createCapabilities({
      permissions: new Permissions({ pluginId: 'objstore:filesystem', request: filesystem.manifest.permissions, grant: { read: [tmp], write: [tmp] }, grantKey: 'objstore[0].permissions', grantBaseDir: tmp }),
      log: createLogger({ level: 'error' }), metrics: new Registry(),
    }), { directory: dir });
    await run('filesystem (bare)', await fsBucket(path.join(tmp, 'a')), n, size);
    await run('filesystem (prefix+retry+metrics)', wrap(await fsBucket(path.join(tmp, 'b'))), n, size);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!args.includes('--no-providers')) await benchProviders();
}

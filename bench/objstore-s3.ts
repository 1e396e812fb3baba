// Object-store client benchmark (`npm run bench -- objstore-s3`): the S3 and SWIFT plugins against
// a real OpenStack Swift all-in-one on loopback (s3api + native API), plus the signing primitives.
//   - SigV4 signatures/s, SHA-256 and MD5 throughput (the per-request CPU cost of the S3 client)
//   - upload / download throughput of one large object (S3 multipart, Swift SLO), MB/s
//   - small ranged reads (16 KiB at random offsets, like the store gateway's chunk reads): p50/p99 ms
//   - many small objects: upload rate and a recursive listing
// Env: OBJSTORE_BENCH_MB (large object size, default 64), OBJSTORE_BENCH_SMALL (default 300).
import { createHash } from 'node:crypto';
import { startSwift } from '../test/harness/swift.ts';
import { testCtx } from '../test/objstore-s3/ctx.ts';
import { readAll, type Bucket } from '../lib/objstore/bucket.ts';
import s3plugin, { createS3Bucket } from '../plugins/objstore/s3/mod.ts';
import swiftPlugin, { createSwiftBucket } from '../plugins/objstore/swift/mod.ts';
import { EMPTY_SHA256, sha256Hex, signV4 } from '../lib/objstore/kit/sign.ts';
import { md5 } from '../lib/hash/md5.ts';

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 1;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function primitives(): Promise<void> {
  const n = 5000;
  let t = performance.now();
  for (let i = 0; i < n; i++) {
    await signV4({
      method: 'GET', path: `/thanos/01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/${String(i).padStart(6, '0')}`, query: [],
      headers: { host: '127.0.0.1:9000', range: `bytes=${i}-${i + 16383}`, 'x-amz-date': '20261125T150000Z', 'x-amz-content-sha256': EMPTY_SHA256 },
      payloadHash: EMPTY_SHA256, accessKey: 'AK', secretKey: 'SK', region: 'us-east-1', service: 's3',
    });
  }
  const signMs = performance.now() - t;
  const data = pattern(32 * 1024 * 1024);
  t = performance.now();
  await sha256Hex(data);
  const shaMs = performance.now() - t;
  t = performance.now();
  md5(data);
  const md5Ms = performance.now() - t;
  t = performance.now();
  createHash('md5').update(data).digest();
  const nodeMd5Ms = performance.now() - t;
  console.log(`sigv4 sign            ${fmt(n / (signMs / 1000), 0)} signatures/s (${fmt((signMs * 1000) / n, 1)} µs each)`);
  console.log(`sha-256 (WebCrypto)   ${fmt(32 / (shaMs / 1000))} MB/s`);
  console.log(`md5 (ours, TS)        ${fmt(32 / (md5Ms / 1000))} MB/s   (node:crypto: ${fmt(32 / (nodeMd5Ms / 1000))} MB/s, for reference)`);
}

async function run(label: string, b: Bucket, sizeMb: number, nSmall: number): Promise<void> {
  const big = pattern(sizeMb * 1024 * 1024);
  let t = performance.now();
  await b.upload('bench/big.bin', new ReadableStream<Uint8Array>({
    start(c) { for (let off = 0; off < big.length; off += 1 << 20) c.enqueue(big.subarray(off, off + (1 << 20))); c.close(); },
  }));
  const upMs = performance.now() - t;
  t = performance.now();
  const back = await readAll(await b.get('bench/big.bin'));
  const downMs = performance.now() - t;
  if (back.length !== big.length) throw new Error(`${label}: read back ${back.length} bytes, expected ${big.length}`);
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const off = Math.floor(Math.random() * (big.length - 16384));
    const t0 = performance.now();
    const r = await readAll(await b.getRange('bench/big.bin', off, 16384));
    lat.push(performance.now() - t0);
    if (r.length !== 16384) throw new Error('short range read');
  }
  t = performance.now();
  const small = pattern(2048);
  for (let i = 0; i < nSmall; i++) await b.upload(`bench/small/${String(i).padStart(5, '0')}/meta.json`, small);
  const smallMs = performance.now() - t;
  t = performance.now();
  let listed = 0;
  for await (const _ of b.iter('bench/small/', { recursive: true })) listed++;
  const listMs = performance.now() - t;
  if (listed !== nSmall) throw new Error(`${label}: listed ${listed}, expected ${nSmall}`);
  console.log(`${label.padEnd(22)}upload ${fmt(sizeMb / (upMs / 1000))} MB/s, download ${fmt(sizeMb / (downMs / 1000))} MB/s, ` +
    `16 KiB range p50 ${fmt(pct(lat, 50))} ms p99 ${fmt(pct(lat, 99))} ms, ` +
    `${nSmall} small uploads ${fmt(nSmall / (smallMs / 1000), 0)}/s, recursive list ${fmt(listMs, 0)} ms`);
  await b.close();
}

export default async function main(): Promise<void> {
  const sizeMb = Number(process.env.OBJSTORE_BENCH_MB ?? 64);
  const nSmall = Number(process.env.OBJSTORE_BENCH_SMALL ?? 300);
  await primitives();
  const swift = await startSwift();
  try {
    await swift.createContainer('bench-s3');
    await swift.createContainer('bench-swift');
    const ctx = testCtx({ net: [swift.hostPort] });
    const s3cfg = { bucket: 'bench-s3', endpoint: swift.s3Endpoint, insecure: true, access_key: swift.user, secret_key: swift.key, part_size: 16 * 1024 * 1024 };
    await run('S3 (SigV4, multipart)', await createS3Bucket(ctx, s3plugin.parseConfig(s3cfg)), sizeMb, nSmall);
    await swift.createContainer('bench-s3-nomd5');
    await run('S3 (no Content-MD5)', await createS3Bucket(ctx, s3plugin.parseConfig({ ...s3cfg, bucket: 'bench-s3-nomd5', send_content_md5: false })), sizeMb, nSmall);
    await run('SWIFT (SLO 16 MiB)', await createSwiftBucket(ctx, swiftPlugin.parseConfig({
      auth_url: swift.authUrl, username: swift.user, password: swift.key, container_name: 'bench-swift', large_object_chunk_size: 16 * 1024 * 1024,
    })), sizeMb, nSmall);
  } finally {
    await swift.stop();
  }
}

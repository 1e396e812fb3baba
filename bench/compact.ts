// Compactor throughput: `npm run bench -- compact [series=2000]`.
// 1) four raw 2h blocks (series × 480 samples each, 15s scrape) compacted into one 8h block
//    (download, merge, upload, mark) from a filesystem bucket;
// 2) one raw 48h block (series/4 × 5760 samples, 30s) downsampled to 5m.
import { rmSync } from 'node:fs';
import { createCore } from '../lib/core/mod.ts';
import { Compactor } from '../lib/compact/compactor.ts';
import { fs, HOUR, tmp, fsBucket, alignedStart, putBlock, type SeriesSpec } from '../test/compact/helpers.ts';

function series(n: number, step: number): SeriesSpec[] {
  const out: SeriesSpec[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ labels: { __name__: `metric_${i % 50}`, instance: `host-${Math.floor(i / 50)}`, job: 'bench' }, step, value: i % 2 ? (t) => Math.floor(t / step) * (i % 7) : (t) => Math.round(Math.sin(t / 1e7 + i) * 1e4) / 100 });
  }
  return out;
}

export default async function main(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 2000);
  const core = await createCore();
  const T0 = alignedStart();
  {
    const dir = tmp('bench-bucket');
    const bucket = fsBucket(dir);
    const specs = series(n, 15_000);
    for (let i = 0; i < 5; i++) await putBlock(bucket, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, ext: { cluster: 'bench' }, series: i < 4 ? specs : specs.slice(0, 1) });
    const samples = n * 480 * 4;
    const data = tmp('bench-data');
    const c = new Compactor({ bucket, fs, core, dataDir: data, consistencyDelayMs: 0, downsampling: false });
    const t0 = performance.now();
    const r = await c.compactAll();
    const ms = performance.now() - t0;
    console.log(`compact 4×2h → 8h: ${n} series, ${samples} samples: ${ms.toFixed(0)} ms (${(samples / ms / 1000).toFixed(2)} M samples/s), compactions=${r}`);
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
  {
    const dir = tmp('bench-bucket');
    const bucket = fsBucket(dir);
    const m = Math.max(1, Math.floor(n / 4));
    await putBlock(bucket, { minTime: T0, maxTime: T0 + 48 * HOUR, ext: { cluster: 'bench' }, series: series(m, 30_000) });
    const samples = m * 5760;
    const data = tmp('bench-data');
    const c = new Compactor({ bucket, fs, core, dataDir: data, consistencyDelayMs: 0 });
    const t0 = performance.now();
    const k = await c.downsamplePass();
    const ms = performance.now() - t0;
    console.log(`downsample raw 48h → 5m: ${m} series, ${samples} samples: ${ms.toFixed(0)} ms (${(samples / ms / 1000).toFixed(2)} M samples/s), blocks=${k}`);
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

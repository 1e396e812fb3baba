// Sidecar benchmark against a real Prometheus 2.42 holding blocks written with lib/tsdb:
//   - Prometheus's own streamed remote read (the floor: what the sidecar cannot go below),
//   - the sidecar's Series in process and over gRPC on loopback (series/s, samples/s),
//   - the shipper uploading those blocks to an in-memory bucket (MB/s),
//   - the process's peak RSS.
//
//   npm run bench -- sidecar [--series=2000] [--hours=6] [--runs=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import { labelsFromRecord } from '../lib/labels/mod.ts';
import { nodeFs } from '../lib/tsdb/nodefs.ts';
import { BlockWriter, fsBlockSink } from '../lib/tsdb/writer.ts';
import { remoteRead } from '../lib/remote/read.ts';
import { ResponseType } from '../lib/proto/prompb.ts';
import { seriesRequest, type Series } from '../lib/proto/store.ts';
import { StoreClient } from '../lib/store/client.ts';
import { dialGrpc } from '../host/server/grpc.ts';
import { startGrpc } from '../host/server/grpc.ts';
import { createLogger } from '../host/log.ts';
import { storeServices } from '../lib/store/server.ts';
import { Shipper } from '../lib/shipper/shipper.ts';
import { MemoryBucket } from '../plugins/objstore/memory/mod.ts';
import { PromClient, PromStore } from '../plugins/component/sidecar/mod.ts';
import { startPrometheus } from '../test/sidecar/harness.ts';

const H = 3600_000;

function arg(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
}

function chunkSamples(s: Series): number {
  let n = 0;
  for (const c of s.chunks) if (c.raw) n += (c.raw.data[0]! << 8) | c.raw.data[1]!;
  return n;
}

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

export default async function main(args: string[]): Promise<void> {
  const nSeries = arg(args, 'series', 2000);
  const hours = arg(args, 'hours', 6);
  const runs = arg(args, 'runs', 3);
  const core = await createCore({ backend: 'wasm' });
  const fs = nodeFs();
  const dir = mkdtempSync(join(tmpdir(), 'bench-sidecar-'));
  const blocks = join(dir, 'blocks');
  const end = Math.floor((Date.now() - 2 * H) / (2 * H)) * 2 * H;
  const start = end - hours * H;
  const t0 = performance.now();
  const ids: string[] = [];
  const labels = Array.from({ length: nSeries }, (_, i) => labelsFromRecord({ __name__: 'bench_metric', instance: `i${i % 100}`, job: `job${Math.floor(i / 100)}`, series: String(i).padStart(6, '0') }));
  const symbols = new Set<string>();
  for (const ls of labels) for (const l of ls) symbols.add(l.name).add(l.value);
  const sortedLabels = [...labels].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  const { compareLabels } = await import('../lib/labels/mod.ts');
  sortedLabels.sort(compareLabels);
  for (let b = start; b < end; b += 2 * H) {
    const w = await BlockWriter.create(fsBlockSink(fs, blocks), [...symbols].sort(), { core, minTime: b, maxTime: b + 2 * H });
    const n = (2 * H) / 15_000;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    for (const [si, ls] of sortedLabels.entries()) {
      for (let k = 0; k < n; k++) {
        t[k] = b + k * 15_000 + 1000;
        v[k] = (si % 7) * k + Math.floor(k / 10);
      }
      await w.addSeries(ls, t, v);
    }
    ids.push((await w.finish()).meta.ulid);
  }
  const totalSamples = nSeries * hours * 240;
  console.log(`fixture: ${nSeries} series x ${hours}h x 15s = ${totalSamples} samples in ${ids.length} blocks (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const prom = await startPrometheus(dir, { ext: { cluster: 'bench', replica: 'A' }, blocksDir: blocks, ids });
  try {
    const ms = [{ type: '=' as const, name: '__name__', value: 'bench_metric' }];
    const ext = { cluster: 'bench', replica: 'A' };
    // 1. Prometheus's streamed remote read alone
    for (let r = 0; r < runs; r++) {
      const a = performance.now();
      const res = await remoteRead(fetch, `${prom.url}/api/v1/read`, {
        queries: [{ startTimestampMs: start, endTimestampMs: end, matchers: ms }], acceptedResponseTypes: [ResponseType.STREAMED_XOR_CHUNKS],
      });
      let chunks = 0;
      if (res.type === 'streamed') for await (const f of res.frames) for (const s of f.chunkedSeries) chunks += s.chunks.length;
      const dt = (performance.now() - a) / 1000;
      console.log(`remote read only      run ${r + 1}: ${dt.toFixed(3)} s  ${(totalSamples / dt / 1e6).toFixed(2)} M samples/s  (${chunks} chunks)`);
    }
    // 2. the sidecar's Series in process
    const store = new PromStore({ client: new PromClient(fetch, prom.url), core, externalLabels: () => ext });
    for (let r = 0; r < runs; r++) {
      const a = performance.now();
      let series = 0;
      let samples = 0;
      for await (const x of store.series(seriesRequest({ minTime: start, maxTime: end, matchers: ms }), new AbortController().signal)) {
        if (x.type === 'series') {
          series++;
          samples += chunkSamples(x.series);
        }
      }
      const dt = (performance.now() - a) / 1000;
      console.log(`sidecar Series (proc) run ${r + 1}: ${dt.toFixed(3)} s  ${(series / dt).toFixed(0)} series/s  ${(samples / dt / 1e6).toFixed(2)} M samples/s  (${series} series, ${samples} samples)`);
    }
    // 3. over gRPC
    const grpc = await startGrpc('127.0.0.1:0', storeServices(store));
    const client = new StoreClient(dialGrpc(grpc.address));
    for (let r = 0; r < runs; r++) {
      const a = performance.now();
      let series = 0;
      let samples = 0;
      for await (const x of client.series(seriesRequest({ minTime: start, maxTime: end, matchers: ms }))) {
        const list = x.type === 'series' ? [x.series] : x.type === 'batch' ? x.batch : [];
        for (const s of list) {
          series++;
          samples += chunkSamples(s);
        }
      }
      const dt = (performance.now() - a) / 1000;
      console.log(`sidecar Series (gRPC) run ${r + 1}: ${dt.toFixed(3)} s  ${(series / dt).toFixed(0)} series/s  ${(samples / dt / 1e6).toFixed(2)} M samples/s`);
    }
    client.close();
    await grpc.close(0);
    // 4. the shipper
    const bucket = new MemoryBucket();
    const shipper = new Shipper({ bucket, fs, dir: prom.dataDir, labels: () => ext, source: 'sidecar', log: createLogger({ level: 'error' }) });
    const a = performance.now();
    const r = await shipper.sync();
    const dt = (performance.now() - a) / 1000;
    let bytes = 0;
    for await (const name of bucket.iter('', { recursive: true })) bytes += (await bucket.attributes(name)).size;
    console.log(`shipper: ${r.uploaded.length} blocks, ${(bytes / 1e6).toFixed(1)} MB in ${dt.toFixed(3)} s = ${(bytes / 1e6 / dt).toFixed(1)} MB/s`);
    console.log(`peak RSS of the bench process: ${(peakRss / 1e6).toFixed(0)} MB`);
  } finally {
    clearInterval(rssTimer);
    await prom.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

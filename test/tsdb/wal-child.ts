// Child process for the WAL tests (run with `node --expose-gc --import tsx`): memory and kill -9
// need a process of their own.
//   write  <dir> <series> <rounds> <snappy|none>  append `rounds` scrape rounds of every series
//   replay <dir>                                  open the HeadDB (replaying its WAL)
//   crash  <dir>                                  append rounds (new series keep appearing, blocks
//                                                 are cut) until killed; prints "ack <round>"
//                                                 after each acknowledged append
// write and replay print one JSON line: heap (after GC) and RSS.
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import type { Label } from '../../lib/labels/mod.ts';
import { HeadDB } from '../../lib/tsdb/head/db.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';

export const T0 = 1_700_000_000_000;
export const STEP = 15_000;

/** Series i's labels: node-exporter-like, 5 labels. */
export function seriesLabels(i: number): Label[] {
  return [
    { name: '__name__', value: i % 2 === 0 ? 'node_cpu_seconds_total' : 'node_network_receive_bytes_total' },
    { name: 'cpu', value: String(i % 16) },
    { name: 'instance', value: `host-${Math.floor(i / 64)}.example.org:9100` },
    { name: 'job', value: 'node' },
    { name: 'mode', value: `m${(i >> 4) % 8}` },
  ];
}

/** The value of series i at round k: counters with irregular increments, every fifth a gauge. */
export function valueAt(i: number, k: number): number {
  if (i % 5 === 4) return ((i * 7919 + k * 104729) % 100_003) / 8;
  return k * 3 + ((i * k) % 11) / 4 + i;
}

const gcStats = () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss, maxRss: process.resourceUsage().maxRSS * 1024 };
};

async function main(): Promise<void> {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const core = createJsCore();
  const log = createLogger({ level: 'error' });
  const fs = nodeFs();
  if (mode === 'write') {
    const [nSeries, rounds] = [Number(rest[0]), Number(rest[1])];
    const db = new HeadDB({ fs, dir: dir!, core, log, blockDuration: 1000 * 86_400_000, walCompression: rest[2] !== 'none' });
    await db.open();
    const base = gcStats();
    const labels = Array.from({ length: nSeries }, (_, i) => seriesLabels(i));
    for (let k = 0; k < rounds; k++) {
      const r = await db.append(labels.map((l, i) => ({ labels: l, samples: [{ timestamp: T0 + k * STEP, value: valueAt(i, k) }] })));
      if (r.samplesAccepted !== nSeries) throw new Error(`round ${k}: ${r.samplesAccepted} of ${nSeries} accepted`);
    }
    const m = gcStats();
    console.log(JSON.stringify({ ...m, heap: m.heap - base.heap, samples: db.head.numSamples }));
  } else if (mode === 'replay') {
    const db = new HeadDB({ fs, dir: dir!, core, log, blockDuration: 1000 * 86_400_000 });
    const base = gcStats();
    await db.open();
    const m = gcStats();
    console.log(JSON.stringify({ ...m, heap: m.heap - base.heap, samples: db.head.numSamples }));
  } else if (mode === 'crash') {
    // 20 s blocks: a cut (WAL checkpoint + segment deletion) every couple of rounds
    const db = new HeadDB({ fs, dir: dir!, core, log, blockDuration: 20_000, walSegmentBytes: 4096 });
    await db.open();
    for (let k = 0; ; k++) {
      const n = 20 + k; // a new series every round: series records keep being written
      const batch = Array.from({ length: n }, (_, i) => ({ labels: seriesLabels(i), samples: [{ timestamp: T0 + k * 5_000, value: valueAt(i, k) }] }));
      const r = await db.append(batch);
      if (r.samplesAccepted !== n) throw new Error(`round ${k}: ${r.samplesAccepted} of ${n} accepted`);
      process.stdout.write(`ack ${k}\n`);
      await db.compact();
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

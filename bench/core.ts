// Core kernels benchmark: `npm run bench -- core [--json] [--samples=N] [--reps=N] [--xor-only] [--wasm=FILE]`.
// --wasm=FILE measures another build of the kernels (e.g. a saved copy of wasm/build/core.wasm from
// before a change, to compare builds run after run).
// --ab=OLD.wasm [--rounds=N]: the XOR figures of OLD.wasm and of wasm/build/core.wasm (or --wasm=FILE)
// measured alternately in one process (old, new, new, old, ...), N rounds (default 5), each line
// (counter, gauge, and 'aligned': the counter's values on the exact interval) with the load
// average, then the median CPU ns/sample of each and the new/old ratio: the way to claim a kernel
// change on a shared machine.
// For each backend (wasm, js): XOR encode/decode ns/sample, samples/s and bytes/sample on three
// fixed datasets (15s-scrape counter with jitter, random gauge, constant; 120-sample chunks,
// >= 10M samples each), postings intersection ns per input element (equal 1M lists and 1:100),
// merge/without for reference, downsampling ns/sample, histogram chunks (EncHistogram and
// EncFloatHistogram: a 15 s counter histogram with 20 buckets in two spans, 120-sample chunks)
// encode/decode ns per histogram sample, and the WASM/TS ratio. XOR is measured per chunk
// (xorEncode/xorDecode) and batched (xorEncodeBatch/xorDecodeBatch, BATCH chunks per call).
// Times are the best of `reps` runs, measured as process CPU time (so that other processes on
// a shared machine do not count); wall-clock best is printed beside it.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createCore, createJsCore, createWasmCore, type Core, type HistogramSamples } from '../lib/core/mod.ts';

const CHUNK = 120;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type DatasetName = 'counter' | 'gauge' | 'constant' | 'aligned';
interface Dataset {
  name: DatasetName;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

function makeDataset(name: DatasetName, n: number): Dataset {
  const r = rng(name === 'counter' || name === 'aligned' ? 1 : name === 'gauge' ? 2 : 3);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  const start = 1_700_000_000_000;
  let c = 0;
  for (let i = 0; i < n; i++) {
    if (name === 'constant') {
      t[i] = start + i * 15000;
      v[i] = 42;
    } else if (name === 'aligned') {
      // the counter's values on the exact interval (delta of delta 0, as with scrapes aligned to it)
      t[i] = start + i * 15000;
      c = r() < 0.00002 ? 0 : c + Math.floor(r() * 100);
      v[i] = c;
    } else if (name === 'counter') {
      // 15 s scrape interval with +-10 ms jitter; increments 0..99, a reset every ~50k samples
      t[i] = start + i * 15000 + Math.floor(r() * 21) - 10;
      c = r() < 0.00002 ? 0 : c + Math.floor(r() * 100);
      v[i] = c;
    } else {
      t[i] = start + i * 15000 + Math.floor(r() * 21) - 10;
      v[i] = r() * 1000 - 500; // random doubles: full 52-bit mantissas
    }
  }
  return { name, t, v, n };
}

interface Timing {
  cpuMs: number;
  wallMs: number;
}

function measure(reps: number, fn: () => void): Timing {
  let cpuMs = Infinity;
  let wallMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    fn();
    const w = performance.now() - w0;
    const c = process.cpuUsage(c0);
    cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
    wallMs = Math.min(wallMs, w);
  }
  return { cpuMs, wallMs };
}

const ns = (ms: number, count: number) => (ms * 1e6) / count;
const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

interface XorResult {
  encode_ns: number;
  decode_ns: number;
  bytes_per_sample: number;
  encode_wall_ns: number;
  decode_wall_ns: number;
  /** xorEncodeBatch / xorDecodeBatch, BATCH chunks per call */
  batch_encode_ns: number;
  batch_decode_ns: number;
  batch_encode_wall_ns: number;
  batch_decode_wall_ns: number;
}

/** Chunks per batch call: a Series response's worth (e.g. 64 series × 4 chunks). */
const BATCH = 256;

function benchXor(core: Core, ds: Dataset, reps: number): XorResult {
  const nChunks = Math.floor(ds.n / CHUNK);
  const samples = nChunks * CHUNK;
  const tv: Float64Array[] = [];
  const vv: Float64Array[] = [];
  for (let k = 0; k < nChunks; k++) {
    tv.push(ds.t.subarray(k * CHUNK, (k + 1) * CHUNK));
    vv.push(ds.v.subarray(k * CHUNK, (k + 1) * CHUNK));
  }
  const chunks: Uint8Array[] = new Array(nChunks);
  const enc = measure(reps, () => {
    for (let k = 0; k < nChunks; k++) chunks[k] = core.xorEncode(tv[k], vv[k], CHUNK);
  });
  let bytes = 0;
  for (const c of chunks) bytes += c.length;
  const out = { t: new Float64Array(CHUNK), v: new Float64Array(CHUNK), n: 0 };
  let check = 0;
  const dec = measure(reps, () => {
    for (let k = 0; k < nChunks; k++) check += core.xorDecode(chunks[k], out).n;
  });
  // sanity: the last chunk decodes to the input
  for (let i = 0; i < CHUNK; i++) {
    if (out.t[i] !== tv[nChunks - 1][i] || !Object.is(out.v[i], vv[nChunks - 1][i])) throw new Error(`${core.backend} ${ds.name}: decode mismatch at ${i}`);
  }
  if (check !== samples * reps) throw new Error('decode count mismatch');

  // Batch API: BATCH chunks per call, results in the core's arena (no per-chunk allocation or copy).
  const batches: Uint8Array[][] = [];
  for (let k = 0; k < nChunks; k += BATCH) batches.push(chunks.slice(k, k + BATCH));
  const starts = new Uint32Array(BATCH);
  for (let i = 0; i < BATCH; i++) starts[i] = i * CHUNK;
  const bStarts = (m: number) => (m === BATCH ? starts : starts.subarray(0, m));
  let bBytes = 0;
  const benc = measure(reps, () => {
    bBytes = 0;
    for (let k = 0; k < nChunks; k += BATCH) {
      const m = Math.min(BATCH, nChunks - k);
      const r = core.xorEncodeBatch(ds.t.subarray(k * CHUNK, (k + m) * CHUNK), ds.v.subarray(k * CHUNK, (k + m) * CHUNK), bStarts(m), m * CHUNK);
      bBytes += r.offset[r.chunks]!;
    }
  });
  if (bBytes !== bytes) throw new Error(`${core.backend} ${ds.name}: batch encode wrote ${bBytes} bytes, per-chunk ${bytes}`);
  let bCheck = 0;
  let bLast = 0;
  const bdec = measure(reps, () => {
    for (const b of batches) {
      const r = core.xorDecodeBatch(b);
      bCheck += r.n;
      bLast = r.t[r.n - 1]!;
    }
  });
  if (bCheck !== samples * reps || bLast !== tv[nChunks - 1][CHUNK - 1]) throw new Error(`${core.backend} ${ds.name}: batch decode mismatch`);
  return {
    batch_encode_ns: ns(benc.cpuMs, samples),
    batch_decode_ns: ns(bdec.cpuMs, samples),
    batch_encode_wall_ns: ns(benc.wallMs, samples),
    batch_decode_wall_ns: ns(bdec.wallMs, samples),
    encode_ns: ns(enc.cpuMs, samples),
    decode_ns: ns(dec.cpuMs, samples),
    bytes_per_sample: bytes / samples,
    encode_wall_ns: ns(enc.wallMs, samples),
    decode_wall_ns: ns(dec.wallMs, samples),
  };
}

function sortedSubset(r: () => number, n: number, universe: number): Uint32Array {
  // n distinct values from [0, universe): Bernoulli pick with p = n/universe, trimmed/padded
  const out = new Uint32Array(n);
  let k = 0;
  const p = n / universe;
  for (let x = 0; x < universe && k < n; x++) if (r() < p) out[k++] = x;
  let x = universe;
  while (k < n) out[k++] = x++;
  return out;
}

interface PostingsResult {
  equal_ns_per_elem: number;
  skewed_ns_per_elem: number;
  merge_ns_per_elem: number;
  without_ns_per_elem: number;
}

function benchPostings(core: Core, reps: number): PostingsResult {
  const r = rng(7);
  const a = sortedSubset(r, 1_000_000, 2_000_000);
  const b = sortedSubset(r, 1_000_000, 2_000_000);
  const small = sortedSubset(r, 10_000, 2_000_000);
  let sink = 0;
  const eq = measure(reps, () => (sink += core.intersect([a, b]).length));
  const sk = measure(reps, () => (sink += core.intersect([small, a]).length));
  const mg = measure(reps, () => (sink += core.merge([a, b]).length));
  const wo = measure(reps, () => (sink += core.without(a, b).length));
  if (sink === 0) throw new Error('empty postings results');
  return {
    equal_ns_per_elem: ns(eq.cpuMs, a.length + b.length),
    skewed_ns_per_elem: ns(sk.cpuMs, small.length + a.length),
    merge_ns_per_elem: ns(mg.cpuMs, a.length + b.length),
    without_ns_per_elem: ns(wo.cpuMs, a.length + b.length),
  };
}

function benchDownsample(core: Core, ds: Dataset, reps: number): { ns_per_sample: number } {
  const per = 11520; // two days of 15 s samples per series
  const nSeries = Math.floor(ds.n / per);
  const tv: Float64Array[] = [];
  const vv: Float64Array[] = [];
  for (let s = 0; s < nSeries; s++) {
    tv.push(ds.t.subarray(s * per, (s + 1) * per));
    vv.push(ds.v.subarray(s * per, (s + 1) * per));
  }
  let windows = 0;
  const m = measure(reps, () => {
    for (let s = 0; s < nSeries; s++) windows += core.downsample(tv[s], vv[s], per, 300_000).n;
  });
  if (windows === 0) throw new Error('no windows');
  return { ns_per_sample: ns(m.cpuMs, nSeries * per) };
}

const H_BUCKETS = 20;

/** Chunks of a counter histogram: schema 3, 20 positive buckets in two spans, zero bucket, 15 s ± 10 ms. */
function makeHistChunks(float: boolean, n: number): HistogramSamples[] {
  const r = rng(float ? 11 : 12);
  const out: HistogramSamples[] = [];
  const cur = new Float64Array(H_BUCKETS);
  let zc = 0;
  let sum = 0;
  const start = 1_700_000_000_000;
  for (let k = 0; k * CHUNK < n; k++) {
    const h: HistogramSamples = {
      float,
      header: 0,
      layout: { schema: 3, zeroThreshold: 2 ** -128, positiveSpans: new Int32Array([-4, 12, 3, 8]), negativeSpans: new Int32Array(0), customValues: new Float64Array(0) },
      n: CHUNK,
      t: new Float64Array(CHUNK),
      count: new Float64Array(CHUNK),
      zeroCount: new Float64Array(CHUNK),
      sum: new Float64Array(CHUNK),
      positive: new Float64Array(CHUNK * H_BUCKETS),
      negative: new Float64Array(0),
    };
    for (let i = 0; i < CHUNK; i++) {
      const s = k * CHUNK + i;
      h.t[i] = start + s * 15000 + Math.floor(r() * 21) - 10;
      let c = 0;
      for (let j = 0; j < H_BUCKETS; j++) {
        // busier buckets in the middle, like a latency distribution
        const inc = Math.floor(r() * (j > 5 && j < 14 ? 40 : 4));
        cur[j] += float ? inc * 0.5 : inc;
        h.positive[i * H_BUCKETS + j] = cur[j];
        c += cur[j];
      }
      zc += r() < 0.1 ? 1 : 0;
      sum += r() * 50;
      h.zeroCount[i] = zc;
      h.count[i] = c + zc;
      h.sum[i] = sum;
    }
    out.push(h);
  }
  return out;
}

interface HistResult {
  encode_ns: number;
  decode_ns: number;
  bytes_per_sample: number;
}

function benchHist(core: Core, hs: HistogramSamples[], reps: number): HistResult {
  const samples = hs.length * CHUNK;
  const chunks: Uint8Array[] = new Array(hs.length);
  const enc = measure(reps, () => {
    for (let k = 0; k < hs.length; k++) chunks[k] = core.histogramEncode(hs[k]);
  });
  let bytes = 0;
  for (const c of chunks) bytes += c.length;
  let check = 0;
  let last: HistogramSamples | undefined;
  const dec = measure(reps, () => {
    for (let k = 0; k < hs.length; k++) check += (last = core.histogramDecode(chunks[k], hs[k].float)).n;
  });
  const want = hs[hs.length - 1];
  for (let i = 0; i < want.positive.length; i++) {
    if (last!.positive[i] !== want.positive[i]) throw new Error(`${core.backend}: histogram decode mismatch at bucket value ${i}`);
  }
  if (check !== samples * reps) throw new Error('histogram decode count mismatch');
  return { encode_ns: ns(enc.cpuMs, samples), decode_ns: ns(dec.cpuMs, samples), bytes_per_sample: bytes / samples };
}

/** XOR figures one A/B round takes of each build (CPU ns/sample; single = one call per chunk). */
const AB_METRICS = ['counter_batch_decode', 'counter_decode', 'counter_batch_encode', 'counter_encode', 'gauge_batch_decode', 'aligned_batch_decode'] as const;
type AbMetric = (typeof AB_METRICS)[number];

type AbSet = 'counter' | 'gauge' | 'aligned';

function abRound(core: Core, sets: Record<AbSet, { ds: Dataset; chunks: Uint8Array[] }>): Record<AbMetric, number> {
  const out = {} as Record<AbMetric, number>;
  const starts = new Uint32Array(BATCH);
  for (let i = 0; i < BATCH; i++) starts[i] = i * CHUNK;
  for (const name of ['counter', 'gauge', 'aligned'] as const) {
    const { ds, chunks } = sets[name];
    const samples = chunks.length * CHUNK;
    const batches: Uint8Array[][] = [];
    for (let k = 0; k < chunks.length; k += BATCH) batches.push(chunks.slice(k, k + BATCH));
    let check = 0;
    const bdec = measure(1, () => {
      for (const b of batches) check += core.xorDecodeBatch(b).n;
    });
    if (check !== samples) throw new Error(`${name}: batch decode count ${check}, want ${samples}`);
    out[`${name}_batch_decode` as AbMetric] = ns(bdec.cpuMs, samples);
    if (name !== 'counter') continue;
    const o = { t: new Float64Array(CHUNK), v: new Float64Array(CHUNK), n: 0 };
    out.counter_decode = ns(measure(1, () => chunks.forEach((c) => core.xorDecode(c, o))).cpuMs, samples);
    out.counter_batch_encode = ns(
      measure(1, () => {
        for (let k = 0; k < chunks.length; k += BATCH) {
          const m = Math.min(BATCH, chunks.length - k);
          core.xorEncodeBatch(ds.t.subarray(k * CHUNK, (k + m) * CHUNK), ds.v.subarray(k * CHUNK, (k + m) * CHUNK), m === BATCH ? starts : starts.subarray(0, m), m * CHUNK);
        }
      }).cpuMs,
      samples,
    );
    out.counter_encode = ns(
      measure(1, () => {
        for (let k = 0; k < chunks.length; k++) core.xorEncode(ds.t.subarray(k * CHUNK, (k + 1) * CHUNK), ds.v.subarray(k * CHUNK, (k + 1) * CHUNK), CHUNK);
      }).cpuMs,
      samples,
    );
  }
  return out;
}

async function abMain(oldFile: string, newFile: string | undefined, nSamples: number, rounds: number, json: boolean): Promise<void> {
  const log = (s: string) => console.log(s);
  const cores = {
    old: await createWasmCore({ wasmBytes: readFileSync(oldFile) }),
    new: newFile ? await createWasmCore({ wasmBytes: readFileSync(newFile) }) : await createCore({ backend: 'wasm' }),
  };
  const js = createJsCore();
  // the same chunks for both builds, from the TS twin (the oracle), allocated one by one as a
  // store's chunks are (not in one buffer)
  const sets = {} as Record<AbSet, { ds: Dataset; chunks: Uint8Array[] }>;
  for (const name of ['counter', 'gauge', 'aligned'] as const) {
    const ds = makeDataset(name, nSamples);
    const chunks: Uint8Array[] = [];
    for (let k = 0; (k + 1) * CHUNK <= ds.n; k++) chunks.push(js.xorEncode(ds.t.subarray(k * CHUNK, (k + 1) * CHUNK), ds.v.subarray(k * CHUNK, (k + 1) * CHUNK), CHUNK));
    sets[name] = { ds, chunks };
  }
  log(`core A/B — old: ${oldFile}, new: ${newFile ?? 'wasm/build/core.wasm'}; ${nSamples.toLocaleString('en')} samples per dataset, ${CHUNK}-sample chunks, ${rounds} rounds alternating; CPU ns/sample`);
  // warm-up: one whole unmeasured round each (until V8 has tiered every kernel up)
  for (const c of Object.values(cores)) abRound(c, sets);
  const res: Record<'old' | 'new', Record<AbMetric, number[]>> = { old: {} as Record<AbMetric, number[]>, new: {} as Record<AbMetric, number[]> };
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const load = loadavg()[0]!.toFixed(2);
      const m = abRound(cores[which], sets);
      for (const k of AB_METRICS) (res[which][k] ??= []).push(m[k]);
      log(`  round ${r + 1} ${which.padEnd(3)} load ${load.padStart(5)}  ${AB_METRICS.map((k) => `${k} ${fmt(m[k])}`).join('  ')}`);
    }
  }
  const median = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  log('');
  log(`  ${'median'.padEnd(22)} ${'old'.padStart(7)} ${'new'.padStart(7)}  new/old (per round: new/old of the same round)`);
  const summary: Record<string, { old: number; new: number; ratio: number; round_ratios: number[] }> = {};
  for (const k of AB_METRICS) {
    const o = median(res.old[k]);
    const n = median(res.new[k]);
    const per = res.new[k].map((x, i) => x / res.old[k][i]!);
    summary[k] = { old: o, new: n, ratio: n / o, round_ratios: per };
    log(`  ${k.padEnd(22)} ${fmt(o).padStart(7)} ${fmt(n).padStart(7)}  ${fmt(n / o, 3)}  (${per.map((x) => fmt(x, 3)).join(' ')})`);
  }
  if (json) console.log(JSON.stringify({ cpu: cpus()[0]?.model?.trim() ?? 'unknown', old: oldFile, new: newFile ?? 'wasm/build/core.wasm', rounds, ab: summary }));
}

export default async function main(args: string[]): Promise<void> {
  const json = args.includes('--json');
  // --xor-only: just the XOR tables (for iterating on the codec)
  const xorOnly = args.includes('--xor-only');
  const opt = (name: string, def: number) => {
    const a = args.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : def;
  };
  const nSamples = opt('samples', 10_000_080); // 83,334 chunks of 120
  const nHist = opt('hist-samples', 600_000); // histogram samples (of 20 buckets each) per dataset
  const reps = opt('reps', 3);
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown';
  const log = (s: string) => console.log(s);
  const wasmFile = args.find((x) => x.startsWith('--wasm='))?.slice('--wasm='.length);
  const abFile = args.find((x) => x.startsWith('--ab='))?.slice('--ab='.length);
  if (abFile) return abMain(abFile, wasmFile, nSamples, opt('rounds', 5), json);
  const wasmCore = wasmFile ? await createWasmCore({ wasmBytes: readFileSync(wasmFile) }) : await createCore({ backend: 'wasm' });
  const cores: Core[] = [wasmCore, createJsCore()];

  log(`core benchmark — CPU: ${cpu} (${cpus().length} logical CPUs), node ${process.version}${wasmFile ? `, wasm: ${wasmFile}` : ''}`);
  log(`datasets: ${nSamples.toLocaleString('en')} samples each, ${CHUNK}-sample chunks; best of ${reps}; ns are CPU time per sample (wall-clock in brackets)`);

  const xor: Record<string, Record<string, XorResult>> = { wasm: {}, js: {} };
  const down: Record<string, { ns_per_sample: number }> = {};
  for (const name of ['counter', 'gauge', 'constant'] as const) {
    const ds = makeDataset(name, nSamples);
    for (const core of cores) {
      benchXor(core, { ...ds, n: Math.min(ds.n, 240_000) }, 1); // warm-up
      xor[core.backend][name] = benchXor(core, ds, reps);
      if (name === 'counter') {
        benchDownsample(core, { ...ds, n: 11520 * 20 }, 1);
        down[core.backend] = benchDownsample(core, ds, reps);
      }
    }
  }
  log('');
  log('XOR chunks        backend  encode ns/sample      decode ns/sample      encode samples/s  decode samples/s  bytes/sample');
  for (const name of ['counter', 'gauge', 'constant'] as const) {
    for (const b of ['wasm', 'js']) {
      const x = xor[b][name];
      log(
        `  ${name.padEnd(15)} ${b.padEnd(8)} ${fmt(x.encode_ns).padStart(7)} [${fmt(x.encode_wall_ns).padStart(7)}]   ${fmt(x.decode_ns).padStart(7)} [${fmt(x.decode_wall_ns).padStart(7)}]   ${(1e9 / x.encode_ns / 1e6).toFixed(1).padStart(9)} M       ${(1e9 / x.decode_ns / 1e6).toFixed(1).padStart(9)} M       ${fmt(x.bytes_per_sample, 3)}`,
      );
    }
    for (const b of ['wasm', 'js']) {
      const x = xor[b][name];
      log(
        `  ${(name + ' batch').padEnd(15)} ${b.padEnd(8)} ${fmt(x.batch_encode_ns).padStart(7)} [${fmt(x.batch_encode_wall_ns).padStart(7)}]   ${fmt(x.batch_decode_ns).padStart(7)} [${fmt(x.batch_decode_wall_ns).padStart(7)}]   ${(1e9 / x.batch_encode_ns / 1e6).toFixed(1).padStart(9)} M       ${(1e9 / x.batch_decode_ns / 1e6).toFixed(1).padStart(9)} M`,
      );
    }
    const w = xor.wasm[name];
    const j = xor.js[name];
    log(`  ${''.padEnd(15)} WASM/TS speed-up: encode ${fmt(j.encode_ns / w.encode_ns)}x, decode ${fmt(j.decode_ns / w.decode_ns)}x; batch ${fmt(j.batch_encode_ns / w.batch_encode_ns)}x, ${fmt(j.batch_decode_ns / w.batch_decode_ns)}x`);
  }
  log(`  (batch: xorEncodeBatch/xorDecodeBatch, ${BATCH} chunks per call)`);

  if (xorOnly) {
    if (json) console.log(JSON.stringify({ cpu, xor }));
    return;
  }
  const hist: Record<string, Record<string, HistResult>> = { wasm: {}, js: {} };
  for (const kind of ['int', 'float'] as const) {
    const hs = makeHistChunks(kind === 'float', nHist);
    for (const core of cores) {
      benchHist(core, hs.slice(0, 200), 1); // warm-up
      hist[core.backend][kind] = benchHist(core, hs, reps);
    }
  }
  log('');
  log(`histogram chunks (${H_BUCKETS} buckets)  backend  encode ns/sample  decode ns/sample  bytes/sample`);
  for (const kind of ['int', 'float'] as const) {
    for (const b of ['wasm', 'js']) {
      const x = hist[b][kind];
      log(`  ${(kind === 'int' ? 'EncHistogram' : 'EncFloatHistogram').padEnd(30)} ${b.padEnd(8)} ${fmt(x.encode_ns).padStart(16)} ${fmt(x.decode_ns).padStart(17)} ${fmt(x.bytes_per_sample, 2).padStart(13)}`);
    }
    log(`  ${''.padEnd(30)} WASM/TS speed-up: encode ${fmt(hist.js[kind].encode_ns / hist.wasm[kind].encode_ns)}x, decode ${fmt(hist.js[kind].decode_ns / hist.wasm[kind].decode_ns)}x`);
  }

  const postings: Record<string, PostingsResult> = {};
  for (const core of cores) {
    benchPostings(core, 1);
    postings[core.backend] = benchPostings(core, Math.max(reps, 5));
  }
  log('');
  log('postings (ns per input element)  intersect 1M∩1M  intersect 10k∩1M  merge 1M∪1M  without 1M−1M');
  for (const b of ['wasm', 'js']) {
    const p = postings[b];
    log(`  ${b.padEnd(32)} ${fmt(p.equal_ns_per_elem).padStart(15)} ${fmt(p.skewed_ns_per_elem).padStart(17)} ${fmt(p.merge_ns_per_elem).padStart(12)} ${fmt(p.without_ns_per_elem).padStart(14)}`);
  }
  log(`  WASM/TS speed-up: intersect ${fmt(postings.js.equal_ns_per_elem / postings.wasm.equal_ns_per_elem)}x, skewed ${fmt(postings.js.skewed_ns_per_elem / postings.wasm.skewed_ns_per_elem)}x`);
  log('');
  log('downsample 5m (counter dataset, 11520-sample series)  ns/sample');
  for (const b of ['wasm', 'js']) log(`  ${b.padEnd(52)} ${fmt(down[b].ns_per_sample)}`);
  log(`  WASM/TS speed-up: ${fmt(down.js.ns_per_sample / down.wasm.ns_per_sample)}x`);

  if (json) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const xorOut = (b: string) =>
      Object.fromEntries(
        (['counter', 'gauge', 'constant'] as const).map((n) => [
          n,
          {
            encode_ns: r3(xor[b][n].encode_ns),
            decode_ns: r3(xor[b][n].decode_ns),
            batch_encode_ns: r3(xor[b][n].batch_encode_ns),
            batch_decode_ns: r3(xor[b][n].batch_decode_ns),
            bytes_per_sample: r3(xor[b][n].bytes_per_sample),
          },
        ]),
      );
    const post = (b: string) => ({ equal_ns_per_elem: r3(postings[b].equal_ns_per_elem), skewed_ns_per_elem: r3(postings[b].skewed_ns_per_elem) });
    console.log(
      JSON.stringify({
        cpu,
        xor: { wasm: xorOut('wasm'), js: xorOut('js') },
        postings: { wasm: post('wasm'), js: post('js') },
        downsample: { wasm: { ns_per_sample: r3(down.wasm.ns_per_sample) }, js: { ns_per_sample: r3(down.js.ns_per_sample) } },
        histogram: Object.fromEntries(
          ['wasm', 'js'].map((b) => [b, Object.fromEntries((['int', 'float'] as const).map((k) => [k, { encode_ns: r3(hist[b][k].encode_ns), decode_ns: r3(hist[b][k].decode_ns), bytes_per_sample: r3(hist[b][k].bytes_per_sample) }]))]),
        ),
      }),
    );
  }
}

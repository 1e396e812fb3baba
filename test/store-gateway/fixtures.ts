// Fixtures for the store gateway suites: synthetic series written as real TSDB blocks with
// lib/tsdb (raw, and downsampled AggrChunks from the core), uploaded to a bucket; a test
// ComponentContext; decoding of Series results back to samples.
import type { Bucket, ComponentContext, Core } from '../../host/index.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { labelsFromRecord, compareLabels, matchLabels, compileMatcher, type Labels, type Matcher, type Label } from '../../lib/labels/mod.ts';
import { aggrChunkSamples } from '../../lib/core/aggr.ts';
import { BlockWriter, memBlockSink } from '../../lib/tsdb/writer.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { tcpConnect } from './helpers.ts';

export interface FixtureSeries { labels: Labels; t: Float64Array; v: Float64Array }

/** Deterministic series over [t0, t1) every step ms. Some have a `path` label, some not. */
export function genSeries(n: number, t0: number, t1: number, step: number, seed = 1): FixtureSeries[] {
  const out: FixtureSeries[] = [];
  const names = ['up', 'http_requests_total', 'node_cpu_seconds_total'];
  for (let i = 0; i < n; i++) {
    const rec: Record<string, string> = { __name__: names[i % 3]!, job: i % 2 ? 'api' : 'db', instance: `i${Math.floor(i / 3) % 10}`, idx: String(i) };
    if (i % 3 === 1) rec.path = `/p${i % 4}`;
    const cnt = Math.floor((t1 - t0) / step);
    const t = new Float64Array(cnt);
    const v = new Float64Array(cnt);
    let acc = 0;
    for (let k = 0; k < cnt; k++) {
      t[k] = t0 + k * step + ((i * 7 + k * 13 + seed) % 5); // a little jitter
      acc += ((i + 1) * (k % 17)) / 10 + seed;
      v[k] = i % 3 === 0 ? (k % 2) : acc;
    }
    out.push({ labels: labelsFromRecord(rec), t, v });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

function slice(s: FixtureSeries, lo: number, hi: number): { t: Float64Array; v: Float64Array } {
  let a = 0;
  while (a < s.t.length && s.t[a]! < lo) a++;
  let b = a;
  while (b < s.t.length && s.t[b]! < hi) b++;
  return { t: s.t.subarray(a, b), v: s.v.subarray(a, b) };
}

export async function uploadFiles(bucket: Bucket, id: string, files: Map<string, Uint8Array>, opts: { skipMeta?: boolean } = {}): Promise<void> {
  for (const [rel, data] of files) if (rel !== 'meta.json') await bucket.upload(`${id}/${rel}`, data);
  if (!opts.skipMeta) await bucket.upload(`${id}/meta.json`, files.get('meta.json')!);
}

/** Writes the part of each series inside [minTime, maxTime) as a raw block and uploads it. */
export async function writeRawBlock(bucket: Bucket, core: Core, series: FixtureSeries[], minTime: number, maxTime: number, ext: Record<string, string>, opts: { sources?: string[]; ulid?: string } = {}): Promise<string> {
  const symbols = new Set<string>();
  for (const s of series) for (const l of s.labels) { symbols.add(l.name); symbols.add(l.value); }
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, symbols, { core, minTime, maxTime, ulid: opts.ulid, thanos: { labels: ext, downsample: { resolution: 0 }, source: 'test' }, compaction: opts.sources ? { level: 2, sources: opts.sources } : undefined });
  for (const s of series) {
    const p = slice(s, minTime, maxTime);
    if (p.t.length) await w.addSeries(s.labels, p.t, p.v, p.t.length);
  }
  const { meta } = await w.finish();
  await uploadFiles(bucket, meta.ulid, sink.files);
  return meta.ulid;
}

function uvarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}

/** Thanos AggrChunk record: per aggregate uvarint(len) + encoding byte + XOR bytes. */
export function encodeAggrChunk(parts: Array<Uint8Array | undefined>): Uint8Array {
  const bytes: number[] = [];
  for (const p of parts) {
    if (!p) { bytes.push(0); continue; }
    bytes.push(...uvarint(p.length), 1);
    for (const b of p) bytes.push(b);
  }
  return new Uint8Array(bytes);
}

export interface AggrTruth { labels: Labels; chunks: Array<{ minTime: number; maxTime: number; aggr: Array<{ t: Float64Array; v: Float64Array }> }> }

/** Writes a downsampled block (resolution res) of the series inside [minTime, maxTime). Returns the id and what it wrote. */
export async function writeDownsampledBlock(bucket: Bucket, core: Core, series: FixtureSeries[], minTime: number, maxTime: number, ext: Record<string, string>, res: number, omit: number[] = []): Promise<{ id: string; truth: AggrTruth[] }> {
  const symbols = new Set<string>();
  for (const s of series) for (const l of s.labels) { symbols.add(l.name); symbols.add(l.value); }
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, symbols, { core, minTime, maxTime, thanos: { labels: ext, downsample: { resolution: res }, source: 'compactor' } });
  const truth: AggrTruth[] = [];
  for (const s of series) {
    const p = slice(s, minTime, maxTime);
    if (!p.t.length) continue;
    const a = core.downsample(p.t, p.v, p.t.length, res);
    const chunks = [];
    const tc: AggrTruth['chunks'] = [];
    for (let k = 0; k < a.chunks; k++) {
      const cs = aggrChunkSamples(a, k);
      const parts = cs.aggr.map((x, i) => (omit.includes(i) ? undefined : core.xorEncode(x.t, x.v, x.n)));
      chunks.push({ minTime: cs.minTime, maxTime: cs.maxTime, encoding: 0xff, data: encodeAggrChunk(parts), samples: cs.aggr[0].n });
      tc.push({ minTime: cs.minTime, maxTime: cs.maxTime, aggr: cs.aggr.map((x) => ({ t: x.t.slice(0, x.n), v: x.v.slice(0, x.n) })) });
    }
    await w.addSeriesChunks(s.labels, chunks);
    truth.push({ labels: s.labels, chunks: tc });
  }
  const { meta } = await w.finish();
  await uploadFiles(bucket, meta.ulid, sink.files);
  return { id: meta.ulid, truth };
}

/** Expected result of a raw Series query: matching series with ext labels, samples in [mint, maxt]. */
export function expected(series: FixtureSeries[], ext: Record<string, string>, ms: Matcher[], mint: number, maxt: number): Map<string, { t: number[]; v: number[] }> {
  const out = new Map<string, { t: number[]; v: number[] }>();
  const cms = ms.map((m) => compileMatcher(m));
  for (const s of series) {
    const full = labelsFromRecord({ ...Object.fromEntries(s.labels.map((l) => [l.name, l.value])), ...ext });
    if (!matchLabels(cms, full)) continue;
    const t: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < s.t.length; i++) if (s.t[i]! >= mint && s.t[i]! <= maxt) { t.push(s.t[i]!); v.push(s.v[i]!); }
    if (t.length) out.set(key(full), { t, v });
  }
  return out;
}

export function key(ls: readonly Label[]): string {
  return ls.map((l) => `${l.name}=${l.value}`).join(',');
}

/** Decodes raw chunks of Series results into samples trimmed to [mint, maxt]. */
export function decodeResult(core: Core, series: Array<{ labels: Label[]; chunks: Array<{ minTime: number; maxTime: number; raw?: { type: number; data: Uint8Array } }> }>, mint: number, maxt: number): Map<string, { t: number[]; v: number[] }> {
  const out = new Map<string, { t: number[]; v: number[] }>();
  for (const s of series) {
    const t: number[] = [];
    const v: number[] = [];
    for (const c of s.chunks) {
      if (!c.raw) throw new Error('chunk without raw data');
      if (c.raw.type !== 0) throw new Error(`unexpected chunk type ${c.raw.type}`);
      const d = core.xorDecode(c.raw.data);
      for (let i = 0; i < d.n; i++) if (d.t[i]! >= mint && d.t[i]! <= maxt) { t.push(d.t[i]!); v.push(d.v[i]!); }
    }
    if (out.has(key(s.labels))) throw new Error(`series ${key(s.labels)} returned twice`);
    out.set(key(s.labels), { t, v });
  }
  return out;
}

export interface TestCtx extends ComponentContext { ready: boolean; registry: Registry; logs: string[] }

export function testCtx(bucket: Bucket, core: Core, dataDir?: string): TestCtx {
  const registry = new Registry();
  const logs: string[] = [];
  const ctx: TestCtx = {
    pluginId: 'component:store',
    fetch: (input, init) => fetch(input, init),
    listen: async () => { throw new Error('listen not available in tests'); },
    connect: tcpConnect,
    grpcDial: () => { throw new Error('grpcDial not available in tests'); },
    fs: nodeFs(),
    env: { get: (n) => process.env[n] },
    log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
    metrics: registry,
    bucket: async () => bucket,
    core,
    setReady: (r) => { ctx.ready = r; },
    dataDir,
    ready: false,
    registry,
    logs,
  };
  return ctx;
}

// Native histograms in blocks: a block written by a real Prometheus 2.42 (fixtures/histogram-block-242,
// scraped from our exporter) read by our block reader sample for sample; two overlapping blocks
// holding its histogram series merged by our compactor primitive (histogram chunks re-encoded
// through the chunk appender) and read back by our reader, by promtool and by Prometheus 2.42 itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseDeleteConfig, rewriteBlock } from '../../lib/compact/rewrite.ts';
import { verifyBlockIndex } from '../../lib/compact/verify.ts';
import { parseBucketMeta } from '../../lib/tsdb/meta.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlockReader, BlockWriter, dumpSamples, fsBlockFiles, fsBlockSink, memBlockFiles, memBlockSink, mergeBlocks, type SeriesSamples } from '../../lib/tsdb/mod.ts';
import { integerHistogramString } from '../../lib/tsdb/dump.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM, ENC_XOR } from '../../lib/tsdb/chunks.ts';
import { formatLabels, type Labels } from '../../lib/labels/mod.ts';
import { isStaleNaN } from '../../lib/core/mod.ts';
import { FloatHistogram } from '../../lib/histogram/float.ts';
import { histogramJSON } from '../../lib/histogram/json.ts';
import { servedCounter, servedHistograms } from './fixtures/histogram-block-242/generate.ts';
import { fs, core, tmp, promtool, promtoolDump } from './helpers.ts';
import { freePort } from '../harness/ports.ts';
import { commands as toolCommands } from '../../plugins/component/tools/mod.ts';
import type { ComponentContext } from '../../host/index.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/histogram-block-242/', import.meta.url));
const BLOCK_ID = readdirSync(FIXTURE).find((n) => /^[0-9A-Z]{26}$/.test(n))!;
const work = tmp('histblock');
const closers: Array<() => unknown> = [];
test.after(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(work, { recursive: true, force: true });
});

const ALL = [{ type: '=~' as const, name: '__name__', value: 'test_.*' }];

async function open(dir: string): Promise<BlockReader> {
  return BlockReader.open(fsBlockFiles(fs, dir), { core });
}

async function samples(b: BlockReader): Promise<SeriesSamples[]> {
  const out: SeriesSamples[] = [];
  for await (const s of b.select(ALL)) out.push(s);
  return out;
}

function name(ls: Labels): string {
  return formatLabels(ls.filter((l) => l.name !== 'instance' && l.name !== 'job'));
}

/** What the exporter served for this series at scrape k, as Prometheus's iterator reports it. */
interface Expected {
  schema: number; zeroThreshold: number; zeroCount: number; count: number; sum: number;
  positiveSpans: { offset: number; length: number }[]; negativeSpans: { offset: number; length: number }[];
  positiveBuckets: number[]; negativeBuckets: number[];
}

function expectHistogram(series: string, k: number): Expected | undefined {
  const h = servedHistograms(k).find((x) => formatLabels([{ name: '__name__', value: x.name }, ...Object.entries(x.labels).map(([n, v]) => ({ name: n, value: v }))]) === series);
  if (!h) return undefined;
  return {
    schema: h.schema, zeroThreshold: h.zeroThreshold, zeroCount: h.zeroCount, count: h.count, sum: h.sum,
    positiveSpans: h.positiveSpans, negativeSpans: h.negativeSpans, positiveBuckets: h.positive, negativeBuckets: h.negative,
  };
}

/** The histogram without zero buckets a chunk recode added, as {spans, buckets} of absolute counts. */
function nonZeroBuckets(spans: readonly { offset: number; length: number }[], buckets: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  let idx = 0;
  let j = 0;
  for (const s of spans) {
    idx += s.offset;
    for (let i = 0; i < s.length; i++, idx++, j++) if (buckets[j] !== 0) out.push([idx, buckets[j]!]);
  }
  return out;
}

function assertSameHistogram(got: FloatHistogram, want: NonNullable<ReturnType<typeof expectHistogram>>, what: string): void {
  for (const f of ['schema', 'zeroThreshold', 'zeroCount', 'count', 'sum'] as const) assert.is(got[f], want[f], `${what}: ${f}`);
  assert.equal(nonZeroBuckets(got.positiveSpans, got.positiveBuckets), nonZeroBuckets(want.positiveSpans, want.positiveBuckets), `${what}: positive buckets`);
  assert.equal(nonZeroBuckets(got.negativeSpans, got.negativeBuckets), nonZeroBuckets(want.negativeSpans, want.negativeBuckets), `${what}: negative buckets`);
}

/** Every sample of the fixture's test_* series is what the exporter served (k = index + 1), then a stale marker. */
function assertServed(series: SeriesSamples[], what: string): void {
  assert.equal(series.map((s) => name(s.labels)), [
    'test_counter_total', 'test_float_hist', 'test_gauge_hist', 'test_hist{case="grow"}', 'test_hist{case="neg"}', 'test_hist{case="vanish"}',
  ], what);
  for (const s of series) {
    const id = name(s.labels);
    const scrapes = id.includes('vanish') ? 15 : 30;
    assert.is(s.n, scrapes + 1, `${what} ${id}: samples`);
    for (let i = 0; i < scrapes; i++) {
      if (id === 'test_counter_total') {
        assert.not.ok(s.h?.[i], `${what} ${id}[${i}] is a float`);
        assert.is(s.v[i], servedCounter(i + 1));
        continue;
      }
      const h = s.h?.[i];
      assert.ok(h, `${what} ${id}[${i}] is a histogram`);
      assertSameHistogram(h!, expectHistogram(id, i + 1)!, `${what} ${id}[${i}]`);
      assert.is(h!.counterResetHint, id === 'test_gauge_hist' ? 'gauge' : h!.counterResetHint === 'unknown' ? 'unknown' : 'not_reset');
    }
    const last = s.n - 1;
    assert.ok(s.h ? isStaleNaN(s.h[last]!.sum) : isStaleNaN(s.v[last]!), `${what} ${id}: ends with a stale marker`);
  }
}

test('Prometheus 2.42 histogram chunks (integer, float, gauge; recoded layout, reset, stale marker) read sample for sample', async () => {
  const b = await open(join(FIXTURE, BLOCK_ID));
  const kinds = new Map<string, number[]>();
  for await (const s of b.selectChunks(ALL)) kinds.set(name(s.labels), s.chunks.map((c) => c.encoding));
  assert.equal(kinds.get('test_float_hist'), [ENC_FLOAT_HISTOGRAM]);
  assert.equal(kinds.get('test_hist{case="grow"}'), [ENC_HISTOGRAM, ENC_HISTOGRAM], 'the reset at scrape 20 cut a chunk');
  assert.equal(kinds.get('test_counter_total'), [ENC_XOR]);
  const got = await samples(b);
  assertServed(got, 'fixture');
  // the reset: scrape 20 starts the second chunk, whose first sample's hint is unknown (Prometheus 3.x iterator)
  const grow = got.find((s) => name(s.labels) === 'test_hist{case="grow"}')!;
  assert.is(grow.h![19]!.counterResetHint, 'unknown');
  assert.is(grow.h![18]!.counterResetHint, 'not_reset');
  // intHist tells integer chunks from float ones
  assert.is(grow.intHist![0], 1);
  assert.is(got.find((s) => name(s.labels) === 'test_float_hist')!.intHist![0], 0);
});

test('tools tsdb dump: float lines as promtool 2.42 prints them; histogram lines as promtool 3.x (String())', async () => {
  const b = await open(join(FIXTURE, BLOCK_ID));
  let out = '';
  await dumpSamples([b], { matchers: ALL }, (x) => void (out += x));
  const lines = out.trimEnd().split('\n');
  assert.is(lines.length, 31 * 5 + 16);
  // promtool 2.42 stops a series at its first histogram sample, so it prints the float series only
  const dir = join(work, 'dump-src');
  mkdirSync(dir);
  cpSync(join(FIXTURE, BLOCK_ID), join(dir, BLOCK_ID), { recursive: true });
  const floats = lines.filter((l) => !/\} \{count:/.test(l));
  assert.is(floats.join('\n') + '\n', promtoolDump(dir, '--match', '{__name__=~"test_.*"}'));
  // promtool 3.x: fmt.Printf("%s %s %d", labels, h.String(), t); integer chunks print Histogram.String (%d counts)
  const t0 = b.meta.minTime;
  const lbl = (rest: string) => `{__name__="test_${rest}instance="127.0.0.1:26524", job="hist"}`;
  assert.ok(lines.includes(`${lbl('float_hist", ')} {count:1.3333333333333333, sum:2.2, [-0.0009765625,0.0009765625]:0.75, (0.25,1]:0.25, (4,16]:0.3333333333333333} ${t0}`));
  assert.ok(lines.includes(`${lbl('hist", case="vanish", ')} {count:3, sum:1, (1,1.414213562373095]:1, (1.414213562373095,2]:2} ${t0}`));
  assert.ok(lines.some((l) => l.startsWith(`${lbl('hist", case="vanish", ')} {count:0, sum:NaN} `)), 'the stale marker');
  // the same through `thanos tools tsdb dump`
  const c = { out: '', err: '', fs, core, stdout: { write: (x: string) => void (c.out += x) }, stderr: { write: (x: string) => void (c.err += x) } };
  const dump = toolCommands.find((x) => x.name === 'tsdb dump')!;
  assert.is(await dump.run(c as unknown as ComponentContext, [join(FIXTURE, BLOCK_ID), '--match', '{__name__=~"test_.*"}']), 0, c.err);
  assert.is(c.out, out);
  // counts of integer histograms print as integers where %g would switch to an exponent
  const big = new FloatHistogram({ schema: 0, count: 2e6, sum: 1, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [2e6] });
  assert.is(integerHistogramString(big), '{count:2000000, sum:1, (0.5,1]:2000000}');
  assert.is(big.toString(), '{count:2e+06, sum:1, (0.5,1]:2e+06}');
});

test('bucket rewrite deletes an interval of a histogram series (the rest re-encoded as it was); verify finds no issue', async () => {
  const src = await open(join(FIXTURE, BLOCK_ID));
  const before = await samples(src);
  const neg = before.find((s) => name(s.labels) === 'test_hist{case="neg"}')!;
  const reqs = parseDeleteConfig(`- matchers: '{case="neg"}'\n  intervals: [{mint: ${neg.t[5]}, maxt: ${neg.t[9]}}]\n`);
  const out = join(work, 'rewrite');
  mkdirSync(out);
  const r = await rewriteBlock(src, reqs, fsBlockSink(fs, out), core);
  assert.is(r.samplesDeleted, 5);
  assert.is(r.seriesChanged, 1);
  const after = await samples(await open(join(out, r.meta.ulid)));
  const got = after.find((s) => name(s.labels) === 'test_hist{case="neg"}')!;
  const keep = Array.from({ length: neg.n }, (_, i) => i).filter((i) => i < 5 || i > 9);
  assert.equal(Array.from(got.t), keep.map((i) => neg.t[i]));
  keep.forEach((i, j) => assert.ok(Number.isNaN(neg.h![i]!.sum) ? Number.isNaN(got.h![j]!.sum) : got.h![j]!.equals(neg.h![i]!), `sample ${i}`));
  assert.is(got.intHist![0], 1, 'still an integer histogram');
  assert.equal(after.filter((s) => s !== got).map((s) => s.n), before.filter((s) => s !== neg).map((s) => s.n));
  const bucket = new MemoryBucket();
  for (const rel of ['index', 'chunks/000001', 'meta.json']) await bucket.upload(`${r.meta.ulid}/${rel}`, readFileSync(join(out, r.meta.ulid, rel)));
  assert.equal(await verifyBlockIndex(bucket, core, parseBucketMeta(readFileSync(join(out, r.meta.ulid, 'meta.json')), r.meta.ulid)), []);
});

test('re-encoding the samples writes Prometheus 2.42\'s chunk bytes (3.x counter-reset headers on later chunks)', async () => {
  const src = await open(join(FIXTURE, BLOCK_ID));
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, src.index.symbols, { core, minTime: src.meta.minTime, maxTime: src.meta.maxTime });
  for await (const s of src.select(ALL)) await w.addMixedSeries(s.labels, s);
  await w.finish();
  const ours = await BlockReader.open(memBlockFiles(sink.files), { core });
  const theirs = new Map<string, Uint8Array[]>();
  for await (const s of src.selectChunks(ALL)) theirs.set(name(s.labels), s.chunks.map((c) => c.data));
  const headers: Record<string, number[]> = {};
  for await (const s of ours.selectChunks(ALL)) {
    const want = theirs.get(name(s.labels))!;
    assert.is(s.chunks.length, want.length, name(s.labels));
    s.chunks.forEach((c, i) => {
      const a = Buffer.from(c.data);
      const b = Buffer.from(want[i]!);
      if (i > 0 && c.encoding !== ENC_XOR) {
        // Prometheus 2.42 wrote no counter-reset header (0); 3.x's appender rules set it
        headers[name(s.labels)] = [...(headers[name(s.labels)] ?? []), a[2]!];
        assert.is(b[2], 0);
        a[2] = 0;
      }
      assert.ok(a.equals(b), `${name(s.labels)} chunk ${i}: ${a.toString('hex')} != ${b.toString('hex')}`);
    });
  }
  assert.equal(headers, { 'test_gauge_hist': [0x40], 'test_hist{case="grow"}': [0x80] }, 'after a gauge chunk a stale marker starts a "not a reset" chunk; a reset starts a "counter reset" chunk');
});

/** A block holding every other sample (from `parity`) of the fixture's series, written by our writer. */
async function halfBlock(src: BlockReader, parity: number, dir: string): Promise<string> {
  const series = await samples(src);
  const symbols = new Set<string>();
  for (const s of series) for (const l of s.labels) symbols.add(l.name), symbols.add(l.value);
  const w = await BlockWriter.create(fsBlockSink(fs, dir), symbols, { core, minTime: src.meta.minTime, maxTime: src.meta.maxTime });
  for (const s of series) {
    const keep = Array.from({ length: s.n }, (_, i) => i).filter((i) => i % 2 === parity || i === s.n - 1);
    await w.addMixedSeries(s.labels, {
      t: Float64Array.from(keep, (i) => s.t[i]!), v: Float64Array.from(keep, (i) => s.v[i]!), n: keep.length,
      h: s.h ? keep.map((i) => s.h![i]) : undefined, intHist: s.intHist ? Uint8Array.from(keep, (i) => s.intHist![i]!) : undefined,
    });
  }
  return (await w.finish()).location;
}

let mergedDir = '';

test('two overlapping blocks of histogram series merge into every sample once (re-encoded chunks)', async () => {
  const src = await open(join(FIXTURE, BLOCK_ID));
  const parts = join(work, 'parts');
  mkdirSync(parts);
  const a = await open(await halfBlock(src, 0, parts));
  const b = await open(await halfBlock(src, 1, parts));
  const halves = [...(await samples(a)), ...(await samples(b))];
  const total = halves.reduce((x, s) => x + s.n, 0);
  const neededBoth = (await samples(src)).reduce((x, s) => x + s.n, 0);
  assert.is(total, neededBoth + 6, 'each half holds every other sample (the stale marker in both)');
  const out = join(work, 'merged');
  mkdirSync(out);
  const meta = await mergeBlocks([a, b], fsBlockSink(fs, out), core);
  mergedDir = join(out, meta.ulid);
  const merged = await open(mergedDir);
  assertServed(await samples(merged), 'merged');
  assert.is(meta.stats?.numSamples, neededBoth);
  const kinds = new Map<string, number[]>();
  for await (const s of merged.selectChunks(ALL)) kinds.set(name(s.labels), s.chunks.map((c) => c.encoding));
  assert.equal(kinds.get('test_float_hist'), [ENC_FLOAT_HISTOGRAM]);
  assert.equal(kinds.get('test_hist{case="neg"}'), [ENC_HISTOGRAM], 'integer histograms stay integer');
  assert.equal(kinds.get('test_hist{case="grow"}'), [ENC_HISTOGRAM, ENC_HISTOGRAM], 'the appender cuts at the counter reset');
});

test('promtool 2.42 reads the merged block: its float samples as in the source block, analyze accepts it', () => {
  assert.ok(mergedDir, 'merge test ran');
  const theirs = join(work, 'promtool-src');
  const ours = join(work, 'promtool-merged');
  mkdirSync(theirs);
  mkdirSync(ours);
  cpSync(join(FIXTURE, BLOCK_ID), join(theirs, BLOCK_ID), { recursive: true });
  cpSync(mergedDir, join(ours, mergedDir.slice(mergedDir.lastIndexOf('/') + 1)), { recursive: true });
  // promtool 2.42 prints float samples only (it stops a series at its first histogram sample)
  const want = promtoolDump(theirs, '--match', '{__name__=~"test_.*"}');
  assert.ok(want.includes('test_counter_total'), 'promtool prints the float counter');
  assert.is(promtoolDump(ours, '--match', '{__name__=~"test_.*"}'), want);
  const r = promtool('tsdb', 'analyze', ours);
  assert.is(r.code, 0, r.stderr);
});

async function promAnswer(dir: string, at: number): Promise<unknown> {
  const data = join(work, `prom-${dir.slice(dir.lastIndexOf('/') + 1)}`);
  mkdirSync(join(data, 'db'), { recursive: true });
  cpSync(dir, join(data, 'db', dir.slice(dir.lastIndexOf('/') + 1)), { recursive: true });
  writeFileSync(join(data, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  const port = await freePort();
  const proc: ChildProcess = spawn('/usr/bin/prometheus', [
    `--config.file=${join(data, 'prometheus.yml')}`, `--storage.tsdb.path=${join(data, 'db')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=100y', '--enable-feature=native-histograms',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  const exited = new Promise((r) => proc.once('exit', r));
  closers.push(async () => {
    proc.kill('SIGTERM');
    await exited;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`prometheus did not become ready: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // one query per metric name: Prometheus 2.42 answers `{__name__=~"test_.*"}[1h]` with only some of
  // the series once integer and float histograms are mixed in the selection
  const result: unknown[] = [];
  for (const m of ['test_counter_total', 'test_float_hist', 'test_gauge_hist', 'test_hist']) {
    const q = encodeURIComponent(`${m}[1h]`);
    const j = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${q}&time=${at / 1000}`)).json()) as { status: string; data: { result: unknown[] } };
    assert.is(j.status, 'success');
    result.push(...j.data.result);
  }
  proc.kill('SIGTERM');
  await exited;
  return result;
}

test('Prometheus 2.42 answers the same raw histogram samples from the merged block as from its own', async () => {
  assert.ok(mergedDir, 'merge test ran');
  const at = (await open(join(FIXTURE, BLOCK_ID))).meta.maxTime;
  const want = await promAnswer(join(FIXTURE, BLOCK_ID), at);
  const got = await promAnswer(mergedDir, at);
  assert.is((want as unknown[]).length, 6, 'every series');
  assert.equal(got, want);
  // and our reader's samples, in the API's JSON (lib/histogram/json.ts), are Prometheus's answer
  const ours = (await samples(await open(join(FIXTURE, BLOCK_ID)))).map((s) => {
    const metric = Object.fromEntries(s.labels.map((l) => [l.name, l.value]));
    const live = Array.from({ length: s.n }, (_, i) => i).filter((i) => !isStaleNaN(s.h?.[i] ? s.h[i]!.sum : s.v[i]!));
    return s.h
      ? { metric, histograms: live.map((i) => [s.t[i]! / 1000, histogramJSON(s.h![i]!)]) }
      : { metric, values: live.map((i) => [s.t[i]! / 1000, String(s.v[i])]) };
  });
  const theirs = (want as { metric: Record<string, string> }[]).slice().sort((a, b) => (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1));
  assert.equal(ours.sort((a, b) => (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1)), theirs);
});

test.run();

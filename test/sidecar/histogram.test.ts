// The sidecar's StoreAPI with native histograms, against a fake Prometheus remote-read endpoint on
// loopback: STREAMED_XOR_CHUNKS frames with histogram / float-histogram chunks (Prometheus's chunk
// encodings 2 and 3) come out as thanos.Chunk HISTOGRAM (1) / FLOAT_HISTOGRAM (2) with the same
// bytes; a SAMPLES answer with `histograms` is chunked into histogram chunks (floats and histograms
// of one series in time order); an invalid histogram in a SAMPLES answer fails the call (Internal).
// The real Prometheus 2.42 peer is in test/receive/histogram-peer.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { GrpcError, GrpcStatus } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsFromRecord, labelsToRecord } from '../../lib/labels/mod.ts';
import { PromChunkEncoding, type ChunkedReadResponse, type Histogram, type ReadResponse } from '../../lib/proto/prompb.ts';
import { ChunkEncoding, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { encodeChunkedFrame, encodeSamplesResponseBody, STREAMED_CONTENT_TYPE } from '../../lib/remote/read.ts';
import { PromClient, PromStore } from '../../lib/sidecar/mod.ts';
import { ENC_FLOAT_HISTOGRAM, ENC_HISTOGRAM } from '../../lib/tsdb/chunks.ts';
import { encodeHistogramRun, headHistogramFromPrompb, histogramChunkSamples, type HeadHistogram } from '../../lib/tsdb/head/histogram.ts';
import { freePort } from '../harness/ports.ts';

const core = createJsCore();
const EXT = { cluster: 'c1', replica: 'A' };
const servers: Server[] = [];
test.after(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

/** A fake Prometheus answering every remote read with `answer`. */
async function fakeProm(answer: { streamed: ChunkedReadResponse[] } | { samples: ReadResponse }): Promise<PromStore> {
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if ('streamed' in answer) {
        res.writeHead(200, { 'Content-Type': STREAMED_CONTENT_TYPE });
        for (const f of answer.streamed) res.write(encodeChunkedFrame(f));
        res.end();
      } else {
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' });
        res.end(encodeSamplesResponseBody(answer.samples));
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  servers.push(srv);
  return new PromStore({ client: new PromClient(fetch, `http://127.0.0.1:${port}`), core, externalLabels: () => EXT });
}

async function series(store: PromStore): Promise<Series[]> {
  const out: Series[] = [];
  for await (const r of store.series(seriesRequest({ minTime: 0, maxTime: 10_000_000, matchers: [{ type: '=~', name: '__name__', value: '.+' }] }), new AbortController().signal)) {
    if (r.type === 'series') out.push(r.series);
  }
  return out;
}

function hist(t: number, buckets: number[], o: Partial<Histogram> = {}): Histogram {
  const count = buckets.reduce((a, b) => a + b, 0);
  return {
    countInt: count, sum: count / 4, schema: 1, zeroThreshold: 0, zeroCountInt: 0,
    negativeSpans: [], negativeDeltas: [], negativeCounts: [],
    positiveSpans: [{ offset: 2, length: buckets.length }], positiveDeltas: buckets.map((b, i) => b - (i ? buckets[i - 1]! : 0)), positiveCounts: [],
    resetHint: 0, timestamp: t, customValues: [], ...o,
  };
}
const floatHist = (t: number, counts: number[]): Histogram => ({
  ...hist(t, []), countInt: undefined, zeroCountInt: undefined, countFloat: counts.reduce((a, b) => a + b, 0), zeroCountFloat: 0, sum: 1.5,
  positiveSpans: [{ offset: 0, length: counts.length }], positiveDeltas: [], positiveCounts: counts,
});
const head = (hs: Histogram[]): HeadHistogram[] => hs.map((h) => headHistogramFromPrompb(h) as HeadHistogram);

/** "t kind count sum [buckets]" of every sample in the series' chunks (floats "t f v"). */
function contents(s: Series): string[] {
  const out: string[] = [];
  for (const c of s.chunks) {
    const raw = c.raw!;
    if (raw.type === ChunkEncoding.XOR) {
      const d = core.xorDecode(raw.data);
      for (let i = 0; i < d.n; i++) out.push(`${d.t[i]} f ${d.v[i]}`);
      continue;
    }
    const enc = raw.type === ChunkEncoding.HISTOGRAM ? ENC_HISTOGRAM : ENC_FLOAT_HISTOGRAM;
    assert.ok(raw.type === ChunkEncoding.HISTOGRAM || raw.type === ChunkEncoding.FLOAT_HISTOGRAM, `encoding ${raw.type}`);
    for (const h of histogramChunkSamples(core, raw.data, enc)) out.push(`${h.t} ${h.float ? 'fh' : 'h'} c=${h.count} s=${h.sum} p=[${Array.from(h.positive)}]`);
  }
  return out;
}

test('STREAMED_XOR_CHUNKS: histogram chunks pass through with thanos.Chunk encodings HISTOGRAM / FLOAT_HISTOGRAM, bytes unchanged', async () => {
  const ih = encodeHistogramRun(core, head([hist(1000, [1, 2]), hist(2000, [2, 3])])).chunks[0]!;
  const fh = encodeHistogramRun(core, head([floatHist(1000, [0.5, 0.25])])).chunks[0]!;
  const store = await fakeProm({
    streamed: [
      { chunkedSeries: [{ labels: [...labelsFromRecord({ __name__: 'h_int' })], chunks: [{ minTimeMs: 1000, maxTimeMs: 2000, type: PromChunkEncoding.HISTOGRAM, data: ih.data }] }], queryIndex: 0 },
      { chunkedSeries: [{ labels: [...labelsFromRecord({ __name__: 'h_flt' })], chunks: [{ minTimeMs: 1000, maxTimeMs: 1000, type: PromChunkEncoding.FLOAT_HISTOGRAM, data: fh.data }] }], queryIndex: 0 },
    ],
  });
  const got = await series(store);
  assert.equal(got.map((s) => labelsToRecord(s.labels).__name__), ['h_flt', 'h_int']);
  const flt = got[0]!;
  const int = got[1]!;
  assert.equal(labelsToRecord(int.labels), { __name__: 'h_int', ...EXT });
  assert.equal(int.chunks.map((c) => c.raw!.type), [ChunkEncoding.HISTOGRAM]);
  assert.equal(flt.chunks.map((c) => c.raw!.type), [ChunkEncoding.FLOAT_HISTOGRAM]);
  assert.equal(Array.from(int.chunks[0]!.raw!.data), Array.from(ih.data));
  assert.equal(contents(int), ['1000 h c=3 s=0.75 p=[1,2]', '2000 h c=5 s=1.25 p=[2,3]']);
  assert.equal(contents(flt), ['1000 fh c=0.75 s=1.5 p=[0.5,0.25]']);
});

test('SAMPLES: histograms become histogram chunks, floats and histograms of one series in time order, a counter reset cuts a chunk', async () => {
  const store = await fakeProm({
    samples: {
      results: [{
        timeseries: [
          { labels: [...labelsFromRecord({ __name__: 'mixed' })], samples: [{ timestamp: 1000, value: 1 }, { timestamp: 4000, value: 4 }], histograms: [hist(2000, [1]), hist(3000, [3]), floatHist(3500, [0.5])] },
          { labels: [...labelsFromRecord({ __name__: 'resets' })], samples: [], histograms: [hist(1000, [5, 5]), hist(2000, [6, 6]), hist(3000, [1, 1])] },
        ],
      }],
    },
  });
  const got = await series(store);
  const by = Object.fromEntries(got.map((s) => [labelsToRecord(s.labels).__name__, s]));
  assert.equal(by.mixed!.chunks.map((c) => c.raw!.type), [ChunkEncoding.XOR, ChunkEncoding.HISTOGRAM, ChunkEncoding.FLOAT_HISTOGRAM, ChunkEncoding.XOR]);
  assert.equal(contents(by.mixed!), ['1000 f 1', '2000 h c=1 s=0.25 p=[1]', '3000 h c=3 s=0.75 p=[3]', '3500 fh c=0.5 s=1.5 p=[0.5]', '4000 f 4']);
  assert.equal(by.resets!.chunks.map((c) => c.raw!.type), [ChunkEncoding.HISTOGRAM, ChunkEncoding.HISTOGRAM]);
  assert.is(by.resets!.chunks[1]!.raw!.data[2]! & 0xc0, 0x80, 'the chunk after the reset has the counter-reset header');
  assert.equal(contents(by.resets!), ['1000 h c=10 s=2.5 p=[5,5]', '2000 h c=12 s=3 p=[6,6]', '3000 h c=2 s=0.5 p=[1,1]']);
});

test('SAMPLES: an invalid histogram from Prometheus fails the call with Internal, naming it', async () => {
  const store = await fakeProm({
    samples: { results: [{ timeseries: [{ labels: [...labelsFromRecord({ __name__: 'bad' })], samples: [], histograms: [{ ...hist(1000, [1, 1]), countInt: 7 }] }] }] },
  });
  try {
    await series(store);
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, GrpcError);
    assert.is((e as GrpcError).code, GrpcStatus.Internal);
    assert.match((e as Error).message, /invalid native histogram from Prometheus at 1000: 2 observations found in buckets, but the Count field is 7/);
  }
});

test.run();

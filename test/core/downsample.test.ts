// Downsampling aggregates of both backends against a plain reference of Thanos DownsampleRaw
// (pkg/compact/downsample: downsampleRawLoop + downsampleBatch + aggregator), plus hand-checked values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { aggrChunkSamples, createCore, createJsCore, type AggrSeries, type Core } from '../../lib/core/mod.ts';
import { bitDiff, rng, setBits, STALE_HI, STALE_LO } from './helpers.ts';

let wasm: Core;
const js = createJsCore();
test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
});

interface RefWindow { t: number; count: number; sum: number; min: number; max: number; counter: number }
interface RefChunk { windows: RefWindow[]; first: [number, number]; lastV: number }

function refDownsampleRaw(ts: number[], vs: number[], res: number): RefChunk[] {
  const data = ts.map((t, i) => ({ t, v: vs[i] }));
  if (data.length === 0) return [];
  const mint = data[0].t;
  const maxt = data[data.length - 1].t;
  // targetChunkCount(mint, maxt, 1m, res, len)
  const maxSamples = Math.trunc((maxt - mint) / res);
  const fullness = Math.min(1, data.length / ((maxt - mint) / 60000));
  const exp = Math.trunc(maxSamples * fullness) + 1;
  let numChunks = 1;
  while (Math.trunc(exp / numChunks) > 140) numChunks++;
  const batchSize = Math.trunc(data.length / numChunks) + 1;
  const win = (t: number) => t - (t % res) + res - 1;
  const chunks: RefChunk[] = [];
  let rest = data;
  while (rest.length > 0) {
    let j = Math.min(batchSize, rest.length);
    const curW = win(rest[j - 1].t);
    while (j < rest.length && rest[j].t <= curW) j++;
    const batch = rest.slice(0, j).filter((s) => !Number.isNaN(s.v));
    rest = rest.slice(j);
    if (batch.length === 0) continue;
    const lastT = batch[batch.length - 1].t;
    // group into windows
    const groups: { t: number; vs: number[] }[] = [];
    for (const s of batch) {
      const g = groups[groups.length - 1];
      if (g && s.t <= g.t) g.vs.push(s.v);
      else groups.push({ t: Math.min(win(s.t), lastT), vs: [s.v] });
    }
    let counter = 0;
    let last = 0;
    let seen = false;
    const windows = groups.map((g) => {
      for (const v of g.vs) {
        counter = !seen ? v : v < last ? counter + v : counter + (v - last);
        last = v;
        seen = true;
      }
      return {
        t: g.t,
        count: g.vs.length,
        sum: g.vs.reduce((a, b) => a + b, 0),
        min: g.vs.reduce((a, b) => (b < a ? b : a), Number.MAX_VALUE),
        max: g.vs.reduce((a, b) => (b > a ? b : a), -Number.MAX_VALUE),
        counter,
      };
    });
    chunks.push({ windows, first: [batch[0].t, batch[0].v], lastV: batch[batch.length - 1].v });
  }
  return chunks;
}

function compare(got: AggrSeries, want: RefChunk[], what: string): void {
  assert.is(got.chunks, want.length, `${what}: chunks`);
  let w = 0;
  for (let k = 0; k < want.length; k++) {
    assert.is(got.chunkStart[k], w, `${what}: chunkStart[${k}]`);
    assert.is(got.firstT[k], want[k].first[0]);
    assert.ok(Object.is(got.firstV[k], want[k].first[1]));
    assert.ok(Object.is(got.lastV[k], want[k].lastV));
    for (const x of want[k].windows) {
      assert.is(got.t[w], x.t, `${what}: t[${w}]`);
      assert.is(got.count[w], x.count, `${what}: count[${w}]`);
      assert.ok(Object.is(got.sum[w], x.sum), `${what}: sum[${w}] ${got.sum[w]} vs ${x.sum}`);
      assert.ok(Object.is(got.min[w], x.min), `${what}: min[${w}]`);
      assert.ok(Object.is(got.max[w], x.max), `${what}: max[${w}]`);
      assert.ok(Object.is(got.counter[w], x.counter), `${what}: counter[${w}] ${got.counter[w]} vs ${x.counter}`);
      w++;
    }
  }
  assert.is(got.chunkStart[want.length], w);
  assert.is(got.n, w);
}

test('hand-checked: windows, reset folding, NaN dropped, first/last raw samples', () => {
  const t = Float64Array.from([0, 60000, 120000, 180000, 240000, 300000, 360000]);
  const v = Float64Array.from([10, 20, 5, 15, NaN, 30, 31]);
  for (const core of [js, wasm]) {
    const a = core.downsample(t, v, 7, 300000);
    assert.is(a.n, 2);
    assert.is(a.chunks, 1);
    assert.equal([...a.t], [299999, 360000]);
    assert.equal([...a.count], [4, 2]);
    assert.equal([...a.sum], [50, 61]);
    assert.equal([...a.min], [5, 30]);
    assert.equal([...a.max], [20, 31]);
    assert.equal([...a.counter], [35, 51]);
    const c = aggrChunkSamples(a, 0);
    assert.is(c.minTime, 299999);
    assert.is(c.maxTime, 360000);
    const counter = c.aggr[4];
    assert.equal([...counter.t.subarray(0, counter.n)], [0, 299999, 360000, 360000]);
    assert.equal([...counter.v.subarray(0, counter.n)], [10, 35, 51, 31]);
    assert.equal([...c.aggr[0].v], [4, 2]);
  }
});

test('min/max start at ±MaxFloat64 like Thanos, not ±Inf', () => {
  const t = Float64Array.from([0, 1000]);
  const v = Float64Array.from([Infinity, Infinity]);
  for (const core of [js, wasm]) {
    const a = core.downsample(t, v, 2, 300000);
    assert.is(a.max[0], Infinity);
    assert.is(a.min[0], Number.MAX_VALUE); // +Inf < MaxFloat64 is false, so min keeps its start value
  }
});

function series(r: () => number, kind: number): { t: Float64Array; v: Float64Array } {
  const n = [1, 2, 50, 2000, 17280, 40000][kind % 6];
  const step = [15000, 60000, 1000, 15000][kind % 4];
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let x = 1_700_000_000_000 + Math.floor(r() * 1e9);
  let c = 0;
  for (let i = 0; i < n; i++) {
    x += Math.floor(step * (0.5 + r())) + (r() < 0.01 ? 3600_000 : 0);
    t[i] = x;
    const p = r();
    if (kind % 3 === 0) {
      c = p < 0.02 ? Math.floor(r() * 5) : c + Math.floor(r() * 100);
      v[i] = c;
    } else if (kind % 3 === 1) v[i] = (r() - 0.5) * 1e6;
    else v[i] = p < 0.05 ? NaN : p < 0.07 ? Infinity : p < 0.09 ? -Infinity : p < 0.1 ? -0 : Math.floor(r() * 10);
    if (p > 0.995) setBits(v, i, STALE_HI, STALE_LO); // a NaN: dropped like any NaN
  }
  return { t, v };
}

test('random series vs reference at 5m and 1h, wasm == js bit for bit', () => {
  const r = rng(99);
  for (let k = 0; k < 48; k++) {
    const { t, v } = series(r, k);
    for (const res of [300000, 3600000]) {
      const want = refDownsampleRaw([...t], [...v], res);
      const a = js.downsample(t, v, t.length, res);
      const b = wasm.downsample(t, v, t.length, res);
      compare(a, want, `js #${k} res ${res}`);
      compare(b, want, `wasm #${k} res ${res}`);
      for (const key of ['t', 'count', 'sum', 'min', 'max', 'counter', 'firstT', 'firstV', 'lastV'] as const) {
        assert.is(bitDiff(a[key], b[key], a[key].length), -1, `#${k} ${key}`);
      }
      if (k % 6 === 4) assert.ok(a.chunks > 1, `17280 samples make several chunks (${a.chunks})`);
    }
  }
});

test('empty input, all-NaN input and bad arguments', () => {
  for (const core of [js, wasm]) {
    const e = core.downsample(new Float64Array(0), new Float64Array(0), 0, 300000);
    assert.is(e.n, 0);
    assert.is(e.chunks, 0);
    const nan = core.downsample(Float64Array.from([1, 2]), Float64Array.from([NaN, NaN]), 2, 300000);
    assert.is(nan.n, 0);
    assert.is(nan.chunks, 0);
    assert.throws(() => core.downsample(new Float64Array(1), new Float64Array(1), 1, 0), /resolution/);
    assert.throws(() => core.downsample(new Float64Array(1), new Float64Array(1), 2, 300000), /out of range/);
  }
  assert.throws(() => aggrChunkSamples(js.downsample(Float64Array.from([1]), Float64Array.from([1]), 1, 300000), 1), /out of range/);
});

test.run();

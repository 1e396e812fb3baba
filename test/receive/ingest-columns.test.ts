// The receiver's hot ingest path against its oracle (issue #18): the same remote write requests go
// into one head as the fast decoder hands them out (ColumnarSeries: samples in per-request columns,
// label sets cached with a slot where the head notes its series, the WAL its ref) and into another
// as lib/proto's generic decoder makes them (plain TimeSeries with Sample objects). Every answer
// (accepted, refused by reason, label errors) and every stored sample must be the same, stale
// marker bits included, through duplicates, out-of-order samples, a series twice in one request,
// invalid label sets, two tenants sharing the decoder's slots, and a block cut that drops series
// the slots still name; the WAL of each replays to the same head.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../host/log.ts';
import { compileMatcher } from '../../lib/labels/mod.ts';
import { decodeWriteRequest, encodeWriteRequest, type TimeSeries } from '../../lib/proto/prompb.ts';
import { ColumnarSeries, WriteRequestDecoder } from '../../lib/remote/writedecode.ts';
import { HeadDB } from '../../lib/tsdb/head/db.ts';
import type { PrepareResult } from '../../lib/tsdb/head/head.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { core, ts } from './helpers.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ingest-columns-'));
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const log = createLogger({ level: 'error', write: () => {} });
const all = [compileMatcher({ type: '=~', name: '__name__', value: '.+' })];

const bits = new DataView(new ArrayBuffer(8));
bits.setBigUint64(0, 0x7ff0000000000002n); // Prometheus's stale marker
const STALE = bits.getFloat64(0);
const bitsOf = (x: number) => {
  bits.setFloat64(0, x);
  return bits.getBigUint64(0).toString(16);
};

const open = async (dir: string) => {
  const db = new HeadDB({ fs: nodeFs(), dir, core, log, blockDuration: 3_600_000 });
  await db.open();
  return db;
};

/** Every sample of the head (and its blocks) as "labels t bits", sorted. */
async function contents(db: HeadDB): Promise<string[]> {
  const out: string[] = [];
  for (const s of await db.select(all, -Infinity, Infinity)) {
    const name = s.labels.map((l) => `${l.name}=${l.value}`).join(',');
    for (const c of s.chunks) {
      const d = core.xorDecode(c.data);
      for (let i = 0; i < d.n; i++) out.push(`${name} ${d.t[i]} ${bitsOf(d.v[i]!)}`);
    }
  }
  return out.sort();
}

const answer = (r: PrepareResult) => ({ accepted: r.samplesAccepted, rejected: r.rejected, labelErrors: r.labelErrors, firstReject: r.firstReject && { ...r.firstReject, labels: [...r.firstReject.labels] } });

/** Rounds of requests: scrape rounds of 40 series with the awkward cases mixed in. */
function requests(): TimeSeries[][] {
  const reqs: TimeSeries[][] = [];
  for (let k = 0; k < 12; k++) {
    const t = 10_000_000 + k * 15_000;
    const r: TimeSeries[] = [];
    for (let s = 0; s < 40; s++) {
      const v = s % 7 === 3 && k % 4 === 2 ? STALE : Math.sin(k + s) * 100;
      // (a sample object, not ts()'s [t, v] pair: an array of doubles would quiet the stale marker's NaN)
      r.push({ labels: ts({ __name__: 'm', job: `j${s % 3}`, series: String(s) }, []).labels, samples: [{ timestamp: t, value: v }] });
    }
    // the same series twice in one request: in order, then one out of order within the request
    r.push(ts({ __name__: 'm', job: 'j0', series: '0' }, [[t + 1000, 1], [t + 500, 2]]));
    // a duplicate of the last sample (same value: dropped silently) and one with another value (refused)
    r.push(ts({ __name__: 'm', job: 'j1', series: '1' }, [[t + 1000, 5]]));
    if (k > 0) r.push(ts({ __name__: 'dup' }, [[t - 15_000, k % 2 === 0 ? 0 : 99]]));
    r.push(ts({ __name__: 'dup' }, [[t, 0]]));
    // invalid label sets: an empty value, and names out of order (not sorted by ts())
    r.push(ts({ __name__: 'bad', job: '' }, [[t, 1]]));
    r.push({ labels: [{ name: '__name__', value: 'unsorted' }, { name: 'b', value: '1' }, { name: 'a', value: '2' }], samples: [{ timestamp: t, value: 1 }] });
    // a sample too old for the head once it has moved on
    if (k === 8) r.push(ts({ __name__: 'm', job: 'j0', series: '5' }, [[10_000_000 - 4_000_000, 1]]));
    reqs.push(r);
  }
  return reqs;
}

test('columnar requests with slots and plain TimeSeries give the same answers and the same head (a block cut between), WAL replay included', async () => {
  const fast = await open(tmp());
  const plain = await open(tmp());
  const decoder = new WriteRequestDecoder();
  for (const [i, r] of requests().entries()) {
    // a block cut mid-way drops the series: the decoder's slots still name them
    if (i === 6) for (const db of [fast, plain]) await db.flush();
    const body = encodeWriteRequest({ timeseries: r });
    const viaDecoder = decoder.decode(body).timeseries;
    assert.ok(viaDecoder.every((s) => s instanceof ColumnarSeries), 'the fast decoder took every request');
    const a = await fast.append(viaDecoder);
    const b = await plain.append(decodeWriteRequest(body).timeseries);
    assert.equal(answer(a), answer(b));
  }
  assert.ok(decoder.hits > 0);
  const want = await contents(plain);
  assert.ok(want.some((l) => l.endsWith(' 7ff0000000000002')), 'stale markers stored');
  assert.equal(await contents(fast), want);
  // each WAL replays to the same head
  const dirFast = dirs[dirs.length - 2]!;
  await fast.close();
  assert.equal(await contents(await open(dirFast)), want);
});

test('two tenants share the decoder\'s slots; a block cut drops series the slots still name', async () => {
  const a = await open(tmp());
  const b = await open(tmp());
  const refA = await open(tmp());
  const refB = await open(tmp());
  const decoder = new WriteRequestDecoder();
  const reqs = requests();
  for (let i = 0; i < reqs.length; i++) {
    const body = encodeWriteRequest({ timeseries: reqs[i]! });
    // the same label sets (the same slots) alternate between the tenants' heads
    for (const [db, ref] of [[a, refA], [b, refB]] as const) {
      const got = await db.append(decoder.decode(body).timeseries);
      const want = await ref.append(decodeWriteRequest(body).timeseries);
      assert.equal(answer(got), answer(want));
    }
    if (i === 6) {
      // cut everything so far: the series go, their slots and WAL refs must not be used again
      for (const db of [a, refA]) await db.flush();
    }
  }
  assert.equal(await contents(a), await contents(refA));
  assert.equal(await contents(b), await contents(refB));
  assert.ok((await contents(a)).length > 0);
});

test.run();

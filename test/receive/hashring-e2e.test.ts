// End to end on loopback, processes only: three `thanos receive` in one ketama hashring with
// --receive.replication-factor=3 (hashring file, --receive.local-endpoint each), a `thanos query`
// over them deduplicating on receive_replica, and a remote-write client that behaves like
// Prometheus (one batch at a time, 1,000 series; 5xx and connection errors are retried — here on the
// next receiver, as behind a load balancer — and 4xx would be dropped, which fails the test).
// Mid-run one receiver is killed -9 and restarted; later the hashring file grows from 3 to 4
// receivers while writes go on. Checked: every acknowledged sample is on at least a quorum (2) of
// receivers at the end; the querier answers every query during the run, deduplicated (1,000 series,
// not 3,000), and returns every acknowledged sample across the replicas; the 4th receiver takes its
// share once the file changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialGrpc } from '../../host/server/grpc.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { StoreClient } from '../../lib/store/client.ts';
import type { TimeSeries } from '../../lib/proto/prompb.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, labelsRec, samplesOf } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'rcv-ring-e2e-'));
const procs: Proc[] = [];
const clients: StoreClient[] = [];
test.after(async () => {
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const N_SERIES = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rx { i: number; rw: number; grpc: number; http: number; proc?: Proc }

test('3 receivers RF=3 ketama: kill -9 + restart loses no acknowledged sample; querier dedups throughout; hashring file 3 → 4 live', async () => {
  const rxs: Rx[] = [];
  for (let i = 0; i < 4; i++) rxs.push({ i, rw: await freePort(), grpc: await freePort(), http: await freePort() });
  const qHttp = await freePort();
  const qGrpc = await freePort();
  const ringFile = join(dir, 'hashrings.json');
  const writeRing = (n: number) =>
    writeFileSync(ringFile, JSON.stringify([{ hashring: 'default', endpoints: rxs.slice(0, n).map((r) => `127.0.0.1:${r.grpc}`) }], null, 2));
  writeRing(3);
  const args = (r: Rx) => [
    'receive', `--remote-write.address=127.0.0.1:${r.rw}`, `--grpc-address=127.0.0.1:${r.grpc}`, `--http-address=127.0.0.1:${r.http}`,
    `--tsdb.path=${join(dir, `r${r.i}`)}`, `--label=receive_replica="r${r.i}"`, `--receive.hashrings-file=${ringFile}`,
    '--receive.hashrings-algorithm=ketama', '--receive.replication-factor=3', `--receive.local-endpoint=127.0.0.1:${r.grpc}`, '--log.level=debug',
  ];
  const start = (r: Rx) => {
    r.proc = thanos(`receive-${r.i}`, args(r), dir);
    procs.push(r.proc);
  };
  for (const r of rxs.slice(0, 3)) start(r);
  for (const r of rxs.slice(0, 3)) await waitFor(() => httpReady(r.http), STARTUP_MS, `receiver ${r.i} ready`, () => r.proc!.logs());
  const q = thanos('query', [
    'query', `--http-address=127.0.0.1:${qHttp}`, `--grpc-address=127.0.0.1:${qGrpc}`, ...rxs.map((r) => `--endpoint=127.0.0.1:${r.grpc}`),
    '--query.replica-label=receive_replica', '--endpoint.info-interval=1s',
  ], dir);
  procs.push(q);
  await waitFor(() => httpReady(qHttp), STARTUP_MS, 'querier ready', q.logs);

  // ---- the writer: Prometheus-like, sequential batches; acknowledged = answered 200
  const acked: number[] = [];
  const refused: string[] = [];
  let targets = rxs.slice(0, 3);
  let next = 0;
  let stop = false;
  let lastT = 0;
  let retries = 0;
  const batch = (t: number): TimeSeries[] =>
    Array.from({ length: N_SERIES }, (_, i) => ({
      labels: [{ name: '__name__', value: 'e2e_series' }, { name: 'i', value: String(i).padStart(4, '0') }, { name: 'job', value: 'e2e' }],
      samples: [{ timestamp: t, value: t / 1000 + i }],
    }));
  const writer = (async () => {
    while (!stop) {
      const t = Math.max(Date.now(), lastT + 1);
      lastT = t;
      const body = encodeRemoteWriteBody({ timeseries: batch(t) });
      for (;;) {
        const r = targets[next++ % targets.length]!;
        try {
          const res = await fetch(`http://127.0.0.1:${r.rw}/api/v1/receive`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body, signal: AbortSignal.timeout(30_000) });
          const text = await res.text();
          if (res.status === 200) {
            acked.push(t);
            break;
          }
          if (res.status < 500) {
            refused.push(`${res.status} ${text}`);
            break;
          }
        } catch {
          /* connection refused / reset: retried like a 5xx */
        }
        retries++;
        await sleep(100);
      }
      await sleep(400);
    }
  })();

  // ---- queries the whole time: each must complete, deduplicated to 1,000 series
  const queryErrors: string[] = [];
  let queries = 0;
  let stopQueries = false;
  let warmed = false;
  const querier = (async () => {
    while (!stopQueries) {
      if (acked.length > 0) {
        try {
          const res = await fetch(`http://127.0.0.1:${qHttp}/api/v1/query?${new URLSearchParams({ query: 'count(e2e_series)', dedup: 'true', time: String(acked.at(-1)! / 1000) })}`);
          const j = (await res.json()) as any;
          const v = j.data?.result?.[0]?.value?.[1];
          // Until the querier's first Info round has found the receivers (on a loaded machine that
          // can take longer than the first write), an empty answer is discovery, not a failure.
          if (warmed || j.status !== 'success' || v !== undefined) {
            warmed = true;
            queries++;
            if (j.status !== 'success' || v !== String(N_SERIES)) queryErrors.push(`${res.status} ${JSON.stringify(j).slice(0, 300)}`);
          }
        } catch (e) {
          queryErrors.push((e as Error).message);
        }
      }
      await sleep(500);
    }
  })();

  const ackedAfter = async (n: number, what: string) => {
    const want = acked.length + n;
    await waitFor(async () => acked.length >= want, 120_000, what, () => rxs.map((r) => r.proc?.logs().slice(-1500) ?? '').join('\n----\n'));
  };
  await ackedAfter(8, 'first batches acknowledged');

  // ---- kill -9 receiver 2 mid-run; writes keep being acknowledged by the other two (quorum 2 of 3)
  const victim = rxs[2]!;
  await victim.proc!.kill('SIGKILL');
  await ackedAfter(8, 'batches acknowledged with a receiver down');
  start(victim);
  await waitFor(() => httpReady(victim.http), STARTUP_MS, 'receiver 2 ready again', () => victim.proc!.logs());
  assert.match(victim.proc!.logs(), /WAL replayed/);
  await ackedAfter(6, 'batches acknowledged after the restart');

  // ---- the hashring file grows to 4 receivers while writes go on
  const r3 = rxs[3]!;
  start(r3);
  await waitFor(() => httpReady(r3.http), STARTUP_MS, 'receiver 3 ready', () => r3.proc!.logs());
  const changeAt = Date.now();
  writeRing(4);
  for (const r of rxs) await waitFor(async () => /hashring configuration changed/.test(r.proc!.logs()) || r.i === 3, 30_000, `receiver ${r.i} reloads the hashring`, () => r.proc!.logs());
  targets = rxs.slice(0, 4);
  await waitFor(async () => /hashring configuration changed/.test(r3.proc!.logs()), 30_000, 'receiver 3 reloads the hashring', () => r3.proc!.logs());
  await ackedAfter(8, 'batches acknowledged on the 4-node ring');

  stop = true;
  await writer;
  stopQueries = true;
  await querier;
  assert.equal(refused, [], 'no batch refused with 4xx');
  assert.ok(acked.length >= 30, `acknowledged ${acked.length} batches`);

  // ---- every acknowledged sample is on at least a quorum of receivers
  const holders = new Map<string, number>();
  let r3After = 0;
  for (const r of rxs) {
    const c = new StoreClient(dialGrpc(`127.0.0.1:${r.grpc}`));
    clients.push(c);
    const got = await collect(c.series(seriesRequest({ minTime: acked[0]! - 1, maxTime: acked.at(-1)! + 1, matchers: [{ type: '=', name: '__name__', value: 'e2e_series' }] }), new AbortController().signal));
    for (const s of got) {
      const l = labelsRec(s);
      assert.is(l.receive_replica, `r${r.i}`);
      for (const [t, v] of samplesOf(s)) {
        assert.is(v, t / 1000 + Number(l.i), 'value as written');
        const k = `${l.i}@${t}`;
        holders.set(k, (holders.get(k) ?? 0) + 1);
        if (r.i === 3 && t > changeAt) r3After++;
      }
    }
  }
  let lost = 0;
  let underReplicated = 0;
  for (const t of acked) {
    for (let i = 0; i < N_SERIES; i++) {
      const n = holders.get(`${String(i).padStart(4, '0')}@${t}`) ?? 0;
      if (n === 0) lost++;
      else if (n < 2) underReplicated++;
    }
  }
  assert.is(lost, 0, 'acknowledged samples lost');
  assert.is(underReplicated, 0, 'acknowledged samples on fewer than a quorum of receivers');
  // ketama, RF=3 of 4: the new receiver holds about three quarters of the series for new samples
  assert.ok(r3After > 0, 'receiver 3 took writes after the hashring change');

  // ---- the querier: every query completed, deduplicated; raw samples through it match
  assert.ok(queries >= 10, `${queries} queries`);
  assert.equal(queryErrors, [], 'queries during the run');
  const raw = async (dedup: boolean) => {
    const res = await fetch(`http://127.0.0.1:${qHttp}/api/v1/query?${new URLSearchParams({ query: 'e2e_series{i="0007"}[10m]', dedup: String(dedup), time: String(acked.at(-1)! / 1000) })}`);
    const j = (await res.json()) as any;
    assert.is(j.status, 'success', JSON.stringify(j).slice(0, 500));
    return j.data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
  };
  // without dedup: one series per receiver holding it; together they have every acknowledged sample
  const copies = await raw(false);
  assert.ok(copies.length >= 2 && copies.every((c) => /^r[0-3]$/.test(c.metric.receive_replica ?? '')), 'one copy per replica');
  const union = new Set(copies.flatMap((c) => c.values.map(([t]) => Math.round(t * 1000))));
  assert.equal(acked.filter((t) => !union.has(t)), [], 'acknowledged samples of one series, through the querier');
  // with dedup: one series without the replica label. Thanos's penalty algorithm skips samples
  // where it switches replicas: the replica it leaves behind (the killed one, or one the ring change
  // moved the series away from) and the one it switches to are each sought past the last emitted
  // sample plus a penalty of twice the last gap. Which samples go depends on where the stores' chunk
  // runs begin (the querier asks without replica labels and splits overlapping chunk runs into
  // replicas, as Thanos does), so the answer is checked for what the algorithm guarantees: only
  // acknowledged samples with their written values, in order, ending with the last one, and no hole
  // longer than a penalty (2 gaps) plus the next gap — 3 of the writer's longest gaps for two
  // replicas; 4 allowed, since up to four replicas are merged pairwise and a switch can land in the
  // next replica's own hole.
  const dd = await raw(true);
  assert.is(dd.length, 1, 'one deduplicated series');
  assert.not.ok('receive_replica' in dd[0]!.metric);
  const ackedSet = new Set(acked);
  const got = dd[0]!.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as const);
  const shown = () => `dedup ${JSON.stringify(got.map(([t]) => t))}; replicas ${JSON.stringify(copies.map((c) => [c.metric.receive_replica, c.values.map(([t]) => Math.round(t * 1000))]))}`;
  const inWindow = acked.filter((t) => t >= got[0]![0]);
  let maxAckGap = 0;
  for (let k = 1; k < inWindow.length; k++) maxAckGap = Math.max(maxAckGap, inWindow[k]! - inWindow[k - 1]!);
  for (let k = 0; k < got.length; k++) {
    const [t, v] = got[k]!;
    assert.ok(ackedSet.has(t), `deduplicated sample at ${t} was acknowledged; ${shown()}`);
    assert.is(v, t / 1000 + 7, 'deduplicated value as written');
    if (k > 0) {
      const hole = t - got[k - 1]![0];
      assert.ok(hole > 0, 'deduplicated timestamps increase');
      assert.ok(hole <= 4 * maxAckGap + 1, `hole of ${hole} ms in the deduplicated series (longest write gap ${maxAckGap} ms); ${shown()}`);
    }
  }
  assert.is(got.at(-1)![0], acked.at(-1), 'the deduplicated series ends with the last acknowledged sample');
  assert.ok(got.length >= acked.length / 2, `deduplicated series has ${got.length} of ${acked.length} samples`);
  console.log(`hashring e2e: ${acked.length} batches x ${N_SERIES} series acknowledged, ${retries} retries, ${queries} queries, ${got.length} samples deduplicated`);
});

test.run();

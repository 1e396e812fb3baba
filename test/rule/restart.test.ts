// thanos rule survives kill -9 (issue #16): a real Prometheus 2.42 (fed by remote write) as the
// query target, a real Alertmanager 0.25, and `thanos rule` as a process from this checkout with a
// --data-dir, a FILESYSTEM bucket and 10s evaluations. The ruler is killed with SIGKILL while its
// alert is pending and again while it fires, and restarted on the same --data-dir. Checks:
// - the recorded series keep every sample written before each kill (WAL replay), evaluations are
//   exactly one interval apart away from the kills, and across a kill the hole is no longer than
//   the downtime rounded up to the interval plus one interval (no backfill, as Thanos);
// - pending across a kill: activeAt is restored from ALERTS_FOR_STATE as Prometheus does
//   (shifted by the downtime); firing across a kill: activeAt is kept (whole seconds, as
//   ALERTS_FOR_STATE stores it) and it fires again at once after the restore;
// - Alertmanager sees no flap: polled throughout the second restart, the alert stays active
//   with the same startsAt and is never resolved;
// - blocks the ruler cut (--tsdb.block-duration=20s) are uploaded with its external labels and
//   served by `thanos store` from the bucket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProc, thanos, waitFor, httpReady, writeBucketConfig, type Proc } from '../query/harness.ts';
import { startPrometheus, type Prom } from '../remote/prom.ts';
import { sendRemoteWrite } from '../../lib/remote/write.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { seriesRequest, type Series } from '../../lib/proto/store.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const AM = '/usr/bin/prometheus-alertmanager';
const INTERVAL = 10_000;
const FOR_S = 40;
const core = createJsCore();
const dir = mkdtempSync(join(tmpdir(), 'rule-restart-'));
let prom: Prom | undefined;
let am: Proc | undefined;
let amPort = 0;
let rule: Proc | undefined;
let store: Proc | undefined;
let httpPort = 0;
let grpcPort = 0;
const feed = new AbortController();
let feeding: Promise<void> | undefined;
const kills: Array<{ killedAt: number; readyAt: number }> = [];

async function push(v: number): Promise<void> {
  await sendRemoteWrite(fetch, `${prom!.url}/api/v1/write`, {
    timeseries: [{ labels: [{ name: '__name__', value: 'rt_temp' }, { name: 'room', value: 'a' }], samples: [{ value: v, timestamp: Date.now() }] }],
  });
}

async function getJSON<T>(url: string): Promise<T> {
  const r = await fetch(url);
  return (await r.json()) as T;
}

interface ApiAlert { labels: Record<string, string>; state: string; activeAt: string }
interface AmAlert { labels: Record<string, string>; startsAt: string; endsAt: string; status: { state: string } }

const alerts = async () => (await getJSON<{ data: { alerts: ApiAlert[] } }>(`http://127.0.0.1:${httpPort}/api/v1/alerts`)).data.alerts.filter((a) => a.labels.alertname === 'RoomHot');
const amAlerts = async () => getJSON<AmAlert[]>(`http://127.0.0.1:${amPort}/api/v2/alerts?filter=${encodeURIComponent('alertname="RoomHot"')}`);

function startRuler(): Proc {
  return thanos('rule', ['rule', '--rule-file', 'rules.yml', '--eval-interval', `${INTERVAL / 1000}s`, '--query', prom!.url,
    '--alertmanagers.url', `http://127.0.0.1:${amPort}`, '--label', 'cluster="rs-e2e"', '--label', 'replica="r1"',
    '--resend-delay', '30s', '--for-grace-period', '5s', '--for-outage-tolerance', '1h', '--tsdb.block-duration', '20s',
    '--data-dir', join(dir, 'rule-data'), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--http-address', `127.0.0.1:${httpPort}`, '--grpc-address', `127.0.0.1:${grpcPort}`], dir);
}

async function killAndRestart(): Promise<void> {
  const killedAt = Date.now();
  await rule!.kill('SIGKILL');
  rule = startRuler();
  await waitFor(() => httpReady(httpPort).catch(() => false), STARTUP_MS, 'ruler ready after restart', rule.logs);
  kills.push({ killedAt, readyAt: Date.now() });
}

async function seriesOf(addr: string, name: string, extra: Record<string, string> = {}): Promise<Series[]> {
  const client = new StoreClient(dialGrpc(addr));
  try {
    const res: Series[] = [];
    const ms = [{ type: '=' as const, name: '__name__', value: name }, ...Object.entries(extra).map(([n, v]) => ({ type: '=' as const, name: n, value: v }))];
    for await (const r of client.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 60_000, matchers: ms }), new AbortController().signal)) {
      if (r.type === 'series') res.push(r.series);
      else if (r.type === 'batch') res.push(...r.batch);
    }
    return res;
  } finally {
    client.close();
  }
}

function samplesOf(s: Series): Array<{ t: number; v: number }> {
  const out: Array<{ t: number; v: number }> = [];
  for (const c of s.chunks) {
    const d = core.xorDecode(c.raw!.data);
    for (let i = 0; i < d.n; i++) out.push({ t: d.t[i]!, v: d.v[i]! });
  }
  return out.sort((a, b) => a.t - b.t).filter((x, i, a) => i === 0 || a[i - 1]!.t !== x.t);
}

test.before(async () => {
  assert.ok(existsSync(AM), `${AM} missing: apt-get install -y prometheus-alertmanager`);
  prom = await startPrometheus('global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  await push(30);
  // Keep the input fresh for the whole test (Prometheus's lookback is 5m; the test takes ~3m).
  feeding = (async () => {
    while (!feed.signal.aborted) {
      await new Promise((r) => setTimeout(r, 5000));
      if (!feed.signal.aborted) await push(30).catch(() => {});
    }
  })();
  amPort = await freePort();
  mkdirSync(join(dir, 'am'));
  writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
  am = startProc('alertmanager', AM, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], dir);
  await waitFor(() => httpReady(amPort), STARTUP_MS, 'alertmanager ready', am.logs);
  writeFileSync(join(dir, 'rules.yml'), `groups:
  - name: temps
    rules:
      - record: room:rt_temp:max
        expr: max by (room) (rt_temp)
      - alert: RoomHot
        expr: rt_temp > 20
        for: ${FOR_S}s
`);
  writeBucketConfig(join(dir, 'bucket.yaml'), join(dir, 'bucket'));
  httpPort = await freePort();
  grpcPort = await freePort();
  rule = startRuler();
  await waitFor(() => httpReady(httpPort).catch(() => false), STARTUP_MS, 'ruler ready', rule.logs);
});

test.after(async () => {
  feed.abort();
  await feeding;
  await rule?.kill();
  await store?.kill();
  await am?.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kill -9 while pending: activeAt restored from ALERTS_FOR_STATE (shifted by the downtime, as Prometheus)', async () => {
  // Wait for the rule to be restored on the first start (2nd evaluation): ALERTS_FOR_STATE is written from then on.
  await waitFor(async () => (await seriesOf(`127.0.0.1:${grpcPort}`, 'ALERTS_FOR_STATE')).length === 1, 60_000, 'ALERTS_FOR_STATE written', rule!.logs);
  const before = await alerts();
  assert.is(before.length, 1);
  assert.is(before[0]!.state, 'pending');
  const a0 = Date.parse(before[0]!.activeAt);
  await killAndRestart();
  // After the restart the alert shows up again; once restored, its activeAt moves off the restart time.
  let restored: ApiAlert | undefined;
  await waitFor(async () => {
    const fs = await seriesOf(`127.0.0.1:${grpcPort}`, 'ALERTS_FOR_STATE');
    const s = fs[0] ? samplesOf(fs[0]) : [];
    if (!s.some((x) => x.t > kills[0]!.killedAt)) return false;
    restored = (await alerts())[0];
    return restored !== undefined;
  }, 90_000, 'ALERTS_FOR_STATE written again after the restore', rule!.logs);
  const fs = samplesOf((await seriesOf(`127.0.0.1:${grpcPort}`, 'ALERTS_FOR_STATE'))[0]!);
  const beforeKill = fs.filter((x) => x.t < kills[0]!.killedAt);
  const afterKill = fs.filter((x) => x.t > kills[0]!.killedAt);
  assert.ok(beforeKill.length >= 1, 'the samples written before the kill were replayed from the WAL');
  assert.ok(beforeKill.every((x) => x.v === Math.floor(a0 / 1000)), JSON.stringify(beforeKill));
  const downAt = beforeKill[beforeKill.length - 1]!.t;
  // Restore runs right after the 2nd evaluation since the start (ts2); the first sample after it is at ts2 + interval.
  const ts2 = afterKill[0]!.t - INTERVAL;
  const got = Date.parse(restored!.activeAt);
  const lo = Math.floor(a0 / 1000) * 1000 + (ts2 - downAt);
  assert.ok(got >= lo && got <= lo + INTERVAL, `activeAt ${restored!.activeAt} (${got}) not in [${lo}, ${lo + INTERVAL}]: a0=${a0} downAt=${downAt} ts2=${ts2}`);
  assert.is(afterKill[0]!.v, Math.floor(got / 1000), 'the restored activeAt is what ALERTS_FOR_STATE carries on');
});

test('kill -9 while firing: activeAt kept, fires again, Alertmanager sees no resolve/re-fire flap', async () => {
  let firing: ApiAlert | undefined;
  await waitFor(async () => {
    firing = (await alerts()).find((a) => a.state === 'firing');
    return firing !== undefined;
  }, 120_000, 'alert firing', rule!.logs);
  let amFirst: AmAlert | undefined;
  await waitFor(async () => {
    amFirst = (await amAlerts())[0];
    return amFirst !== undefined && amFirst.status.state === 'active';
  }, 60_000, 'alert in Alertmanager', () => rule!.logs() + am!.logs());
  const activeAt = Date.parse(firing!.activeAt);
  // Poll Alertmanager throughout the restart.
  const seen: Array<{ at: number; n: number; startsAt?: string; endsAt?: string; state?: string }> = [];
  const stopPoll = new AbortController();
  const polling = (async () => {
    while (!stopPoll.signal.aborted) {
      const l = await amAlerts().catch(() => undefined);
      if (l) seen.push({ at: Date.now(), n: l.length, startsAt: l[0]?.startsAt, endsAt: l[0]?.endsAt, state: l[0]?.status.state });
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    await killAndRestart();
    let again: ApiAlert | undefined;
    await waitFor(async () => {
      again = (await alerts()).find((a) => a.state === 'firing');
      return again !== undefined;
    }, 90_000, 'alert firing again after the restart', rule!.logs);
    assert.is(Date.parse(again!.activeAt), Math.floor(activeAt / 1000) * 1000, `activeAt kept: ${firing!.activeAt} -> ${again!.activeAt}`);
    // Let the restarted ruler (re)send and Alertmanager merge it.
    const m0 = Date.now();
    await waitFor(async () => {
      const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      return /thanos_alert_sender_alerts_sent_total\{[^}]*\} [1-9]/.test(m) && Date.now() - m0 > 3000;
    }, 60_000, 'alert re-sent after the restart', rule!.logs);
  } finally {
    stopPoll.abort();
    await polling;
  }
  assert.ok(seen.length > 5, `Alertmanager polled during the restart (${seen.length} times)`);
  for (const s of seen) {
    assert.is(s.n, 1, `the alert is in Alertmanager throughout: ${JSON.stringify(s)}`);
    assert.is(s.state, 'active', JSON.stringify(s));
    assert.is(s.startsAt, amFirst!.startsAt, `startsAt unchanged (no re-fire): ${JSON.stringify(s)}`);
    assert.ok(Date.parse(s.endsAt!) > s.at, `not resolved: ${JSON.stringify(s)}`);
  }
});

test('recorded series: everything written before each kill survives; evaluations one interval apart except across a kill', async () => {
  const rec = await seriesOf(`127.0.0.1:${grpcPort}`, 'room:rt_temp:max');
  assert.is(rec.length, 1);
  assert.equal(labelsToRecord(rec[0]!.labels), { __name__: 'room:rt_temp:max', cluster: 'rs-e2e', replica: 'r1', room: 'a' });
  const s = samplesOf(rec[0]!);
  assert.ok(s.every((x) => x.v === 30));
  let maxGap = 0;
  for (let i = 1; i < s.length; i++) {
    const gap = s[i]!.t - s[i - 1]!.t;
    const kill = kills.find((k) => s[i - 1]!.t <= k.killedAt && s[i]!.t >= k.killedAt);
    if (!kill) {
      assert.is(gap, INTERVAL, `evaluations ${s[i - 1]!.t} -> ${s[i]!.t} away from a kill`);
      continue;
    }
    maxGap = Math.max(maxGap, gap);
    const down = kill.readyAt - kill.killedAt;
    assert.ok(gap <= Math.ceil(down / INTERVAL) * INTERVAL + INTERVAL, `gap ${gap}ms across a kill with ${down}ms downtime`);
  }
  console.log(`recorded-series gap across kills: max ${maxGap}ms (interval ${INTERVAL}ms; downtimes ${kills.map((k) => k.readyAt - k.killedAt).join(', ')}ms)`);
  assert.ok(s[0]!.t < kills[0]!.killedAt - INTERVAL, 'the oldest samples (before the first kill) are still served');
});

test('blocks cut by the ruler are uploaded with its external labels and served by a store gateway', async () => {
  const bucket = join(dir, 'bucket');
  await waitFor(async () => existsSync(bucket) && readdirSync(bucket).some((d) => existsSync(join(bucket, d, 'meta.json'))), 120_000, 'a block uploaded', rule!.logs);
  const id = readdirSync(bucket).find((d) => existsSync(join(bucket, d, 'meta.json')))!;
  const meta = JSON.parse(readFileSync(join(bucket, id, 'meta.json'), 'utf8')) as { minTime: number; maxTime: number; thanos: { labels: Record<string, string>; source: string } };
  assert.equal(meta.thanos.labels, { cluster: 'rs-e2e', replica: 'r1' });
  assert.is(meta.thanos.source, 'ruler');
  const sgGrpc = await freePort();
  const sgHttp = await freePort();
  store = thanos('store', ['store', '--data-dir', join(dir, 'store'), '--objstore.config-file', join(dir, 'bucket.yaml'),
    '--http-address', `127.0.0.1:${sgHttp}`, '--grpc-address', `127.0.0.1:${sgGrpc}`], dir);
  await waitFor(() => httpReady(sgHttp).catch(() => false), STARTUP_MS, 'store ready', store.logs);
  const got = await seriesOf(`127.0.0.1:${sgGrpc}`, 'room:rt_temp:max');
  assert.is(got.length, 1, store.logs());
  assert.equal(labelsToRecord(got[0]!.labels), { __name__: 'room:rt_temp:max', cluster: 'rs-e2e', replica: 'r1', room: 'a' });
  const s = samplesOf(got[0]!);
  assert.ok(s.length >= 2 && s.every((x) => x.v === 30 && x.t >= meta.minTime), JSON.stringify(s.slice(0, 5)));
});

test.run();

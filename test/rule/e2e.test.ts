// thanos rule end to end: a real Prometheus 2.42 (data pushed by remote write) as the query target,
// a real Alertmanager 0.25 as the alert receiver, and `thanos rule` as a process from this checkout
// with 1s evaluation. Checks: ready after the first evaluation; an alert goes pending → firing, shows
// in /api/v1/alerts and /api/v1/rules, reaches Alertmanager's /api/v2/alerts with our external labels,
// annotations expanded and a generatorURL; a recording rule's output is readable over the StoreAPI
// (gRPC, with external labels); the alert resolves when the data changes. Everything stopped by pid.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProc, thanos, waitFor, httpReady, REPO, type Proc } from '../query/harness.ts';
import { startPrometheus, type Prom } from '../remote/prom.ts';
import { sendRemoteWrite } from '../../lib/remote/write.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { labelValuesRequest, seriesRequest, type Series } from '../../lib/proto/store.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsToRecord } from '../../lib/labels/mod.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const AM = '/usr/bin/prometheus-alertmanager';
const core = createJsCore();
const dir = mkdtempSync(join(tmpdir(), 'rule-e2e-'));
let prom: Prom | undefined;
let am: Proc | undefined;
let amPort = 0;
let rule: Proc | undefined;
let httpPort = 0;
let grpcPort = 0;
let client: StoreClient | undefined;

async function push(series: Array<{ labels: Record<string, string>; v: number }>): Promise<void> {
  const t = Date.now();
  await sendRemoteWrite(fetch, `${prom!.url}/api/v1/write`, {
    timeseries: series.map((s) => ({
      labels: Object.entries({ __name__: 'rt_temp', ...s.labels }).map(([name, value]) => ({ name, value })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      samples: [{ value: s.v, timestamp: t }],
    })),
  });
}

async function getJSON<T>(url: string): Promise<T> {
  const r = await fetch(url);
  return (await r.json()) as T;
}

interface AmAlert { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string; status: { state: string } }

test.before(async () => {
  assert.ok(existsSync(AM), `${AM} missing: apt-get install -y prometheus-alertmanager`);
  prom = await startPrometheus('global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  await push([{ labels: { room: 'a' }, v: 30 }, { labels: { room: 'b' }, v: 10 }]);

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
        labels: { source: ruler }
      - alert: RoomHot
        expr: rt_temp > 20
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "room {{ $labels.room }} is {{ $value }} degrees"
          where: "{{ $externalLabels.cluster }}"
`);
  httpPort = await freePort();
  grpcPort = await freePort();
  rule = thanos('rule', ['rule', '--rule-file', 'rule*.yml', '--eval-interval', '1s', '--query', prom!.url,
    '--alertmanagers.url', `http://127.0.0.1:${amPort}`, '--label', 'cluster="rt-e2e"', '--label', 'replica="r1"',
    '--alert.query-url', 'http://query.example:10904', '--resend-delay', '1s',
    '--http-address', `127.0.0.1:${httpPort}`, '--grpc-address', `127.0.0.1:${grpcPort}`], dir);
  void REPO;
});

test.after(async () => {
  client?.close();
  await rule?.kill();
  await am?.kill();
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ready after the first evaluation; /api/v1/rules in Prometheus shape', async () => {
  await waitFor(() => httpReady(httpPort), STARTUP_MS, 'ruler ready', rule!.logs);
  const r = await getJSON<{ status: string; data: { groups: Array<{ name: string; file: string; interval: number; rules: Array<Record<string, unknown>> }> } }>(`http://127.0.0.1:${httpPort}/api/v1/rules`);
  assert.is(r.status, 'success');
  assert.is(r.data.groups.length, 1);
  const g = r.data.groups[0]!;
  assert.is(g.name, 'temps');
  assert.is(g.interval, 1);
  assert.ok(g.file.endsWith('rules.yml'));
  assert.is(g.rules[0]!.type, 'recording');
  assert.is(g.rules[0]!.name, 'room:rt_temp:max');
  assert.is(g.rules[0]!.health, 'ok', JSON.stringify(g.rules[0]));
  assert.is(g.rules[1]!.type, 'alerting');
  assert.is(g.rules[1]!.duration, 2);
  const onlyRec = await getJSON<{ data: { groups: Array<{ rules: unknown[] }> } }>(`http://127.0.0.1:${httpPort}/api/v1/rules?type=record`);
  assert.is(onlyRec.data.groups[0]!.rules.length, 1);
  assert.is((await fetch(`http://127.0.0.1:${httpPort}/api/v1/rules?type=bogus`)).status, 400);
});

test('alert goes pending then firing and reaches Alertmanager with external labels', async () => {
  type Alerts = { data: { alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string; value: string }> } };
  let states = new Set<string>();
  await waitFor(async () => {
    const a = await getJSON<Alerts>(`http://127.0.0.1:${httpPort}/api/v1/alerts`);
    for (const x of a.data.alerts) states.add(x.state);
    return a.data.alerts.some((x) => x.state === 'firing');
  }, 15_000, 'firing alert', rule!.logs);
  const a = await getJSON<Alerts>(`http://127.0.0.1:${httpPort}/api/v1/alerts`);
  assert.is(a.data.alerts.length, 1, 'only room a is above 20');
  const fired = a.data.alerts[0]!;
  assert.is(fired.labels.room, 'a');
  assert.is(fired.labels.alertname, 'RoomHot');
  assert.is(fired.value, '3e+01');
  assert.is(fired.annotations.summary, 'room a is 30 degrees');
  assert.ok(states.has('pending') || states.has('firing'));

  let got: AmAlert | undefined;
  await waitFor(async () => {
    const list = await getJSON<AmAlert[]>(`http://127.0.0.1:${amPort}/api/v2/alerts?filter=${encodeURIComponent('alertname="RoomHot"')}`);
    got = list[0];
    return list.length === 1;
  }, 15_000, 'alert in Alertmanager', () => rule!.logs() + am!.logs());
  assert.is(got!.labels.cluster, 'rt-e2e');
  assert.is(got!.labels.replica, 'r1');
  assert.is(got!.labels.severity, 'page');
  assert.is(got!.labels.room, 'a');
  assert.is(got!.annotations.summary, 'room a is 30 degrees');
  assert.is(got!.annotations.where, 'rt-e2e');
  assert.is(got!.status.state, 'active');
  assert.ok(got!.generatorURL.startsWith('http://query.example:10904/graph?g0.expr='), got!.generatorURL);
  assert.ok(decodeURIComponent(got!.generatorURL.replace(/\+/g, ' ')).includes('rt_temp > 20'), got!.generatorURL);
  assert.ok(Date.parse(got!.endsAt) > Date.now(), 'endsAt in the future while firing');
});

test('recording rule output over the StoreAPI (gRPC) with external labels', async () => {
  client = new StoreClient(dialGrpc(`127.0.0.1:${grpcPort}`));
  const info = await client.info();
  assert.is(info.componentType, 'rule');
  assert.equal(info.labelSets.map((ls) => labelsToRecord(ls)), [{ cluster: 'rt-e2e', replica: 'r1' }]);
  const now = Date.now();
  const res: Series[] = [];
  for await (const r of client.series(seriesRequest({ minTime: now - 60_000, maxTime: now + 60_000, matchers: [{ type: '=', name: '__name__', value: 'room:rt_temp:max' }] }), new AbortController().signal)) {
    if (r.type === 'series') res.push(r.series);
    else if (r.type === 'batch') res.push(...r.batch);
  }
  assert.is(res.length, 2);
  const byRoom = new Map(res.map((s) => [labelsToRecord(s.labels).room, s]));
  assert.equal(labelsToRecord(byRoom.get('a')!.labels), { __name__: 'room:rt_temp:max', cluster: 'rt-e2e', replica: 'r1', room: 'a', source: 'ruler' });
  for (const [room, want] of [['a', 30], ['b', 10]] as const) {
    const s = byRoom.get(room)!;
    const vals: number[] = [];
    const ts: number[] = [];
    for (const c of s.chunks) {
      const d = core.xorDecode(c.raw!.data);
      for (let i = 0; i < d.n; i++) (vals.push(d.v[i]!), ts.push(d.t[i]!));
    }
    assert.ok(vals.length >= 2, `several evaluations recorded for ${room}`);
    assert.ok(vals.every((v) => v === want), `${room}: ${vals}`);
    assert.ok(ts.every((t) => t % 1000 === 0), 'evaluation timestamps aligned to the 1s interval');
  }
  // ALERTS series are recorded as well
  const alerts: Series[] = [];
  for await (const r of client.series(seriesRequest({ minTime: now - 60_000, maxTime: now + 60_000, matchers: [{ type: '=', name: '__name__', value: 'ALERTS' }, { type: '=', name: 'alertstate', value: 'firing' }] }), new AbortController().signal)) {
    if (r.type === 'series') alerts.push(r.series);
    else if (r.type === 'batch') alerts.push(...r.batch);
  }
  assert.is(alerts.length, 1);
  assert.is(labelsToRecord(alerts[0]!.labels).room, 'a');
  const names = await client.labelValues(labelValuesRequest({ label: '__name__', start: now - 60_000, end: now + 60_000 }));
  assert.ok(names.values.includes('room:rt_temp:max'), JSON.stringify(names));
});

test('the alert resolves when the data changes; Alertmanager sees it end', async () => {
  await push([{ labels: { room: 'a' }, v: 5 }, { labels: { room: 'b' }, v: 10 }]);
  await waitFor(async () => (await getJSON<{ data: { alerts: unknown[] } }>(`http://127.0.0.1:${httpPort}/api/v1/alerts`)).data.alerts.length === 0, 15_000, 'alert resolved in ruler', rule!.logs);
  await waitFor(async () => {
    const list = await getJSON<AmAlert[]>(`http://127.0.0.1:${amPort}/api/v2/alerts?filter=${encodeURIComponent('alertname="RoomHot"')}`);
    return list.length === 0 || list.every((x) => Date.parse(x.endsAt) <= Date.now());
  }, 15_000, 'alert resolved in Alertmanager', () => rule!.logs());
  const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert.match(m, /thanos_alert_sender_alerts_sent_total\{alertmanager="127\.0\.0\.1:\d+"\} [1-9]/);
});

test.run();

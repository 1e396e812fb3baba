// The thanos-mixin's query metrics on a real `thanos query` over a real `thanos receive` (remote
// writes into it; instant and range queries through the querier, some at once, with
// --query.max-concurrent=2 so they queue). Checked: every metric and label the mixin reads of query
// is exposed (the DNS provider metrics excepted, see QUERY_EXEMPT); pkg/gate's metrics under
// thanos_query_concurrent_ and thanos_query_concurrent_selects_ count the queries and selects;
// thanos_store_nodes_grpc_connections has Thanos's external_labels and store_type labels; the
// querier's /flags and /status pages are served.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { GATE_DURATION_BUCKETS } from '../../lib/query/gate.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { mixinGaps, seriesOf, valueOf, type Exempt } from './components.ts';

const dir = mkdtempSync(join(tmpdir(), 'mixin-query-'));
const procs: Proc[] = [];
test.after(async () => {
  for (const p of procs) await p.kill();
  rmSync(dir, { recursive: true, force: true });
});

const QUERY_EXEMPT: Exempt[] = [
  {
    metric: /^thanos_query_store_apis_dns_(lookups|failures)_total$/,
    reason: 'the querier does no DNS lookups of its own: a dns+ endpoint is resolved by the gRPC channel, dnssrv+ is refused (upstream now names these thanos_query_endpoints_dns_*)',
  },
];

test('thanos query over a receiver: the mixin\'s query metrics, pkg/gate counts, store node labels, status pages', async () => {
  const rx = { rw: await freePort(), grpc: await freePort(), http: await freePort() };
  const q = { http: await freePort(), grpc: await freePort() };
  const receive = thanos('receive', [
    'receive', `--remote-write.address=127.0.0.1:${rx.rw}`, `--grpc-address=127.0.0.1:${rx.grpc}`, `--http-address=127.0.0.1:${rx.http}`,
    `--tsdb.path=${join(dir, 'rx')}`, '--label=receive_replica="0"',
  ], dir);
  procs.push(receive);
  const query = thanos('query', [
    'query', `--http-address=127.0.0.1:${q.http}`, `--grpc-address=127.0.0.1:${q.grpc}`, `--endpoint=127.0.0.1:${rx.grpc}`,
    '--query.max-concurrent=2', '--query.max-concurrent-select=3', '--endpoint.info-interval=1s',
  ], dir);
  procs.push(query);
  await waitFor(() => httpReady(rx.http), STARTUP_MS, 'receiver ready', receive.logs);
  await waitFor(() => httpReady(q.http), STARTUP_MS, 'querier ready', query.logs);

  const now = Date.now();
  const res = await fetch(`http://127.0.0.1:${rx.rw}/api/v1/receive`, {
    method: 'POST', headers: REMOTE_WRITE_HEADERS,
    body: encodeRemoteWriteBody({ timeseries: Array.from({ length: 20 }, (_, i) => ({ labels: [{ name: '__name__', value: 'mixin_q' }, { name: 'i', value: String(i) }], samples: [{ timestamp: now - 1000, value: i }] })) }),
  });
  assert.is(res.status, 200, await res.text());
  const base = `http://127.0.0.1:${q.http}`;
  await waitFor(async () => {
    const j = (await (await fetch(`${base}/api/v1/query?query=count(mixin_q)&time=${now / 1000}`)).json()) as { data?: { result: Array<{ value: [number, string] }> } };
    return j.data?.result[0]?.value[1] === '20';
  }, STARTUP_MS, 'the written series through the querier', query.logs);
  // Eight queries at once through a gate of two (they wait their turn), instant and range.
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(i % 2
    ? `${base}/api/v1/query_range?query=sum(mixin_q)&start=${(now - 600_000) / 1000}&end=${now / 1000}&step=15`
    : `${base}/api/v1/query?query=mixin_q&time=${now / 1000}`).then((r) => r.status)));
  assert.equal(answers, Array(8).fill(200));

  const m = await (await fetch(`${base}/metrics`)).text();
  assert.equal(mixinGaps('query', m, QUERY_EXEMPT), [], 'the querier exposes what the mixin reads');
  // pkg/gate: the query gate and the select gate factory.
  assert.is(valueOf(m, 'thanos_query_concurrent_gate_queries_max'), 2);
  assert.ok(valueOf(m, 'thanos_query_concurrent_gate_queries_total') >= 9);
  assert.is(valueOf(m, 'thanos_query_concurrent_gate_queries_in_flight'), 0);
  assert.ok(valueOf(m, 'thanos_query_concurrent_gate_queries_duration_seconds_count') >= 9);
  assert.equal(seriesOf(m, 'thanos_query_concurrent_gate_queries_duration_seconds_bucket').map((s) => s.labels.le), [...GATE_DURATION_BUCKETS.map(String), '+Inf']);
  assert.is(valueOf(m, 'thanos_query_concurrent_selects_gate_selects_max'), 3);
  assert.ok(valueOf(m, 'thanos_query_concurrent_selects_gate_selects_total') >= 9);
  assert.is(valueOf(m, 'thanos_query_concurrent_selects_gate_selects_in_flight'), 0);
  // The receiver as Thanos's endpoint set collector shows it (only current combinations: the one of
  // the first Info round, before the receiver had a tenant, is gone).
  assert.is(seriesOf(m, 'thanos_store_nodes_grpc_connections').length, 1);
  assert.is(valueOf(m, 'thanos_store_nodes_grpc_connections', { external_labels: '{receive_replica="0", tenant_id="default-tenant"}', store_type: 'receive' }), 1);

  // The querier's /flags and /status pages (upstream's React UI routes) are served.
  for (const p of ['/flags', '/status']) {
    const r = await fetch(`${base}${p}`);
    assert.is(r.status, 200, p);
    assert.match(await r.text(), /static\/status\.js/);
  }
});

test.run();

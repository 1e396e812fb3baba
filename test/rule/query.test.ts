// thanos rule with our own querier as its query API, and the querier reading the ruler's StoreAPI:
// `thanos query --endpoint <rule gRPC>` and `thanos rule --query <query HTTP>`. A recording rule over
// vector() feeds a second rule that reads the first one's output back through the querier, and the
// querier answers for the recorded series with the ruler's external labels (replica deduplicated).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, thanos, waitFor, httpReady, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const dir = mkdtempSync(join(tmpdir(), 'rule-query-'));
let rule: Proc | undefined;
let query: Proc | undefined;
let ruleHttp = 0;
let queryHttp = 0;

test.before(async () => {
  writeFileSync(join(dir, 'r.yml'), `groups:
  - name: chain
    interval: 1s
    rules:
      - record: rq:one
        expr: vector(1)
      - record: rq:two
        expr: rq:one * 2
      - alert: Always
        expr: rq:one > 0
`);
  ruleHttp = await freePort();
  const ruleGrpc = await freePort();
  queryHttp = await freePort();
  const queryGrpc = await freePort();
  query = thanos('query', ['query', '--endpoint', `127.0.0.1:${ruleGrpc}`, '--endpoint.info-interval', '1s', '--query.replica-label', 'replica',
    '--http-address', `127.0.0.1:${queryHttp}`, '--grpc-address', `127.0.0.1:${queryGrpc}`], dir);
  rule = thanos('rule', ['rule', '--rule-file', 'r.yml', '--query', `http://127.0.0.1:${queryHttp}`, '--label', 'tenant="t1"', '--label', 'replica="r1"',
    '--http-address', `127.0.0.1:${ruleHttp}`, '--grpc-address', `127.0.0.1:${ruleGrpc}`], dir);
});

test.after(async () => {
  await rule?.kill();
  await query?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test('the ruler evaluates through our querier, and the querier reads the ruler back', async () => {
  const logs = () => `${rule!.logs()}\n---- query\n${query!.logs()}`;
  await waitFor(() => httpReady(ruleHttp), STARTUP_MS, 'ruler ready', logs);
  type Vec = { status: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  // rq:two needs rq:one to come back through querier → ruler StoreAPI
  await waitFor(async () => {
    const r = (await (await fetch(`http://127.0.0.1:${queryHttp}/api/v1/query?query=rq:two`)).json()) as Vec;
    return r.data.result.length === 1 && r.data.result[0]!.value[1] === '2';
  }, 30_000, 'rq:two through the querier', logs);
  const r = (await (await fetch(`http://127.0.0.1:${queryHttp}/api/v1/query?query=rq:two`)).json()) as Vec;
  assert.equal(r.data.result[0]!.metric, { __name__: 'rq:two', tenant: 't1' }, 'external labels kept, replica label deduplicated away');
  const alerts = (await (await fetch(`http://127.0.0.1:${ruleHttp}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
  assert.is(alerts.data.alerts.length, 1);
  assert.is(alerts.data.alerts[0]!.state, 'firing');
  assert.equal(alerts.data.alerts[0]!.labels, { alertname: 'Always', tenant: 't1', replica: 'r1' });
  const rules = (await (await fetch(`http://127.0.0.1:${ruleHttp}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
  assert.ok(rules.data.groups[0]!.rules.every((x) => x.health === 'ok'), JSON.stringify(rules));
});

test.run();

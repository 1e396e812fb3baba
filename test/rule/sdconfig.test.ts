// --alertmanagers.config(-file) and --query.config(-file): parsing (strict keys, what is refused and
// why), file SD resolution (globs, refresh_interval, a broken file keeps its previous targets), auth
// headers, and the ruler in process with both configs given as files: its query API is a loopback
// HTTP server that checks the bearer token, its Alertmanager a real Alertmanager 0.25 found through
// file SD and reached over API v1 (Thanos's default) and v2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointsResolver, parseAlertmanagersConfig, parseQueryEndpointsConfig } from '../../lib/rules/mod.ts';
import { createRule, parseRuleConfig } from '../../plugins/component/rule/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { Registry } from '../../host/metrics.ts';
import type { ComponentContext } from '../../host/index.ts';
import { freePort, httpReady, startProc, waitFor, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';

const AM = '/usr/bin/prometheus-alertmanager';
const fs = nodeFs();

test('alertmanagers config: Thanos fields, defaults (api v1, timeout 10s), strict keys, refusals naming the field', () => {
  const c = parseAlertmanagersConfig(`alertmanagers:
  - static_configs: ["127.0.0.1:9093"]
    http_config: { basic_auth: { username: u, password: p } }
    path_prefix: am/
  - file_sd_configs: [{ files: ["/x/*.yml"], refresh_interval: 30s }]
    scheme: https
    timeout: 3s
    api_version: v2
`);
  assert.is(c.length, 2);
  assert.equal(c[0]!.staticConfigs, ['127.0.0.1:9093']);
  assert.is(c[0]!.apiVersion, 'v1');
  assert.is(c[0]!.timeoutMs, 10_000);
  assert.is(c[0]!.pathPrefix, '/am');
  assert.equal(c[0]!.http.basicAuth, { username: 'u', password: 'p' });
  assert.equal(c[1]!.fileSdConfigs, [{ files: ['/x/*.yml'], refreshMs: 30_000 }]);
  assert.is(c[1]!.scheme, 'https');
  assert.is(c[1]!.apiVersion, 'v2');
  assert.is(c[1]!.timeoutMs, 3000);
  const bad: Array<[string, RegExp]> = [
    ['alertmanagers:\n  - static_configs: ["dns+am"]\n', /static_configs\[0\]: missing port in address given for dns lookup: dns\+am/],
    ['alertmanagers:\n  - static_configs: ["dns+http://am:9093"]\n', /static_configs\[0\]: "dns\+http:\/\/am:9093" is not a host:port address/],
    ['alertmanagers:\n  - static_configs: ["http://am:9093"]\n', /is not a host:port address/],
    ['alertmanagers:\n  - http_config: { tls_config: { cert_file: /c.pem } }\n', /alertmanagers\[0\]\.http_config\.tls_config\.key_file: client cert file "\/c\.pem" specified without client key file/],
    ['alertmanagers:\n  - http_config: { tls_config: { ca: x } }\n', /tls_config\.ca: unknown field/],
    ['alertmanagers:\n  - http_config: { transport_config: { max_idle_conns: 5 } }\n', /transport_config\.max_idle_conns: only Thanos's default \(100\) is supported/],
    ['alertmanagers:\n  - http_config: { proxy_url: "http://p:1" }\n', /proxy_url: is not implemented yet/],
    ['alertmanagers:\n  - api_version: v3\n', /api_version: unsupported Alertmanager API version "v3"/],
    ['alertmanagers:\n  - timeout: soon\n', /timeout: /],
    ['alertmanagers:\n  - bogus: 1\n', /alertmanagers\[0\]: field bogus not found/],
    ['alertmanagers:\n  - file_sd_configs: [{ files: [] }]\n', /must contain at least one path name/],
    ['alertmanagers:\n  - http_config: { bearer_token: a, bearer_token_file: b }\n', /at most one of bearer_token and bearer_token_file/],
    ['am: []\n', /field am not found/],
  ];
  for (const [y, re] of bad) assert.throws(() => parseAlertmanagersConfig(y), re, y);
  assert.throws(() => parseQueryEndpointsConfig('static_configs: [a:1]\n'), /expected a list of endpoint configs/);
  assert.throws(() => parseQueryEndpointsConfig('- timeout: 1s\n'), /field timeout not found/);
});

test('flags: --query.config* and --alertmanagers.config* exclusive with --query / --alertmanagers.url; inline configs checked at parse', () => {
  assert.throws(() => parseRuleConfig({ queries: ['http://q:1'], queryConfig: '- static_configs: [q:1]\n' }), /--query and --query\.config\* parameters cannot be defined at the same time/);
  assert.throws(() => parseRuleConfig({ queryConfig: '- static_configs: [q:1]\n', queryConfigFile: 'q.yml' }), /only one of --query\.config and --query\.config-file/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q:1'], alertmanagersUrls: ['http://a:1'], alertmanagersConfig: 'alertmanagers: []\n' }), /cannot be defined at the same time/);
  assert.throws(() => parseRuleConfig({ queryConfig: '- static_configs: ["dnssrv+_q._tcp:x"]\n' }), /queryConfig: .*invalid port "x"/);
  const c = parseRuleConfig({ queryConfigFile: 'q.yml', alertmanagersConfigFile: 'a.yml' });
  assert.is(c.queries.length, 0);
  assert.is(c.queryConfigFile, 'q.yml');
});

test('file SD: globbed files, refresh_interval, a broken file keeps its previous targets; auth headers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rule-sd-'));
  try {
    writeFileSync(join(dir, 'a.yml'), '- targets: ["h1:1", "h2:2"]\n  labels: { x: y }\n');
    writeFileSync(join(dir, 'b.json'), '[{"targets": ["h3:3"]}]');
    writeFileSync(join(dir, 'pw'), 'secret\n');
    const errs: string[] = [];
    const r = new EndpointsResolver({
      http: { basicAuth: { username: 'u', passwordFile: join(dir, 'pw') } }, staticConfigs: ['s:9'], scheme: 'http', pathPrefix: '/p',
      fileSdConfigs: [{ files: [join(dir, '*.yml'), join(dir, '*.json')], refreshMs: 60_000 }],
    }, fs, (m) => errs.push(m));
    const t0 = await r.targets(1_000_000);
    assert.equal(t0.map((t) => t.base), ['http://s:9/p', 'http://h1:1/p', 'http://h2:2/p', 'http://h3:3/p']);
    assert.is(t0[0]!.headers.Authorization, `Basic ${btoa('u:secret')}`);
    writeFileSync(join(dir, 'a.yml'), '- targets: ["h4:4"]\n');
    assert.equal((await r.targets(1_030_000)).map((t) => t.base).slice(1, 3), ['http://h1:1/p', 'http://h2:2/p'], 'not re-read before refresh_interval');
    assert.equal((await r.targets(1_061_000)).map((t) => t.base).slice(1, 2), ['http://h4:4/p'], 're-read after refresh_interval');
    writeFileSync(join(dir, 'a.yml'), '- targets: [oops\n');
    assert.equal((await r.targets(1_130_000)).map((t) => t.base).slice(1, 2), ['http://h4:4/p'], 'a broken file keeps its previous targets');
    assert.ok(errs.some((e) => e.includes('a.yml')), errs.join('\n'));
    const b = new EndpointsResolver({ http: { bearerToken: 'tok' }, staticConfigs: ['q:1'], scheme: 'https', pathPrefix: '', fileSdConfigs: [] }, fs);
    assert.equal(await b.targets(), [{ base: 'https://q:1', headers: { Authorization: 'Bearer tok' } }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function ctx(dataDir: string, ready: { v: boolean }): ComponentContext {
  return stubComponentCtx({
    pluginId: 'component:rule',
    dataDir,
    fetch: (input, init) => fetch(input, init),
    fs,
    setReady: (r) => { ready.v = r; },
    addresses: { http: '127.0.0.1:10902' },
  });
}

test('the ruler with --query.config-file (bearer token) and --alertmanagers.config-file (file SD) reaches a real Alertmanager over API v1 and v2', async () => {
  assert.ok(existsSync(AM), `${AM} missing: apt-get install -y prometheus-alertmanager`);
  const dir = mkdtempSync(join(tmpdir(), 'rule-sd-e2e-'));
  let am: Proc | undefined;
  let qs: Server | undefined;
  const ac = new AbortController();
  let running: Promise<void> | undefined;
  try {
    const amPort = await freePort();
    mkdirSync(join(dir, 'am'));
    writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
    am = startProc('alertmanager', AM, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], dir);
    await waitFor(() => httpReady(amPort), STARTUP_MS, 'alertmanager ready', am.logs);
    // The query API: answers vector(1) to a request with the configured bearer token, 401 otherwise.
    const qPort = await freePort();
    const seenAuth: string[] = [];
    qs = createServer((req, res) => {
      seenAuth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== 'Bearer qtok') {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"status":"error","errorType":"unauthorized","error":"no"}');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { src: 'sd' }, value: [1, '1'] }] } }));
    });
    await new Promise<void>((r) => qs!.listen(qPort, '127.0.0.1', () => r()));
    writeFileSync(join(dir, 'query.yml'), `- static_configs: ["127.0.0.1:${qPort}"]\n  http_config: { bearer_token: qtok }\n`);
    writeFileSync(join(dir, 'targets.yml'), `- targets: ["127.0.0.1:${amPort}"]\n`);
    writeFileSync(join(dir, 'am-sd.yml'), `alertmanagers:\n  - file_sd_configs: [{ files: [${JSON.stringify(join(dir, 'targets.yml'))}] }]\n    timeout: 5s\n` +
      `  - static_configs: ["127.0.0.1:${amPort}"]\n    api_version: v2\n`);
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: FromSd\n        expr: vector(1)\n');
    const ready = { v: false };
    const c = ctx(join(dir, 'data'), ready);
    const comp = await createRule(c, parseRuleConfig({ ruleFiles: [join(dir, 'rules.yml')], evalInterval: '200ms', queryConfigFile: join(dir, 'query.yml'), alertmanagersConfigFile: join(dir, 'am-sd.yml'), labels: ['replica="sd"'] }));
    running = comp.run(ac.signal);
    await waitFor(async () => {
      const r = (await (await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts?filter=${encodeURIComponent('alertname="FromSd"')}`)).json()) as Array<{ labels: Record<string, string> }>;
      return r.length === 1 && r[0]!.labels.src === 'sd' && r[0]!.labels.replica === 'sd';
    }, 30_000, 'alert in Alertmanager', am.logs);
    assert.ok(seenAuth.length > 0 && seenAuth.every((a) => a === 'Bearer qtok'), seenAuth.join(','));
    // Both entries got it: file SD (API v1) and the static one (API v2), counted per Alertmanager URL.
    const sent = new RegExp(`thanos_alert_sender_alerts_sent_total\\{alertmanager="127\\.0\\.0\\.1:${amPort}"\\} ([2-9]|\\d\\d)`);
    await waitFor(async () => sent.test((c.metrics as Registry).render()), 30_000, 'sent through both entries', () => (c.metrics as Registry).render());
    assert.not.match((c.metrics as Registry).render(), /thanos_alert_sender_errors_total\{[^}]*\} [1-9]/);
  } finally {
    ac.abort();
    await running;
    qs?.close();
    await am?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

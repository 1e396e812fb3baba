// Outbound TLS of the components, as real processes on loopback (issue #13 item 3): a real Prometheus
// 2.42 serving HTTPS with basic auth (its own --web.config.file) and a real Alertmanager 0.25 serving
// HTTPS; `thanos sidecar` reaches the Prometheus through --prometheus.http-client-file (basic_auth +
// tls_config), `thanos rule` queries it through --query.config-file, sends alerts through
// --alertmanagers.config-file (tls_config, with a client certificate) and, stateless, remote-writes to
// it (--remote-write.config-file tls_config). Certificates from scripts/make-certs.sh (certs.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { makeTestPki } from './certs.ts';

const AM = '/usr/bin/prometheus-alertmanager';
const pki = makeTestPki();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbound-tls-components-'));
const procs: Proc[] = [];
const PASSWORD = 'pr0m-secret';
let promPort = 0;
let amPort = 0;

/** GET over https trusting the test CA; the status code (and body). */
function httpsGet(port: number, p: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: p, ca: fs.readFileSync(pki.ca), headers: auth ? { authorization: auth } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}
const basic = `Basic ${Buffer.from(`thanos:${PASSWORD}`).toString('base64')}`;

test.before(async () => {
  // Prometheus: HTTPS with the test CA's server certificate, basic auth required.
  fs.writeFileSync(path.join(dir, 'prom-web.yml'), `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.server.key}\nbasic_auth_users:\n  thanos: ${JSON.stringify(bcrypt.hashSync(PASSWORD, 4))}\n`);
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n  external_labels:\n    cluster: tls\nscrape_configs: []\n');
  promPort = await freePort();
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'promdata')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    `--web.config.file=${path.join(dir, 'prom-web.yml')}`, '--web.enable-remote-write-receiver',
  ], dir);
  procs.push(prom);
  await waitFor(async () => (await httpsGet(promPort, '/-/ready', basic)).status === 200, STARTUP_MS, 'prometheus ready over https', prom.logs);
  // Alertmanager: HTTPS only.
  fs.writeFileSync(path.join(dir, 'am-web.yml'), `tls_server_config:\n  cert_file: ${pki.server.cert}\n  key_file: ${pki.server.key}\n`);
  fs.writeFileSync(path.join(dir, 'am.yml'), 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
  fs.mkdirSync(path.join(dir, 'am'));
  amPort = await freePort();
  const am = startProc('alertmanager', AM, [`--config.file=${path.join(dir, 'am.yml')}`, `--storage.path=${path.join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=', `--web.config.file=${path.join(dir, 'am-web.yml')}`], dir);
  procs.push(am);
  await waitFor(async () => (await httpsGet(amPort, '/-/ready')).status === 200, STARTUP_MS, 'alertmanager ready over https', am.logs);
});

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  pki.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the servers really require TLS and the password (the cases below can fail)', async () => {
  assert.is((await httpsGet(promPort, '/api/v1/status/config')).status, 401);
  assert.not.ok(await httpReady(promPort).catch(() => false), 'plain http is not served');
});

async function sidecar(name: string, clientYaml: string): Promise<{ proc: Proc; http: number }> {
  const file = path.join(dir, `${name}-client.yml`);
  fs.writeFileSync(file, clientYaml);
  const http = await freePort();
  const grpc = await freePort();
  fs.mkdirSync(path.join(dir, `${name}-tsdb`), { recursive: true });
  const proc = thanos(name, ['sidecar', '--tsdb.path', path.join(dir, `${name}-tsdb`), '--prometheus.url', `https://127.0.0.1:${promPort}`,
    '--prometheus.http-client-file', file, '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  procs.push(proc);
  return { proc, http };
}

test('sidecar → Prometheus over https with basic auth from --prometheus.http-client-file: ready (external labels loaded)', async () => {
  const { proc, http } = await sidecar('sidecar-ok', `basic_auth:\n  username: thanos\n  password_file: ${path.join(dir, 'pw')}\ntls_config:\n  ca_file: ${pki.ca}\n`);
  fs.writeFileSync(path.join(dir, 'pw'), `${PASSWORD}\n`);
  await waitFor(() => httpReady(http), STARTUP_MS, 'sidecar ready', proc.logs);
  assert.match(proc.logs(), /successfully loaded prometheus external labels.*cluster/);
});

test('sidecar → Prometheus: without the CA the certificate is refused; with a wrong password Prometheus answers 401', async () => {
  const noCa = await sidecar('sidecar-noca', `basic_auth: { username: thanos, password: ${PASSWORD} }\n`);
  await waitFor(async () => /certificate/i.test(noCa.proc.logs()), STARTUP_MS, 'a certificate error logged', noCa.proc.logs);
  assert.not.ok(await httpReady(noCa.http), 'not ready');
  const badPw = await sidecar('sidecar-badpw', `basic_auth: { username: thanos, password: wrong }\ntls_config: { ca_file: ${pki.ca} }\n`);
  await waitFor(async () => /401|Unauthorized/i.test(badPw.proc.logs()), STARTUP_MS, 'a 401 logged', badPw.proc.logs);
  assert.not.ok(await httpReady(badPw.http), 'not ready');
});

test('sidecar: --prometheus.http-client refuses what it cannot honour, by name', async () => {
  const p = thanos('sidecar-refuse', ['sidecar', '--prometheus.http-client', 'proxy_url: http://proxy:3128\n'], dir);
  procs.push(p);
  const code = await new Promise<number | null>((r) => p.proc.once('exit', (c) => r(c)));
  assert.ok(code !== 0 && code !== null, p.logs());
  assert.match(p.logs(), /prometheus\.http-client\.proxy_url: is not implemented yet/);
});

test('rule → Prometheus (basic auth, tls_config) for queries and → Alertmanager over https (tls_config): the alert arrives', async () => {
  fs.writeFileSync(path.join(dir, 'rules.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: OverTls\n        expr: vector(1)\n');
  fs.writeFileSync(path.join(dir, 'query.yml'), `- static_configs: ["127.0.0.1:${promPort}"]\n  scheme: https\n  http_config:\n    basic_auth: { username: thanos, password: ${PASSWORD} }\n    tls_config: { ca_file: ${pki.ca}, server_name: localhost }\n`);
  fs.writeFileSync(path.join(dir, 'am-sd.yml'), `alertmanagers:\n  - static_configs: ["127.0.0.1:${amPort}"]\n    scheme: https\n    api_version: v2\n    http_config:\n      tls_config: { ca_file: ${pki.ca}, cert_file: ${pki.client.cert}, key_file: ${pki.client.key} }\n`);
  const http = await freePort();
  const grpc = await freePort();
  const rule = thanos('rule', ['rule', '--rule-file', path.join(dir, 'rules.yml'), '--eval-interval', '1s', '--query.config-file', path.join(dir, 'query.yml'),
    '--alertmanagers.config-file', path.join(dir, 'am-sd.yml'), '--label', 'replica="tls"', '--data-dir', path.join(dir, 'rule-data'),
    '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  procs.push(rule);
  await waitFor(async () => {
    const r = await httpsGet(amPort, `/api/v2/alerts?filter=${encodeURIComponent('alertname="OverTls"')}`);
    const alerts = JSON.parse(r.body) as Array<{ labels: Record<string, string> }>;
    return alerts.length === 1 && alerts[0]!.labels.replica === 'tls';
  }, STARTUP_MS, 'the alert in Alertmanager', rule.logs);
});

test('rule: an Alertmanager config whose ca_file is not the issuer: sending fails with a certificate error, counted', async () => {
  fs.writeFileSync(path.join(dir, 'am-bad.yml'), `alertmanagers:\n  - static_configs: ["127.0.0.1:${amPort}"]\n    scheme: https\n    api_version: v2\n    http_config:\n      tls_config: { ca_file: ${pki.other.ca} }\n`);
  const http = await freePort();
  const grpc = await freePort();
  const rule = thanos('rule-bad', ['rule', '--rule-file', path.join(dir, 'rules.yml'), '--eval-interval', '1s', '--query.config-file', path.join(dir, 'query.yml'),
    '--alertmanagers.config-file', path.join(dir, 'am-bad.yml'), '--label', 'replica="bad"', '--data-dir', path.join(dir, 'rule-bad-data'),
    '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  procs.push(rule);
  await waitFor(async () => /sending alerts to Alertmanager failed.*certificate/i.test(rule.logs()), STARTUP_MS, 'a certificate failure logged', rule.logs);
});

test('stateless rule → remote write to Prometheus over https (basic_auth + tls_config): the recorded series arrives', async () => {
  fs.writeFileSync(path.join(dir, 'rw-rules.yml'), 'groups:\n  - name: rw\n    rules:\n      - record: tls:written\n        expr: vector(7)\n');
  fs.writeFileSync(path.join(dir, 'rw.yml'), `remote_write:\n  - url: https://127.0.0.1:${promPort}/api/v1/write\n    basic_auth: { username: thanos, password: ${PASSWORD} }\n` +
    `    tls_config: { ca_file: ${pki.ca} }\n    queue_config: { batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms }\n`);
  const http = await freePort();
  const grpc = await freePort();
  const rule = thanos('rule-rw', ['rule', '--rule-file', path.join(dir, 'rw-rules.yml'), '--eval-interval', '1s', '--query.config-file', path.join(dir, 'query.yml'),
    '--remote-write.config-file', path.join(dir, 'rw.yml'), '--label', 'replica="rw"', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`], dir);
  procs.push(rule);
  await waitFor(async () => {
    const r = await httpsGet(promPort, `/api/v1/query?query=${encodeURIComponent('tls:written{replica="rw"}')}`, basic);
    return (JSON.parse(r.body) as { data: { result: unknown[] } }).data.result.length === 1;
  }, STARTUP_MS, 'the remote-written series in Prometheus', rule.logs);
});

test.run();

// End to end with real clients over TLS on loopback: Prometheus 2.42 (Go's HTTP client, HTTP/2 by
// ALPN) scrapes a `thanos query` whose HTTP listener has --http.config (TLS + basic auth) with
// basic_auth and tls_config.ca_file, and is refused without the password or without trusting our CA
// (promtool 2.42's query commands have no --http.config.file; it came in a later release); a real
// Prometheus 2.42 remote-writes to `thanos receive` over mTLS (--remote-write.server-tls-cert/key/
// client-ca; Prometheus's remote_write tls_config with a client certificate), its samples reach the
// receiver's StoreAPI and the write is counted as handler="receive"; a client without a certificate,
// or with one from another CA, is refused. Upstream applies --http.config to the receiver's main HTTP
// port only, not to the remote-write listener (its own --remote-write.server-tls-* flags), so basic
// auth is not offered on remote write here either.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, labelsRec } from '../receive/helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { makeTestPki, type TestPki } from './certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'http-e2e-'));
const procs: Proc[] = [];
const clients: StoreClient[] = [];
let pki: TestPki;

test.before(() => {
  pki = makeTestPki();
});
test.after(async () => {
  for (const c of clients) c.close();
  for (const p of procs.reverse()) await p.kill('SIGKILL');
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function request(port: number, p: string, o: { ca?: string; cert?: string; key?: string; auth?: string; method?: string; body?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', agent: false,
      ca: o.ca ? readFileSync(o.ca) : undefined, cert: o.cert ? readFileSync(o.cert) : undefined, key: o.key ? readFileSync(o.key) : undefined,
      headers: o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {},
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

test('a real Go client (Prometheus 2.42 scraping over HTTPS/HTTP2 with basic_auth and tls_config) against a querier behind --http.config', async () => {
  if (!existsSync('/usr/bin/prometheus')) throw new Error('/usr/bin/prometheus missing');
  const [hp, gp, pp] = [await freePort(), await freePort(), await freePort()];
  const web = join(dir, 'web.yml');
  writeFileSync(web, [
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    'basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 6)}`, '',
  ].join('\n'));
  const q = thanos('query', ['query', `--http-address=127.0.0.1:${hp}`, `--grpc-address=127.0.0.1:${gp}`, `--http.config=${web}`], dir);
  procs.push(q);
  await waitFor(async () => (await request(hp, '/-/ready', { ca: pki.ca, auth: 'alice:s3cret' })).status === 200, STARTUP_MS, 'querier ready', q.logs);
  assert.match(q.logs(), /TLS is enabled\./);
  const answer = await request(hp, `/api/v1/query?query=${encodeURIComponent('vector(42)')}`, { ca: pki.ca, auth: 'alice:s3cret' });
  assert.is(answer.status, 200);
  assert.is(JSON.parse(answer.body).data.result[0].value[1], '42');

  const job = (name: string, extra: string[]) => [`  - job_name: ${name}`, '    scheme: https', ...extra, '    static_configs:', `      - targets: ['127.0.0.1:${hp}']`];
  writeFileSync(join(dir, 'scrape.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:',
    ...job('ok', ['    basic_auth: { username: alice, password: s3cret }', `    tls_config: { ca_file: ${pki.ca} }`]),
    ...job('wrong_password', ['    basic_auth: { username: alice, password: guess }', `    tls_config: { ca_file: ${pki.ca} }`]),
    ...job('no_password', [`    tls_config: { ca_file: ${pki.ca} }`]),
    ...job('untrusted', ['    basic_auth: { username: alice, password: s3cret }']),
    '',
  ].join('\n'));
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'scrape.yml')}`, `--storage.tsdb.path=${join(dir, 'promdata-scrape')}`, `--web.listen-address=127.0.0.1:${pp}`,
  ], dir);
  procs.push(prom);
  type Target = { labels: { job: string }; health: string; lastError: string };
  let targets: Target[] = [];
  await waitFor(async () => {
    const r = await fetch(`http://127.0.0.1:${pp}/api/v1/targets`);
    targets = ((await r.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
    if (targets.length !== 4 || targets.some((t) => t.health === 'unknown')) return false;
    // Each target's settled outcome, not its first scrape: the scrape timeout is the 1 s interval,
    // and on a loaded machine one scrape can time out ("context deadline exceeded") before the
    // querier answers. A wrong answer never settles, so waitFor fails with the targets below.
    const at = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    return at.ok?.health === 'up' && [at.wrong_password, at.no_password].every((t) => t?.health === 'down' && /401/.test(t.lastError)) &&
      at.untrusted?.health === 'down' && /certificate/.test(at.untrusted.lastError);
  }, STARTUP_MS, 'every target scraped to its expected outcome', () => `${prom.logs()}\n${JSON.stringify(targets)}`);
  const by = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
  assert.is(by.ok!.health, 'up', by.ok!.lastError);
  assert.is(by.wrong_password!.health, 'down');
  assert.match(by.wrong_password!.lastError, /401/);
  assert.match(by.no_password!.lastError, /401/);
  assert.match(by.untrusted!.lastError, /certificate/);

  const m = await request(hp, '/metrics', { ca: pki.ca, auth: 'alice:s3cret' });
  assert.match(m.body, /^http_requests_total\{code="200",handler="query",method="get"\} [1-9]/m, 'counted under Thanos\'s handler name');
  assert.match(m.body, /^http_requests_total\{code="200",handler="query_range",method="get"\} 0$/m, 'pre-created for the mixin');
});

test('Prometheus 2.42 remote-writes to receive over mTLS (--remote-write.server-tls-*); no or foreign client certificate refused', async () => {
  if (!existsSync('/usr/bin/prometheus')) throw new Error('/usr/bin/prometheus missing');
  const [rw, gp, hp, pp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const rx = thanos('receive', [
    'receive', `--remote-write.address=127.0.0.1:${rw}`, `--grpc-address=127.0.0.1:${gp}`, `--http-address=127.0.0.1:${hp}`,
    `--tsdb.path=${join(dir, 'rx')}`, '--label=receive_replica="r1"',
    `--remote-write.server-tls-cert=${pki.server.cert}`, `--remote-write.server-tls-key=${pki.server.key}`, `--remote-write.server-tls-client-ca=${pki.ca}`,
  ], dir);
  procs.push(rx);
  await waitFor(() => httpReady(hp), STARTUP_MS, 'receiver ready', rx.logs);

  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: prom', '    static_configs:', `      - targets: ['127.0.0.1:${pp}']`,
    'remote_write:', `  - url: https://127.0.0.1:${rw}/api/v1/receive`,
    '    tls_config:', `      ca_file: ${pki.ca}`, `      cert_file: ${pki.client.cert}`, `      key_file: ${pki.client.key}`,
    '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 500ms }', '',
  ].join('\n'));
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'promdata')}`, `--web.listen-address=127.0.0.1:${pp}`,
  ], dir);
  procs.push(prom);

  const client = new StoreClient(dialGrpc(`127.0.0.1:${gp}`));
  clients.push(client);
  const upSeries = async () => collect(client.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 60_000, matchers: [{ type: '=', name: '__name__', value: 'up' }] }), new AbortController().signal));
  await waitFor(async () => (await upSeries()).length > 0, STARTUP_MS, 'samples from Prometheus over mTLS', () => `${prom.logs()}\n${rx.logs()}`);
  const got = (await upSeries()).map(labelsRec);
  assert.equal(got.map((l) => [l.job, l.receive_replica, l.tenant_id]), [['prom', 'r1', 'default-tenant']]);

  const body = Buffer.from('not snappy');
  await assert.not.ok(await request(rw, '/api/v1/receive', { method: 'POST', body, ca: pki.ca }).then(() => true, () => false), 'no client certificate: refused');
  await assert.not.ok(await request(rw, '/api/v1/receive', { method: 'POST', body, ca: pki.ca, cert: pki.other.client.cert, key: pki.other.client.key }).then(() => true, () => false), 'foreign client certificate: refused');
  const withCert = await request(rw, '/api/v1/receive', { method: 'POST', body, ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
  assert.is(withCert.status, 400, 'with our client certificate the request reaches the handler (and the junk body is refused)');

  const m = await (await fetch(`http://127.0.0.1:${hp}/metrics`)).text();
  assert.match(m, /^http_requests_total\{code="200",handler="receive",method="post",tenant="default-tenant"\} [1-9]/m, 'Thanos receive instrumentation (tenant label)');
  assert.match(m, /^http_request_duration_seconds_bucket\{code="200",handler="receive",method="post",tenant="default-tenant",le="0\.005"\}/m, 'receive duration buckets');
  assert.match(m, /^http_requests_total\{code="400",handler="receive",method="post",tenant="default-tenant"\} 1$/m);
});

test('thanos tools bucket web behind --http.config (TLS + basic auth on its one listener)', async () => {
  const hp = await freePort();
  const web = join(dir, 'web-tools.yml');
  writeFileSync(web, ['tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`, 'basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 4)}`, ''].join('\n'));
  const bw = thanos('tools', ['tools', 'bucket', 'web', `--http-address=127.0.0.1:${hp}`, `--http.config=${web}`,
    `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${join(dir, 'bw-bucket')}\n`], dir);
  procs.push(bw);
  await waitFor(async () => (await request(hp, '/api/v1/blocks', { ca: pki.ca, auth: 'alice:s3cret' })).status === 200, STARTUP_MS, 'bucket web', bw.logs);
  assert.is((await request(hp, '/api/v1/blocks', { ca: pki.ca })).status, 401);
  assert.is((await request(hp, '/api/v1/blocks', { ca: pki.ca, auth: 'alice:nope' })).status, 401);
  assert.match(bw.logs(), /TLS is enabled\./);
});

test.run();

// `--remote-write.server-http-config` (ours, not upstream's: Thanos has no authentication on the
// remote-write port): receive's remote-write listener behind a web configuration file in
// --http.config's format, through the same code as --http.config. A real Prometheus 2.42
// remote-writes over TLS with basic_auth and tls_config.ca_file and its samples reach the StoreAPI;
// its queues with a wrong or no password are refused (401, counted in
// prometheus_remote_storage_samples_failed_total). The file is re-read when it changes; a bad file
// stops the start; the flag and --remote-write.server-tls-* are mutually exclusive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../../lib/sdk/mod.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { parseReceiveConfig } from '../../plugins/component/receive/config.ts';
import { freePort, httpReady, startProc, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, labelsRec } from '../receive/helpers.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { makeTestPki, type TestPki } from './certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'receive-rw-auth-'));
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

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One request with node's client (no pooling), over TLS when `ca` is given. */
function request(port: number, p: string, o: { ca?: string; auth?: string; method?: string; body?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const opts = {
      host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', agent: false,
      headers: o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {},
    };
    const onRes = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    };
    const req = o.ca ? https.request({ ...opts, ca: readFileSync(o.ca) }, onRes) : http.request(opts, onRes);
    req.on('error', reject);
    req.end(o.body);
  });
}

const junk = Buffer.from('not snappy');
const post = (port: number, o: { ca?: string; auth?: string }) => request(port, '/api/v1/receive', { ...o, method: 'POST', body: junk });

/** The value of one series in Prometheus's /metrics text (0 when absent). */
function metricValue(text: string, name: string, labelPart: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labelPart)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

async function startReceive(name: string, extra: string[]): Promise<{ rx: Proc; rw: number; gp: number; hp: number }> {
  const [rw, gp, hp] = [await freePort(), await freePort(), await freePort()];
  const rx = thanos(name, [
    'receive', `--remote-write.address=127.0.0.1:${rw}`, `--grpc-address=127.0.0.1:${gp}`, `--http-address=127.0.0.1:${hp}`,
    `--tsdb.path=${join(dir, name)}`, '--label=receive_replica="r1"', ...extra,
  ], dir);
  procs.push(rx);
  return { rx, rw, gp, hp };
}

function exitOf(p: Proc): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.proc.exitCode !== null) return resolve(p.proc.exitCode);
    p.proc.once('exit', (code) => resolve(code));
  });
}

test('Prometheus 2.42 remote-writes over TLS with basic auth; wrong or no password refused (401, samples failed); the file is re-read', async () => {
  if (!existsSync('/usr/bin/prometheus')) throw new Error('/usr/bin/prometheus missing');
  const web = join(dir, 'rw-web.yml');
  writeFileSync(web, [
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    'http_server_config:', '  headers:', '    X-Frame-Options: deny',
    'basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 6)}`, '',
  ].join('\n'));
  const { rx, rw, gp, hp } = await startReceive('rx-auth', [`--remote-write.server-http-config=${web}`]);
  await waitFor(() => httpReady(hp), STARTUP_MS, 'receiver ready', rx.logs);
  assert.match(rx.logs(), /TLS is enabled\./);

  // Direct requests first: the guard answers before the handler.
  const none = await post(rw, { ca: pki.ca });
  assert.is(none.status, 401, 'no credentials');
  assert.is(none.headers['www-authenticate'], 'Basic');
  assert.is(none.headers['x-frame-options'], 'deny', 'the file\'s headers are set');
  assert.is((await post(rw, { ca: pki.ca, auth: 'alice:guess' })).status, 401, 'wrong password');
  assert.is((await post(rw, { ca: pki.ca, auth: 'bob:s3cret' })).status, 401, 'unknown user');
  const ok = await post(rw, { ca: pki.ca, auth: 'alice:s3cret' });
  assert.is(ok.status, 400, `with the password the request reaches the handler (junk body): ${ok.body}`);
  assert.is(ok.headers['x-frame-options'], 'deny');
  await assert.not.ok(await request(rw, '/api/v1/receive', { method: 'POST', body: junk }).then(() => true, () => false), 'plain HTTP: no answer');
  assert.is((await request(hp, '/metrics')).status, 200, 'the main HTTP port is not guarded by the remote-write file');

  const pp = await freePort();
  const queue = (name: string, auth: string[]) => [
    `  - name: ${name}`, `    url: https://127.0.0.1:${rw}/api/v1/receive`, ...auth, `    tls_config: { ca_file: ${pki.ca} }`,
    '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 500ms }',
  ];
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: prom', '    static_configs:', `      - targets: ['127.0.0.1:${pp}']`,
    'remote_write:',
    ...queue('ok', ['    basic_auth: { username: alice, password: s3cret }']),
    ...queue('wrong_password', ['    basic_auth: { username: alice, password: guess }']),
    ...queue('no_password', []),
    '',
  ].join('\n'));
  const prom = startProc('prometheus', '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'promdata')}`, `--web.listen-address=127.0.0.1:${pp}`,
  ], dir);
  procs.push(prom);

  const client = new StoreClient(dialGrpc(`127.0.0.1:${gp}`));
  clients.push(client);
  const upSeries = async () => collect(client.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 60_000, matchers: [{ type: '=', name: '__name__', value: 'up' }] }), new AbortController().signal));
  await waitFor(async () => (await upSeries()).length > 0, STARTUP_MS, 'samples from Prometheus over TLS with basic auth', () => `${prom.logs()}\n${rx.logs()}`);
  assert.equal((await upSeries()).map(labelsRec).map((l) => [l.job, l.receive_replica, l.tenant_id]), [['prom', 'r1', 'default-tenant']]);

  let promMetrics = '';
  await waitFor(async () => {
    promMetrics = await (await fetch(`http://127.0.0.1:${pp}/metrics`)).text();
    return metricValue(promMetrics, 'prometheus_remote_storage_samples_failed_total', 'remote_name="wrong_password"') > 0
      && metricValue(promMetrics, 'prometheus_remote_storage_samples_failed_total', 'remote_name="no_password"') > 0;
  }, STARTUP_MS, 'the queues without the right password to fail', () => `${prom.logs()}\n${promMetrics}`);
  assert.is(metricValue(promMetrics, 'prometheus_remote_storage_samples_failed_total', 'remote_name="ok"'), 0, 'the queue with the password loses nothing');
  assert.match(prom.logs(), /401/, 'Prometheus logs the 401');
  const rxMetrics = (await request(hp, '/metrics')).body;
  assert.match(rxMetrics, /^http_requests_total\{code="200",handler="receive",method="post",tenant="default-tenant"\} [1-9]/m, 'accepted writes are counted as Thanos\'s receive handler');

  // A changed file takes effect without a restart (checked every second): a new password, and a second user.
  writeFileSync(web, [
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    'basic_auth_users:', `  alice: ${bcrypt.hashSync('n3w-secret', 6)}`, `  carol: ${bcrypt.hashSync('c4rol', 6)}`, '',
  ].join('\n'));
  await waitFor(async () => (await post(rw, { ca: pki.ca, auth: 'alice:n3w-secret' })).status === 400, STARTUP_MS, 'the new password to be accepted', rx.logs);
  assert.is((await post(rw, { ca: pki.ca, auth: 'alice:s3cret' })).status, 401, 'the old password is refused after the reload');
  assert.is((await post(rw, { ca: pki.ca, auth: 'carol:c4rol' })).status, 400);
  assert.is((await post(rw, { ca: pki.ca })).headers['x-frame-options'], undefined, 'the headers went with the old file');
  assert.match(rx.logs(), /reloaded web configuration/);
});

test('basic auth without TLS: the file alone decides (plain HTTP listener, credentials required)', async () => {
  const web = join(dir, 'rw-plain.yml');
  writeFileSync(web, ['basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 4)}`, ''].join('\n'));
  const { rx, rw, hp } = await startReceive('rx-plain', [`--remote-write.server-http-config=${web}`]);
  await waitFor(() => httpReady(hp), STARTUP_MS, 'receiver ready', rx.logs);
  assert.match(rx.logs(), /TLS is disabled\./);
  assert.is((await post(rw, {})).status, 401);
  assert.is((await post(rw, { auth: 'alice:s3cret' })).status, 400);
});

test('a bad web configuration file stops the start, naming the problem; a missing one too', async () => {
  const web = join(dir, 'rw-bad.yml');
  writeFileSync(web, ['basic_auth_users: {}', 'bogus: 1', ''].join('\n'));
  const bad = await startReceive('rx-bad', [`--remote-write.server-http-config=${web}`]);
  const code = await Promise.race([exitOf(bad.rx), new Promise<'running'>((r) => setTimeout(() => r('running'), STARTUP_MS).unref())]);
  assert.ok(code !== 'running' && code !== 0, `exits with an error (got ${code})\n${bad.rx.logs()}`);
  assert.match(bad.rx.logs(), /bogus/, 'the unknown key is named');

  const missing = await startReceive('rx-missing', [`--remote-write.server-http-config=${join(dir, 'no-such.yml')}`]);
  const code2 = await Promise.race([exitOf(missing.rx), new Promise<'running'>((r) => setTimeout(() => r('running'), STARTUP_MS).unref())]);
  assert.ok(code2 !== 'running' && code2 !== 0, `exits with an error (got ${code2})\n${missing.rx.logs()}`);
  assert.match(missing.rx.logs(), /no-such\.yml/);
});

test('--remote-write.server-http-config and --remote-write.server-tls-* are mutually exclusive (error naming both)', async () => {
  const base = { labels: ['r="1"'], rwServerHttpConfig: 'web.yml' };
  assert.is(parseReceiveConfig(base).remoteWriteHttpConfig, 'web.yml');
  assert.is(parseReceiveConfig(base).remoteWriteTls, undefined);
  // Defaults as the command line fills them are not a conflict.
  assert.is(parseReceiveConfig({ ...base, rwServerTlsMinVersion: '1.3', rwServerTlsCert: '', rwServerTlsCiphers: [] }).remoteWriteHttpConfig, 'web.yml');
  for (const [extra, flag] of [
    [{ rwServerTlsCert: 'c.pem', rwServerTlsKey: 'k.pem' }, 'remote-write.server-tls-cert'],
    [{ rwServerTlsMinVersion: '1.2' }, 'remote-write.server-tls-min-version'],
    [{ rwServerTlsCurves: ['X25519'] }, 'remote-write.server-tls-curves'],
  ] as const) {
    try {
      parseReceiveConfig({ ...base, ...extra });
      assert.unreachable(`accepted with ${flag}`);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, '--remote-write.server-http-config');
      assert.match((e as Error).message, `--${flag}`);
    }
  }

  const web = join(dir, 'rw-both.yml');
  writeFileSync(web, 'basic_auth_users: {}\n');
  const both = await startReceive('rx-both', [`--remote-write.server-http-config=${web}`, `--remote-write.server-tls-cert=${pki.server.cert}`, `--remote-write.server-tls-key=${pki.server.key}`]);
  assert.is.not(await exitOf(both.rx), 0, both.rx.logs());
  assert.match(both.rx.logs(), /--remote-write\.server-http-config and --remote-write\.server-tls-cert, --remote-write\.server-tls-key are mutually exclusive/);
});

test('plugins.yaml: rwServerHttpConfig resolves against the manifest\'s directory; it and the files it names need the read grant (at reload too)', async () => {
  const mdir = join(dir, 'manifest');
  mkdirSync(mdir, { recursive: true });
  writeFileSync(join(mdir, 'rw-web.yml'), ['basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 4)}`, ''].join('\n'));
  const manifest = async (name: string, read: string): Promise<{ p: Proc; rw: number; hp: number }> => {
    const [rw, hp] = [await freePort(), await freePort()];
    writeFileSync(join(mdir, `${name}.yaml`), [
      'apiVersion: 1', 'components:', '  - id: receive', '    use: receive', `    http: 127.0.0.1:${hp}`,
      `    permissions: { net: true, read: [${read}], write: [./${name}-tsdb] }`,
      '    config:', `      remoteWriteAddress: 127.0.0.1:${rw}`, `      tsdbPath: ./${name}-tsdb`, '      labels: [\'r="1"\']',
      '      rwServerHttpConfig: ./rw-web.yml', '',
    ].join('\n'));
    const p = thanos(name, ['run', '-c', join(mdir, `${name}.yaml`)], dir);
    procs.push(p);
    return { p, rw, hp };
  };
  const ok = await manifest('granted', './');
  await waitFor(() => httpReady(ok.hp), STARTUP_MS, 'receiver ready (plugins.yaml)', ok.p.logs);
  assert.is((await post(ok.rw, {})).status, 401);
  assert.is((await post(ok.rw, { auth: 'alice:s3cret' })).status, 400);
  // A new version naming a certificate outside the read grant is invalid: 500s, as a broken file, and the host never reads it.
  writeFileSync(join(mdir, 'rw-web.yml'), [
    'tls_server_config:', `  cert_file: ${pki.server.cert}`, `  key_file: ${pki.server.key}`,
    'basic_auth_users:', `  alice: ${bcrypt.hashSync('s3cret', 4)}`, '',
  ].join('\n'));
  await waitFor(async () => (await post(ok.rw, { auth: 'alice:s3cret' })).status === 500, STARTUP_MS, 'the reload to be refused', ok.p.logs);
  assert.match(ok.p.logs(), /Unable to parse configuration.*permission denied: plugin component:receive called listen webConfigFile\(.*server\.crt\)/);

  const denied = await manifest('denied', './denied-tsdb');
  assert.is.not(await exitOf(denied.p), 0, denied.p.logs());
  assert.match(denied.p.logs(), /permission denied: plugin component:receive called listen webConfigFile\(.*rw-web\.yml\)/);
});

test.run();

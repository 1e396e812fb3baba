// Stateless ruler (--remote-write.config): the config's refusals by name; the queue against a
// loopback HTTP server (5xx/429 retried in order, Retry-After, other 4xx dropped, bounded queue);
// and end to end: `thanos rule` as a process remote-writing to a real Prometheus 2.42
// (--web.enable-remote-write-receiver) that is stopped for a few seconds and restarted on the same
// port and data dir — the samples recorded while it was down arrive after it returns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRemoteWriteConfig, RemoteWriteQueue, type RemoteWriteConfig } from '../../lib/rules/mod.ts';
import { decodeRemoteWriteBody } from '../../lib/remote/write.ts';
import { freePort, thanos, waitFor, httpReady, type Proc } from '../query/harness.ts';
import { PROMETHEUS, prometheusMissing, startPrometheus, type Prom } from '../remote/prom.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const refused = (yaml: string, want: RegExp) => {
  try {
    parseRemoteWriteConfig(yaml);
  } catch (e) {
    assert.match((e as Error).message, want);
    return;
  }
  assert.unreachable(`accepted: ${yaml}`);
};

test('config: Prometheus remote_write entries; keys not implemented are refused by name', () => {
  const [c] = parseRemoteWriteConfig(`remote_write:
  - url: http://127.0.0.1:19291/api/v1/receive
    name: recv
    remote_timeout: 10s
    headers: { THANOS-TENANT: t1 }
    basic_auth: { username: u, password: p }
    queue_config: { capacity: 50, max_samples_per_send: 10, batch_send_deadline: 1s, min_backoff: 10ms, max_backoff: 1s }
`);
  assert.is(c!.name, 'recv');
  assert.is(c!.remoteTimeoutMs, 10_000);
  assert.equal(c!.headers, { 'THANOS-TENANT': 't1' });
  assert.is(c!.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.is(c!.capacity, 50);
  assert.is(c!.maxSamplesPerSend, 10);
  assert.is(c!.batchSendDeadlineMs, 1000);
  for (const k of ['write_relabel_configs: []', 'sigv4: {}', 'oauth2: {}', 'azuread: {}', 'metadata_config: {}', 'proxy_url: http://p', 'authorization: {}', 'follow_redirects: true']) {
    refused(`remote_write: [{ url: "http://x/w", ${k} }]`, new RegExp(`remote_write\\[0\\]\\.${k.split(':')[0]}: not implemented`));
  }
  for (const k of ['max_shards: 3', 'min_shards: 1', 'retry_on_http_429: true', 'sample_age_limit: 1m']) {
    refused(`remote_write: [{ url: "http://x/w", queue_config: { ${k} } }]`, new RegExp(`queue_config\\.${k.split(':')[0]}: not implemented`));
  }
  // tls_config: the Go tls_config files (honoured over real TLS in test/security/outbound-tls-components.test.ts); inline PEM and versions refused.
  refused('remote_write: [{ url: "https://x/w", tls_config: { ca: x } }]', /remote_write\[0\]\.tls_config\.ca: not implemented/);
  refused('remote_write: [{ url: "https://x/w", tls_config: { key_file: k.pem } }]', /tls_config: client key file "k\.pem" specified without client cert file/);
  refused('global: { external_labels: { a: b } }\nremote_write: [{ url: "http://x/w" }]', /^global: not used/);
  refused('remote_write: [{ url: "http://x/w", headers: { Authorization: x } }]', /Authorization is a reserved header/);
  refused('remote_write: [{ name: a }]', /url for remote_write is empty/);
  refused('remote_write: [{ url: "ftp://x/w" }]', /scheme must be http or https/);
  refused('remote_write: [{ url: "http://x/w", name: a }, { url: "http://y/w", name: a }]', /multiple remote write configs with job name "a"/);
  refused('remote_write: [{ url: "http://x/w", send_exemplars: true }]', /send_exemplars/);
  refused('remote_write: []', /at least one entry/);
  refused('remote_write: [{ url: "http://x/w", queue_config: { capacity: -1 } }]', /capacity: must be a positive integer/);
});

// A loopback receiver whose answers follow a script (then 200), recording what it accepted.
async function scriptedReceiver(script: Array<{ status: number; retryAfter?: string }>) {
  const got: Array<{ labels: Record<string, string>; t: number; v: number }> = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const step = script.shift() ?? { status: 200 };
      statuses.push(step.status);
      if (step.status === 200) {
        const wr = decodeRemoteWriteBody(new Uint8Array(Buffer.concat(chunks)));
        for (const ts of wr.timeseries) for (const s of ts.samples) got.push({ labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), t: Number(s.timestamp), v: s.value });
        got.sort((a, b) => a.t - b.t);
      }
      res.writeHead(step.status === 200 ? 204 : step.status, step.retryAfter ? { 'Retry-After': step.retryAfter } : {});
      res.end(step.status === 200 ? '' : 'scripted failure');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/api/v1/write`, got, statuses, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function cfg(url: string, over: Partial<RemoteWriteConfig> = {}): RemoteWriteConfig {
  return { url, name: 'r', remoteTimeoutMs: 5000, headers: {}, capacity: 1000, maxSamplesPerSend: 100, batchSendDeadlineMs: 20, minBackoffMs: 10, maxBackoffMs: 50, ...over };
}

test('queue: 503, 429 (Retry-After) and a network error are retried until accepted, in order; external labels added, sample labels win', async () => {
  const recv = await scriptedReceiver([{ status: 503 }, { status: 429, retryAfter: '0' }, { status: 500 }]);
  const ac = new AbortController();
  const q = new RemoteWriteQueue(cfg(recv.url), fetch, { cluster: 'c1', replica: 'ext' });
  const run = q.run(ac.signal);
  try {
    q.append([{ labels: { __name__: 'm', replica: 'own' }, t: 1000, v: 1 }, { labels: { __name__: 'm', replica: 'own' }, t: 2000, v: 2 }]);
    // The receiver records the samples before its 200 reaches the queue: wait for both.
    await waitFor(async () => recv.got.length === 2 && q.length === 0, 30_000, 'two samples accepted and the queue drained');
    assert.equal(recv.statuses, [503, 429, 500, 200]);
    assert.equal(recv.got.map((s) => [s.t, s.v]), [[1000, 1], [2000, 2]]);
    assert.equal(recv.got[0]!.labels, { __name__: 'm', cluster: 'c1', replica: 'own' });
    assert.is(q.length, 0);
  } finally {
    ac.abort();
    await run;
    await recv.close();
  }
});

test('queue: a 400 drops the batch (not retried), the next batch is sent', async () => {
  const recv = await scriptedReceiver([{ status: 400 }]);
  const ac = new AbortController();
  const q = new RemoteWriteQueue(cfg(recv.url), fetch, {});
  const run = q.run(ac.signal);
  try {
    q.append([{ labels: { __name__: 'bad' }, t: 1000, v: 1 }]);
    await waitFor(async () => recv.statuses.length === 1 && q.length === 0, 30_000, 'first batch answered');
    q.append([{ labels: { __name__: 'good' }, t: 2000, v: 2 }]);
    await waitFor(async () => recv.got.length === 1, 30_000, 'second batch accepted');
    assert.equal(recv.statuses, [400, 200]);
    assert.is(recv.got[0]!.labels.__name__, 'good');
  } finally {
    ac.abort();
    await run;
    await recv.close();
  }
});

test('queue: bounded by capacity while the remote is down (oldest dropped), the rest delivered once it is up', async () => {
  const port = await freePort();
  const ac = new AbortController();
  // Nothing listens on the port yet: connection refused is retried.
  const q = new RemoteWriteQueue(cfg(`http://127.0.0.1:${port}/api/v1/write`, { capacity: 5, maxSamplesPerSend: 2 }), fetch, {});
  const run = q.run(ac.signal);
  q.append(Array.from({ length: 8 }, (_, i) => ({ labels: { __name__: 'm' }, t: (i + 1) * 1000, v: i + 1 })));
  assert.is(q.length, 5);
  await new Promise((r) => setTimeout(r, 200));
  const got: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      for (const ts of decodeRemoteWriteBody(new Uint8Array(Buffer.concat(chunks))).timeseries) for (const s of ts.samples) got.push(s.value);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    await waitFor(async () => got.length === 5, 30_000, 'queued samples delivered');
    assert.equal(got, [4, 5, 6, 7, 8]);
  } finally {
    ac.abort();
    await run;
    await new Promise<void>((r) => server.close(() => r()));
  }
});

// ---- end to end ------------------------------------------------------------------------------------

function startReceiver(port: number, dataDir: string, cfgFile: string): { child: ChildProcess; logs: () => string; stop: () => Promise<void> } {
  const child = spawn(PROMETHEUS, [`--config.file=${cfgFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  return {
    child,
    logs: () => out,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}

type Matrix = { status: string; data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };

test('e2e: stateless ruler remote-writes to a real Prometheus 2.42; samples recorded while it is down arrive after it returns', async () => {
  const missing = prometheusMissing();
  assert.not.ok(missing, missing);
  const dir = mkdtempSync(join(tmpdir(), 'rule-rw-'));
  let query: Prom | undefined;
  let recv: ReturnType<typeof startReceiver> | undefined;
  let rule: Proc | undefined;
  try {
    query = await startPrometheus('global:\n  scrape_interval: 1h\nscrape_configs: []\n');
    const recvPort = await freePort();
    const recvData = join(dir, 'recv-data');
    writeFileSync(join(dir, 'recv.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
    recv = startReceiver(recvPort, recvData, join(dir, 'recv.yml'));
    await waitFor(() => httpReady(recvPort), STARTUP_MS, 'receiver ready', recv.logs);

    writeFileSync(join(dir, 'rules.yml'), `groups:
  - name: g
    rules:
      - record: rw:eval_time
        expr: vector(time())
      - alert: Always
        expr: vector(1) > 0
        labels: { severity: none }
`);
    writeFileSync(join(dir, 'rw.yml'), `remote_write:
  - url: http://127.0.0.1:${recvPort}/api/v1/write
    name: recv
    queue_config: { batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms }
`);
    const httpPort = await freePort();
    const grpcPort = await freePort();
    rule = thanos('rule', ['rule', '--rule-file', 'rules.yml', '--eval-interval', '1s', '--query', query.url,
      '--remote-write.config-file', 'rw.yml', '--label', 'cluster="rw"',
      '--http-address', `127.0.0.1:${httpPort}`, '--grpc-address', `127.0.0.1:${grpcPort}`], dir);
    await waitFor(() => httpReady(httpPort), STARTUP_MS, 'ruler ready', rule.logs);

    const samples = async (): Promise<Array<[number, string]>> => {
      const r = await fetch(`http://127.0.0.1:${recvPort}/api/v1/query?query=${encodeURIComponent('rw:eval_time{cluster="rw"}[10m]')}`);
      const j = (await r.json()) as Matrix;
      return j.data.result[0]?.values ?? [];
    };
    await waitFor(async () => (await samples()).length >= 2, 60_000, 'recorded samples at the receiver', () => rule!.logs() + recv!.logs());
    // ALERTS and ALERTS_FOR_STATE are remote-written too, with the external labels.
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${recvPort}/api/v1/query?query=${encodeURIComponent('ALERTS{alertname="Always",alertstate="firing",cluster="rw",severity="none"}')}`);
      return ((await r.json()) as Matrix).data.result.length === 1;
    }, 60_000, 'ALERTS at the receiver', rule.logs);
    // Stateless: nothing is stored locally (Thanos's ruler writes its agent WAL; we keep the queue in memory).
    assert.not.ok(existsSync(join(dir, 'data')), 'no local TSDB in stateless mode');

    await recv.stop();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    // The ruler keeps evaluating; its samples wait in the queue.
    const upAt = Date.now();
    recv = startReceiver(recvPort, recvData, join(dir, 'recv.yml'));
    await waitFor(() => httpReady(recvPort), STARTUP_MS, 'receiver ready again', recv.logs);
    const during = (vs: Array<[number, string]>) => vs.filter(([t]) => t * 1000 > downAt + 500 && t * 1000 < upAt - 500);
    await waitFor(async () => during(await samples()).length >= 2, 60_000, 'samples from the outage at the receiver', () => rule!.logs() + recv!.logs());
    const vs = await samples();
    // Each sample's value is its evaluation time: they arrived as recorded, not re-evaluated later.
    for (const [t, v] of vs) assert.is(Number(v), t);
    const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(m, /prometheus_remote_storage_samples_retried_total\{[^}]*remote_name="recv"[^}]*\} [1-9]/);
  } finally {
    await rule?.kill();
    await recv?.stop();
    await query?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

// Receive's forwarding over mutual TLS, real processes: two `thanos receive` in one hashring with
// --receive.replication-factor=2, each serving gRPC with its own certificate and requiring a client
// certificate (--grpc-server-tls-*), each forwarding with --remote-write.client-tls-*. A remote-write
// to one is acknowledged (RF=2 needs one replica, as Thanos), and the other replica arrives over the
// forwarding mTLS connection: both hold every series (read over mTLS), and the forwarding call is
// counted on both ends' /metrics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawGrpcClient } from '../../host/server/grpc.ts';
import { loadClientTls } from '../../host/server/tls.ts';
import { seriesRequest } from '../../lib/proto/store.ts';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { collect, labelsRec } from '../receive/helpers.ts';
import { makeTestPki, type TestPki } from './certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'rcv-tls-'));
const procs: Proc[] = [];
let pki: TestPki;

test.after(async () => {
  for (const p of procs.reverse()) await p.kill();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('a replicated write is forwarded over mTLS and acknowledged; both receivers hold it', async () => {
  pki = makeTestPki();
  const rxs = await Promise.all([0, 1].map(async (i) => ({ i, rw: await freePort(), grpc: await freePort(), http: await freePort(), cert: pki.issue(`receive${i}`) })));
  const ring = join(dir, 'hashrings.json');
  writeFileSync(ring, JSON.stringify([{ hashring: 'default', endpoints: rxs.map((r) => `127.0.0.1:${r.grpc}`) }]));
  for (const r of rxs) {
    const p = thanos(`receive-${r.i}`, [
      'receive', `--remote-write.address=127.0.0.1:${r.rw}`, `--grpc-address=127.0.0.1:${r.grpc}`, `--http-address=127.0.0.1:${r.http}`,
      `--tsdb.path=${join(dir, `r${r.i}`)}`, `--label=receive_replica="r${r.i}"`, `--receive.hashrings-file=${ring}`,
      '--receive.replication-factor=2', `--receive.local-endpoint=127.0.0.1:${r.grpc}`,
      `--grpc-server-tls-cert=${r.cert.cert}`, `--grpc-server-tls-key=${r.cert.key}`, `--grpc-server-tls-client-ca=${pki.ca}`,
      '--remote-write.client-tls-secure', `--remote-write.client-tls-cert=${r.cert.cert}`, `--remote-write.client-tls-key=${r.cert.key}`,
      `--remote-write.client-tls-ca=${pki.ca}`,
    ], dir);
    procs.push(p);
  }
  for (const [k, r] of rxs.entries()) await waitFor(() => httpReady(r.http), STARTUP_MS, `receiver ${r.i} ready`, () => procs[k]!.logs());

  const t = Date.now();
  const body = encodeRemoteWriteBody({
    timeseries: Array.from({ length: 20 }, (_, i) => ({
      labels: [{ name: '__name__', value: 'tls_fwd' }, { name: 'i', value: String(i) }],
      samples: [{ timestamp: t, value: i }],
    })),
  });
  let status = 0;
  let text = '';
  // The hashring file is read at startup; retry while a receiver is still settling (503), not on 4xx.
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${rxs[0]!.rw}/api/v1/receive`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body });
    status = res.status;
    text = await res.text();
    return status === 200 || (status >= 400 && status < 500);
  }, 60_000, 'the write acknowledged', () => `${status} ${text}\n${procs.map((p) => p.logs()).join('\n---\n')}`);
  assert.is(status, 200, text);

  const clientTls = loadClientTls({ secure: true, caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key });
  for (const r of rxs) {
    const c = new StoreClient(new RawGrpcClient(`127.0.0.1:${r.grpc}`, { tls: clientTls }));
    try {
      let got: Awaited<ReturnType<typeof collect>> = [];
      // The replica beyond quorum may still be in flight when the write is acknowledged.
      await waitFor(async () => {
        got = await collect(c.series(seriesRequest({ minTime: t - 1, maxTime: t + 1, matchers: [{ type: '=', name: '__name__', value: 'tls_fwd' }] }), new AbortController().signal));
        return got.length === 20;
      }, 60_000, `receiver ${r.i} holds every series`, () => procs.map((p) => p.logs()).join('\n---\n'));
      assert.ok(got.every((s) => labelsRec(s).receive_replica === `r${r.i}`));
    } finally {
      c.close();
    }
  }
  clientTls?.close();
  const sent = await (await fetch(`http://127.0.0.1:${rxs[0]!.http}/metrics`)).text();
  const got = await (await fetch(`http://127.0.0.1:${rxs[1]!.http}/metrics`)).text();
  assert.match(sent, /^grpc_client_handled_total\{grpc_type="unary",grpc_service="thanos.WriteableStore",grpc_method="RemoteWrite",grpc_code="OK"\} [1-9]/m);
  assert.match(got, /^grpc_server_handled_total\{grpc_type="unary",grpc_service="thanos.WriteableStore",grpc_method="RemoteWrite",grpc_code="OK"\} [1-9]/m);
});

test.run();

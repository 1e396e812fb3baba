// gRPC over real TLS on loopback (host/server/grpc.ts + tls.ts): mTLS accepted with the right client
// certificate and refused without one, with one from another CA, and in plaintext; the client's
// CA, server-name and skip-verify checks; --grpc-server-tls-min-version; certificate rotation seen
// by new connections; go-grpc-prometheus metrics of both ends; trace context propagation through
// @opentelemetry/api. Certificates come from scripts/make-certs.sh (test/security/certs.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, trace, type Context, type ContextManager, type TextMapPropagator } from '@opentelemetry/api';
import { startGrpc, RawGrpcClient, type GrpcListener } from '../../host/server/grpc.ts';
import { loadClientTls, loadServerTls, TlsConfigError, type ClientTlsFiles } from '../../host/server/tls.ts';
import { Registry } from '../../host/metrics.ts';
import { GrpcError, GrpcStatus, type GrpcServices } from '../../host/index.ts';
import { makeTestPki, type TestPki } from './certs.ts';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest, ManifestError } from '../../host/manifest.ts';
import { planManifest } from '../../host/main.ts';
import { runGroup } from '../../host/lifecycle.ts';
import { createLogger } from '../../host/log.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { Permissions } from '../../host/permissions.ts';
import { PermissionDenied } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { freePort } from '../harness/ports.ts';
import { INFO_METHOD, decodeInfoResponse, encodeInfoRequest } from '../../lib/proto/info.ts';
import { parseReceiveConfig } from '../../plugins/component/receive/config.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const str = { enc: (s: string) => enc.encode(s), dec: (b: Uint8Array) => dec.decode(b) };

let pki: TestPki;
const seenMetadata: Array<Record<string, string>> = [];
/** What the unary handler saw as the active trace context (its test value), when it started. */
const seenContext: unknown[] = [];
const TRACE_KEY = Symbol.for('test.trace');

const services: GrpcServices = {
  '/test.Echo/Echo': {
    kind: 'unary', requestDecode: str.dec, responseEncode: str.enc,
    handler: async (req, _signal, md) => {
      seenMetadata.push(md);
      seenContext.push(context.active().getValue(TRACE_KEY));
      if (req === 'fail') throw new GrpcError(GrpcStatus.NotFound, 'no such thing');
      return `echo:${req as string}`;
    },
  },
  '/test.Echo/Count': {
    kind: 'serverStream', requestDecode: str.dec, responseEncode: str.enc,
    handler: async function* (req) {
      for (let i = 0; i < Number(req); i++) yield String(i);
    },
  },
};

test.before(() => {
  pki = makeTestPki();
});
test.after(() => pki.cleanup());

async function serve(o: { clientCa?: string | null; minVersion?: string; ciphers?: string[]; cert?: { cert: string; key: string }; metrics?: Registry; reloadIntervalMs?: number } = {}): Promise<GrpcListener> {
  const cert = o.cert ?? pki.server;
  return startGrpc('127.0.0.1:0', services, {
    tls: { certFile: cert.cert, keyFile: cert.key, clientCaFile: o.clientCa === null ? undefined : (o.clientCa ?? pki.ca), minVersion: o.minVersion, ciphers: o.ciphers, reloadIntervalMs: o.reloadIntervalMs },
    metrics: o.metrics,
  });
}

function client(addr: string, t?: Partial<ClientTlsFiles>, metrics?: Registry): RawGrpcClient {
  const clientTls = t ? loadClientTls({ secure: true, ...t }) : undefined;
  // Fail fast: a refused handshake is retried by grpc-js until the deadline.
  return new RawGrpcClient(addr, { tls: clientTls, metrics, channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100 } });
}

async function echo(c: RawGrpcClient, msg = 'hi'): Promise<string> {
  return c.unary('/test.Echo/Echo', msg, str.enc, str.dec, { timeoutMs: 3000 });
}

async function refused(c: RawGrpcClient, what: string): Promise<void> {
  try {
    await echo(c);
  } catch (err) {
    assert.instance(err, GrpcError, what);
    assert.is((err as GrpcError).code, GrpcStatus.Unavailable, `${what}: ${(err as Error).message}`);
    return;
  } finally {
    c.close();
  }
  assert.unreachable(`${what}: the call succeeded`);
}

test('mTLS: a client certificate from the CA is accepted; none, another CA\'s, or plaintext are refused', async () => {
  const srv = await serve();
  try {
    const ok = client(srv.address, { certFile: pki.client.cert, keyFile: pki.client.key, caFile: pki.ca });
    try {
      assert.is(await echo(ok), 'echo:hi');
      const got: string[] = [];
      for await (const m of ok.serverStream('/test.Echo/Count', '3', str.enc, str.dec)) got.push(m);
      assert.equal(got, ['0', '1', '2']);
    } finally {
      ok.close();
    }
    await refused(client(srv.address, { caFile: pki.ca }), 'no client certificate');
    await refused(client(srv.address, { certFile: pki.other.client.cert, keyFile: pki.other.client.key, caFile: pki.ca }), 'client certificate of another CA');
    await refused(client(srv.address), 'plaintext client');
  } finally {
    await srv.close(100);
  }
});

test('client: the server is verified against --grpc-client-tls-ca, by name; skip-verify accepts anything', async () => {
  const srv = await serve({ clientCa: null });
  try {
    await refused(client(srv.address, { caFile: pki.other.ca }), 'server certificate of another CA');
    await refused(client(srv.address, { caFile: pki.ca, serverName: 'elsewhere.example' }), 'server name not in the certificate');
    await refused(client(srv.address, {}), 'system roots do not know the private CA');
    for (const t of [{ caFile: pki.ca }, { caFile: pki.ca, serverName: 'server' }, { caFile: pki.ca, serverName: 'localhost' }, { skipVerify: true }, { skipVerify: true, caFile: pki.other.ca, serverName: 'elsewhere.example' }]) {
      const c = client(srv.address, t);
      try {
        assert.is(await echo(c), 'echo:hi', JSON.stringify(t));
      } finally {
        c.close();
      }
    }
  } finally {
    await srv.close(100);
  }
});

function handshake(port: number, maxVersion: tls.SecureVersion, ciphers?: string): Promise<{ version: string | null; fingerprint: string; cipher: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1', port, ca: fs.readFileSync(pki.ca), cert: fs.readFileSync(pki.client.cert), key: fs.readFileSync(pki.client.key),
      maxVersion, ciphers, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined,
    }, () => {
      const r = { version: s.getProtocol(), fingerprint: s.getPeerCertificate().fingerprint256, cipher: s.getCipher().name };
      s.destroy();
      resolve(r);
    });
    s.once('error', reject);
  });
}

test('--grpc-server-tls-min-version: 1.3 by default refuses a TLS 1.2 client; 1.2 lets it in', async () => {
  const strict = await serve();
  try {
    assert.is((await handshake(strict.port, 'TLSv1.3')).version, 'TLSv1.3');
    await handshake(strict.port, 'TLSv1.2').then(() => assert.unreachable('a TLS 1.2 handshake succeeded'), (err) => {
      assert.match((err as Error).message, /protocol version|alert/i);
    });
  } finally {
    await strict.close(100);
  }
  const lax = await serve({ minVersion: '1.2' });
  try {
    assert.is((await handshake(lax.port, 'TLSv1.2')).version, 'TLSv1.2');
  } finally {
    await lax.close(100);
  }
});

test('--grpc-server-tls-ciphers: Go names; TLS 1.2 clients get only those, TLS 1.3 is unaffected (as in Go)', async () => {
  const srv = await serve({ minVersion: '1.2', ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'] });
  try {
    assert.is((await handshake(srv.port, 'TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256')).cipher, 'ECDHE-ECDSA-AES256-GCM-SHA384');
    await handshake(srv.port, 'TLSv1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256').then(() => assert.unreachable('a suite outside the list was negotiated'), (err) => {
      assert.match((err as Error).message, /handshake failure|no shared cipher|alert/i);
    });
    assert.is((await handshake(srv.port, 'TLSv1.3')).version, 'TLSv1.3');
  } finally {
    await srv.close(100);
  }
});

test('certificate rotation: after the files change, new connections get the new certificate', async () => {
  const dir = fs.mkdtempSync(`${pki.dir}/rot-`);
  const cert = { cert: `${dir}/tls.crt`, key: `${dir}/tls.key` };
  fs.copyFileSync(pki.server.cert, cert.cert);
  fs.copyFileSync(pki.server.key, cert.key);
  const srv = await serve({ cert, reloadIntervalMs: 50 });
  try {
    const before = (await handshake(srv.port, 'TLSv1.3')).fingerprint;
    const fresh = pki.issue('server2');
    // A half-done rotation (new certificate, old key) must not take the server down.
    fs.copyFileSync(fresh.cert, cert.cert);
    await new Promise((r) => setTimeout(r, 200));
    assert.is((await handshake(srv.port, 'TLSv1.3')).fingerprint, before, 'the old pair stays in use while the new one is incomplete');
    fs.copyFileSync(fresh.key, cert.key);
    const want = new X509Certificate(fs.readFileSync(fresh.cert)).fingerprint256;
    let seen = before;
    for (let i = 0; i < 400 && seen !== want; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = (await handshake(srv.port, 'TLSv1.3')).fingerprint;
    }
    assert.is(seen, want, 'a new connection sees the rotated certificate');
    const c = client(srv.address, { certFile: pki.client.cert, keyFile: pki.client.key, caFile: pki.ca });
    try {
      assert.is(await echo(c), 'echo:hi');
    } finally {
      c.close();
    }
  } finally {
    await srv.close(100);
  }
});

test('configuration errors are Thanos\'s', () => {
  assert.throws(() => loadServerTls({ clientCaFile: pki.ca }), (e: Error) => e instanceof TlsConfigError && e.message === 'when a client CA is used a server key and certificate must also be provided');
  assert.throws(() => loadServerTls({ certFile: pki.server.cert }), /both server key and certificate must be provided/);
  assert.throws(() => loadServerTls({ certFile: pki.server.cert, keyFile: pki.server.key, minVersion: '1.4' }), /invalid TLS version: 1\.4, valid values are 1\.0, 1\.1, 1\.2, 1\.3/);
  assert.throws(() => loadServerTls({ certFile: pki.server.cert, keyFile: pki.client.key }), /gRPC server|server credentials|key values mismatch/i);
  assert.throws(() => loadServerTls({ certFile: pki.server.cert, keyFile: pki.server.key, curves: ['CurveP999'] }), /invalid curve: CurveP999/);
  assert.throws(() => loadServerTls({ certFile: pki.server.cert, keyFile: pki.server.key, ciphers: ['TLS_NOPE'] }), /invalid cipher suite: TLS_NOPE/);
  assert.throws(() => loadClientTls({ secure: true, certFile: pki.client.cert }), /both client key and certificate must be provided/);
  assert.throws(() => loadClientTls({ secure: true, caFile: `${pki.dir}/missing.crt` }), /cannot read .*missing\.crt: ENOENT/);
  assert.is(loadServerTls({}), undefined, 'no files: plaintext');
  assert.is(loadClientTls({ secure: false, caFile: pki.ca }), undefined, 'not secure: plaintext');
});

test('metrics: go-grpc-prometheus series on both ends, the server\'s at 0 for every method from the start', async () => {
  const sreg = new Registry();
  const creg = new Registry();
  const srv = await serve({ metrics: sreg });
  const c = client(srv.address, { certFile: pki.client.cert, keyFile: pki.client.key, caFile: pki.ca }, creg);
  try {
    let text = sreg.render();
    assert.match(text, /^grpc_server_started_total\{grpc_type="unary",grpc_service="test.Echo",grpc_method="Echo"\} 0$/m);
    assert.match(text, /^grpc_server_handled_total\{grpc_type="server_stream",grpc_service="test.Echo",grpc_method="Count",grpc_code="Unauthenticated"\} 0$/m);
    assert.match(text, /^grpc_server_handling_seconds_bucket\{grpc_type="unary",grpc_service="test.Echo",grpc_method="Echo",le="0.001"\} 0$/m);

    assert.is(await echo(c), 'echo:hi');
    await echo(c, 'fail').then(() => assert.unreachable(), (e) => assert.is((e as GrpcError).code, GrpcStatus.NotFound));
    const got: string[] = [];
    for await (const m of c.serverStream('/test.Echo/Count', '2', str.enc, str.dec)) got.push(m);
    assert.equal(got, ['0', '1']);

    text = sreg.render();
    const u = 'grpc_type="unary",grpc_service="test.Echo",grpc_method="Echo"';
    const s = 'grpc_type="server_stream",grpc_service="test.Echo",grpc_method="Count"';
    for (const line of [
      `grpc_server_started_total{${u}} 2`, `grpc_server_handled_total{${u},grpc_code="OK"} 1`, `grpc_server_handled_total{${u},grpc_code="NotFound"} 1`,
      `grpc_server_msg_received_total{${u}} 2`, `grpc_server_msg_sent_total{${u}} 2`, `grpc_server_handling_seconds_count{${u}} 2`,
      `grpc_server_started_total{${s}} 1`, `grpc_server_handled_total{${s},grpc_code="OK"} 1`, `grpc_server_msg_received_total{${s}} 1`,
      `grpc_server_msg_sent_total{${s}} 2`, `grpc_server_handling_seconds_bucket{${s},le="120"} 1`,
    ]) assert.ok(text.split('\n').includes(line), `${line}\n${text}`);
    assert.match(text, /^# TYPE grpc_server_handling_seconds histogram$/m);
    assert.not.match(text, /le="240"/, 'server buckets stop at 120 s');

    const ct = creg.render();
    for (const line of [
      `grpc_client_started_total{${u}} 2`, `grpc_client_handled_total{${u},grpc_code="OK"} 1`, `grpc_client_handled_total{${u},grpc_code="NotFound"} 1`,
      `grpc_client_msg_sent_total{${u}} 2`, `grpc_client_msg_received_total{${u}} 2`,
      `grpc_client_started_total{${s}} 1`, `grpc_client_handled_total{${s},grpc_code="OK"} 1`, `grpc_client_msg_sent_total{${s}} 1`,
      // two messages and the end of the stream, as go-grpc-prometheus's RecvMsg wrapper counts
      `grpc_client_msg_received_total{${s}} 3`, `grpc_client_handling_seconds_bucket{${s},le="720"} 1`,
    ]) assert.ok(ct.split('\n').includes(line), `${line}\n${ct}`);
    assert.not.match(ct, /grpc_code="Unauthenticated"/, 'client series appear on use only');

    // A long stream: message counters are exact once it ended (they are added in steps while it runs).
    let n = 0;
    for await (const _ of c.serverStream('/test.Echo/Count', '150', str.enc, str.dec)) n++;
    assert.is(n, 150);
    assert.ok(sreg.render().split('\n').includes(`grpc_server_msg_sent_total{${s}} 152`), sreg.render());
    assert.ok(creg.render().split('\n').includes(`grpc_client_msg_received_total{${s}} 154`), creg.render());
  } finally {
    c.close();
    await srv.close(100);
  }
});

test('tracing: the client injects the active context into the metadata; the server extracts it around the handler', async () => {
  // A minimal propagator standing in for an SDK's W3C one, and a synchronous context manager standing
  // in for an SDK's AsyncLocalStorage one: what the API hands them is what is tested.
  const KEY = TRACE_KEY;
  const fake: TextMapPropagator = {
    inject: (ctx: Context, carrier, setter) => {
      const v = ctx.getValue(KEY);
      if (typeof v === 'string') setter.set(carrier, 'x-test-trace', v);
    },
    extract: (ctx: Context, carrier, getter) => {
      const v = getter.get(carrier, 'x-test-trace');
      return v ? ctx.setValue(KEY, Array.isArray(v) ? v[0] : v) : ctx;
    },
    fields: () => ['x-test-trace'],
  };
  const stack: Context[] = [];
  const manager: ContextManager = {
    active: () => stack[stack.length - 1] ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => {
      stack.push(ctx);
      try {
        return fn.call(thisArg, ...args);
      } finally {
        stack.pop();
      }
    },
    bind: (_ctx, target) => target,
    enable() { return this; },
    disable() { stack.length = 0; return this; },
  };
  assert.ok(propagation.setGlobalPropagator(fake));
  assert.ok(context.setGlobalContextManager(manager));
  const srv = await serve();
  const c = client(srv.address, { certFile: pki.client.cert, keyFile: pki.client.key, caFile: pki.ca });
  try {
    seenMetadata.length = 0;
    seenContext.length = 0;
    // The client reads the active context when the call starts, which is inside with().
    const p = context.with(context.active().setValue(KEY, 'trace-42'), () => echo(c));
    assert.is(await p, 'echo:hi');
    assert.is(seenMetadata[0]?.['x-test-trace'], 'trace-42', 'sent in the metadata');
    assert.is(seenContext[0], 'trace-42', 'the handler runs in the extracted context');
    assert.is(await echo(c), 'echo:hi');
    assert.is(seenMetadata[1]?.['x-test-trace'], undefined, 'nothing sent outside a traced context');
    assert.is(seenContext[1], undefined);
    assert.is(trace.getActiveSpan(), undefined, 'no SDK: no span is recording');
  } finally {
    propagation.disable();
    context.disable();
    c.close();
    await srv.close(100);
  }
});

test('client certificate rotation: each new connection presents the certificate the files hold now', async () => {
  const dir = fs.mkdtempSync(`${pki.dir}/crot-`);
  const files = { certFile: `${dir}/c.crt`, keyFile: `${dir}/c.key` };
  fs.copyFileSync(pki.client.cert, files.certFile);
  fs.copyFileSync(pki.client.key, files.keyFile);
  const clientTls = loadClientTls({ secure: true, caFile: pki.ca, ...files, reloadIntervalMs: 50 })!;
  const srv = await serve();
  const fresh = () => new RawGrpcClient(srv.address, { tls: clientTls, channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100 } });
  try {
    const a = fresh();
    try {
      assert.is(await echo(a), 'echo:hi');
    } finally {
      a.close();
    }
    // Swap in a certificate the server does not trust (key first, then certificate: a pair that
    // does not match in between is skipped, the old one stays in use).
    fs.copyFileSync(pki.other.client.key, files.keyFile);
    fs.copyFileSync(pki.other.client.cert, files.certFile);
    let refusedNow = false;
    for (let i = 0; i < 100 && !refusedNow; i++) {
      const c = fresh();
      try {
        await echo(c);
        await new Promise((r) => setTimeout(r, 50));
      } catch (err) {
        refusedNow = (err as GrpcError).code === GrpcStatus.Unavailable;
      } finally {
        c.close();
      }
    }
    assert.ok(refusedNow, 'the rotated (untrusted) client certificate is presented by a new connection');
  } finally {
    clientTls.close();
    await srv.close(100);
  }
});

test('receive: --remote-write.client-tls-* configure the forwarding client as Thanos\'s', () => {
  const base = { labels: { replica: 'a' } };
  const c = parseReceiveConfig({ ...base, rwClientTlsSecure: true, rwClientTlsCa: 'ca.crt', rwClientTlsCert: 'c.crt', rwClientTlsKey: 'c.key', rwClientServerName: 'recv' });
  assert.equal(c.forwardTls, { minVersion: '1.3', certFile: 'c.crt', keyFile: 'c.key', caFile: 'ca.crt', serverName: 'recv' });
  assert.is(parseReceiveConfig(base).forwardTls, undefined, 'plaintext by default');
  assert.equal(parseReceiveConfig({ ...base, rwClientTlsSkipVerify: true }).forwardTlsIgnored, ['rwClientTlsSkipVerify']);
  assert.throws(() => parseReceiveConfig({ ...base, rwClientTlsSecure: true, rwClientTlsKey: 'c.key' }), /rwClientTlsCert.*both client key and certificate must be provided/);
  assert.throws(() => parseReceiveConfig({ ...base, rwClientTlsMinVersion: '1.5' }), /invalid TLS version: 1\.5/);
});

const SLEEPY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/sleepy/mod.ts');

test('plugins.yaml grpcTls: the component\'s listener serves mTLS, paths relative to the manifest; errors name the key and line', async () => {
  const dir = fs.mkdtempSync(`${pki.dir}/manifest-`);
  fs.mkdirSync(`${dir}/tls`);
  for (const [from, to] of [[pki.server.cert, 'tls/s.crt'], [pki.server.key, 'tls/s.key'], [pki.ca, 'tls/ca.crt']] as const) fs.copyFileSync(from, `${dir}/${to}`);
  const [hp, gp] = [await freePort(), await freePort()];
  const use = `./${path.relative(dir, SLEEPY)}`;
  const yaml = (grpcTls: string, extra = '') => `apiVersion: 1
components:
  - id: sleepy
    use: ${use}
    http: 127.0.0.1:${hp}
    grpc: 127.0.0.1:${gp}
    grpcTls: ${grpcTls}
    isolation: inline
    trust: true
${extra}`;
  // Errors: key and line.
  const bad: Array<[string, RegExp]> = [
    ['{ certFile: tls/s.crt, keyFile: tls/s.key, minVersion: 1.4 }', /plugins\.yaml:7: components\[0\]\.grpcTls: invalid TLS version: 1\.4/],
    ['{ certFile: tls/s.crt, keyFile: tls/s.key, clientCA: tls/ca.crt }', /components\[0\]\.grpcTls\.clientCA: unknown key "clientCA"/],
    ['{ certFile: tls/s.crt, keyFile: tls/s.key, curves: [CurveP999] }', /invalid curve: CurveP999/],
  ];
  for (const [t, re] of bad) assert.throws(() => parseManifest(yaml(t), `${dir}/plugins.yaml`), (e: Error) => e instanceof ManifestError && re.test(e.message));
  const log = createLogger({ level: 'error', write: () => {} });
  for (const [t, re] of [
    ['{ certFile: tls/missing.crt, keyFile: tls/s.key }', /components\[0\]\.grpcTls: .*missing\.crt: ENOENT/],
    ['{ clientCaFile: tls/ca.crt }', /components\[0\]\.grpcTls: when a client CA is used a server key and certificate must also be provided/],
  ] as const) {
    await planManifest(parseManifest(yaml(t), `${dir}/plugins.yaml`), log).then(() => assert.unreachable(t), (e: Error) => assert.match(e.message, re));
  }
  // A working one, served for real.
  const m = parseManifest(yaml('{ certFile: tls/s.crt, keyFile: tls/s.key, clientCaFile: tls/ca.crt, minVersion: 1.2 }', '    grpcMaxConnectionAge: 10m\n'), `${dir}/plugins.yaml`);
  assert.equal(m.components[0]!.grpcTls, { certFile: 'tls/s.crt', keyFile: 'tls/s.key', clientCaFile: 'tls/ca.crt', minVersion: '1.2', ciphers: undefined, curves: undefined });
  const units = await planManifest(m, log);
  assert.is(units[0]!.grpcTls?.certFile, `${dir}/tls/s.crt`);
  assert.is(units[0]!.grpcMaxConnectionAgeMs, 600_000);
  const stop = new AbortController();
  const done = runGroup(units, { log, core: async () => createJsCore(), gracePeriodMs: 5000, handleSignals: false, signal: stop.signal });
  const ok = client(`127.0.0.1:${gp}`, { certFile: pki.client.cert, keyFile: pki.client.key, caFile: pki.ca });
  try {
    let info;
    for (let i = 0; i < 200 && !info; i++) {
      info = await ok.unary(INFO_METHOD, {}, encodeInfoRequest, decodeInfoResponse, { timeoutMs: 3000 }).catch(() => undefined);
      if (!info) await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(info?.componentType, 'store');
    assert.is((await handshake(gp, 'TLSv1.2')).version, 'TLSv1.2', 'minVersion: 1.2 from the manifest');
    await refused(client(`127.0.0.1:${gp}`), 'plaintext client');
    const metrics = await (await fetch(`http://127.0.0.1:${hp}/metrics`)).text();
    assert.match(metrics, /^grpc_server_handled_total\{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info",grpc_code="OK"\} [1-9]/m, 'served gRPC metrics are on the component\'s /metrics');
    assert.match(metrics, /^grpc_server_started_total\{grpc_type="server_stream",grpc_service="test.Echo",grpc_method="Count"\} 0$/m);
  } finally {
    ok.close();
    stop.abort();
    assert.is((await done).code, 0);
  }
});

test('ctx.grpcDial tls: the files are read for the plugin, so its read grant must cover them', () => {
  const perms = new Permissions({
    pluginId: 'component:q', request: { net: true, read: true }, grant: { net: true, read: [pki.ca] }, grantKey: 'components[0].permissions', grantBaseDir: pki.dir,
  });
  const caps = createCapabilities({ permissions: perms, log: createLogger({ level: 'error', write: () => {} }), metrics: new Registry() });
  caps.grpcDial('127.0.0.1:1', { tls: { caFile: pki.ca } }).close();
  assert.throws(() => caps.grpcDial('127.0.0.1:1', { tls: { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key } }),
    (e: Error) => e instanceof PermissionDenied && /grpcDial\(.*client\.crt\).*components\[0\]\.permissions\.read/.test(e.message));
  assert.throws(() => caps.grpcDial('127.0.0.1:1', { tls: { caFile: `${pki.dir}/elsewhere.crt` } }), (e: Error) => e instanceof PermissionDenied);
});

test.run();

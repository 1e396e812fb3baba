// Per-endpoint gRPC client TLS of the querier's endpoint config (--endpoint.sd-config-file;
// Thanos cmd/thanos/endpointset.go default_client_config / client_config): `thanos query` as a
// process against StoreAPIs served in this process over real TLS on loopback, certificates from
// scripts/make-certs.sh (test/security/certs.ts). Endpoints with different trust domains and a
// plaintext one answer together; a wrong CA leaves only that endpoint unhealthy
// (the query answers from the others). The parsing cases
// check Thanos's inheritance rules and the refusals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore } from '../../lib/store/memory.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { EndpointSet, parseEndpointSdConfig, type EndpointClient, type EndpointSpec, type GlobalClientTls } from '../../lib/query/endpoints.ts';
import { withTlsDefaults } from '../../lib/net/grpctls.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { freePort, httpReady, thanos, waitFor, type Proc } from '../query/harness.ts';
import { makeTestPki, type CertPair, type TestPki } from './certs.ts';

const core = createJsCore();
const T = 1_700_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'endpoint-tls-'));
let pki: TestPki;
const listeners: GrpcListener[] = [];
let proc: Proc | undefined;

test.before(() => {
  pki = makeTestPki();
});
test.after(async () => {
  await proc?.kill();
  for (const l of listeners) await l.close();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A StoreAPI with one series x{store=<name>}; TLS with `cert` requiring client certificates of `clientCa`, or plaintext. */
async function store(name: string, tls?: { cert: CertPair; clientCa: string }): Promise<string> {
  const mem = MemoryStore.fromSamples([{ labels: labelsFromRecord({ __name__: 'x' }), t: [T - 60_000, T], v: [1, 1] }], core.xorEncode, { externalLabels: labelsFromRecord({ store: name }) });
  const addr = `127.0.0.1:${await freePort()}`;
  listeners.push(await startGrpc(addr, { ...storeServices(mem), ...infoServices(() => mem.info()) }, {
    tls: tls ? { certFile: tls.cert.cert, keyFile: tls.cert.key, clientCaFile: tls.clientCa } : undefined,
  }));
  return addr;
}

async function getJson(base: string, path: string): Promise<any> {
  const r = await fetch(base + path, { signal: AbortSignal.timeout(60_000) });
  return JSON.parse(await r.text());
}

test('one querier: a flag endpoint on default_client_config mTLS, a plaintext one, one of another trust domain, one with the wrong CA', async () => {
  // a: CA "main", reached by --endpoint with default_client_config's TLS (no --grpc-client-tls-* flags).
  const a = await store('a', { cert: pki.server, clientCa: pki.ca });
  // b: plaintext, client_config turns TLS off.
  const b = await store('b');
  // c: CA "other"; its client_config inherits default_client_config's main CA: the handshake fails.
  const c = await store('c', { cert: pki.other.server, clientCa: pki.other.ca });
  // d: CA "other" with the right per-endpoint CA and client certificate; enabled is implied by the files.
  const d = await store('d', { cert: pki.other.server, clientCa: pki.other.ca });
  const sd = join(dir, 'endpoints.yaml');
  writeFileSync(sd, `default_client_config:
  tls_config:
    enabled: true
    ca_file: ${pki.ca}
    cert_file: ${pki.client.cert}
    key_file: ${pki.client.key}
  server_name: localhost
endpoints:
  - address: ${b}
    client_config:
      tls_config:
        enabled: false
  - address: ${c}
    client_config:
      tls_config:
        cert_file: ${pki.other.client.cert}
        key_file: ${pki.other.client.key}
  - address: ${d}
    client_config:
      compression: none
      tls_config:
        ca_file: ${pki.other.ca}
        cert_file: ${pki.other.client.cert}
        key_file: ${pki.other.client.key}
`);
  const http = await freePort();
  const grpc = await freePort();
  proc = thanos('query', ['query', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, `--endpoint=${a}`,
    `--endpoint.sd-config-file=${sd}`, '--endpoint.info-interval=1s'], dir);
  const base = `http://127.0.0.1:${http}`;
  await waitFor(() => httpReady(http), STARTUP_MS, 'querier ready', proc.logs);
  type Status = { name: string; lastError: string | null };
  const stores = async (): Promise<Status[]> => Object.values((await getJson(base, '/api/v1/stores')).data as Record<string, Status[]>).flat();
  await waitFor(async () => {
    const s = await stores();
    return s.filter((x) => x.lastError === null).length === 3 && s.some((x) => x.name === c && x.lastError !== null);
  }, STARTUP_MS, 'a, b, d healthy and c failing', () => proc!.logs());
  const byName = new Map((await stores()).map((s) => [s.name, s.lastError]));
  for (const ok of [a, b, d]) assert.is(byName.get(ok), null, ok);
  assert.match(byName.get(c) ?? '', /certificate|self[- ]signed|verify|handshake|UNAVAILABLE|unavailable/i);

  const r = await getJson(base, `/api/v1/query?query=${encodeURIComponent('x')}&time=${T / 1000}`);
  assert.is(r.status, 'success', JSON.stringify(r));
  assert.equal((r.data.result as Array<{ metric: { store: string } }>).map((s) => s.metric.store).sort(), ['a', 'b', 'd']);
  // c never answered Info, so (as in Thanos) it is not asked: no error, no warning.
  assert.is(r.warnings, undefined, JSON.stringify(r.warnings));
});

// ---- parsing: Thanos's precedence rules ------------------------------------------------------------

const flags = (o: Parameters<typeof withTlsDefaults>[0] = {}, serverName = ''): GlobalClientTls => {
  const fields = withTlsDefaults(o);
  return { fields, tls: fields.enabled ? { minVersion: fields.minVersion, ...(fields.caFile ? { caFile: fields.caFile } : {}), ...(serverName ? { serverName } : {}) } : undefined };
};

test('endpoint config: no client settings use the flags; default_client_config replaces them', () => {
  const withFlags = parseEndpointSdConfig({ endpoints: [{ address: 'a:1' }, { address: 'b:1', client_config: {} }] }, 'f.yaml', flags({ enabled: true, caFile: 'flag-ca' }, 'flag-sn'));
  assert.equal(withFlags.endpoints.map((e) => e.tls), [{ minVersion: '1.3', caFile: 'flag-ca', serverName: 'flag-sn' }, { minVersion: '1.3', caFile: 'flag-ca', serverName: 'flag-sn' }]);
  assert.is(withFlags.defaultTls, undefined, 'no default_client_config: flag endpoints keep the flags');
  const def = parseEndpointSdConfig({ default_client_config: { tls_config: { ca_file: 'def-ca' }, server_name: 'sn' }, endpoints: [{ address: 'a:1' }] }, 'f.yaml', flags({ enabled: true, caFile: 'flag-ca' }));
  assert.equal(def.endpoints[0]!.tls, { minVersion: '1.3', caFile: 'def-ca', serverName: 'sn' }, 'ca_file implies enabled; nothing inherited from the flags');
  assert.equal(def.defaultTls, { tls: { minVersion: '1.3', caFile: 'def-ca', serverName: 'sn' } });
  const off = parseEndpointSdConfig({ default_client_config: { tls_config: { enabled: false } }, endpoints: [{ address: 'a:1' }] }, 'f.yaml', flags({ enabled: true, caFile: 'flag-ca' }));
  assert.equal(off.defaultTls, { tls: undefined }, 'an explicit plaintext default');
  assert.is(off.endpoints[0]!.tls, undefined);
});

test('endpoint config: per-endpoint keys inherit the absent ones, unless enabled: true starts from the defaults', () => {
  const global = flags({ enabled: true, caFile: 'flag-ca', certFile: 'flag.crt', keyFile: 'flag.key', minVersion: '1.2' });
  const parse = (client_config: unknown) => parseEndpointSdConfig({ endpoints: [{ address: 'a:1', client_config }] }, 'f.yaml', global).endpoints[0]!.tls;
  assert.equal(parse({ tls_config: { ca_file: 'mine' } }), { minVersion: '1.2', certFile: 'flag.crt', keyFile: 'flag.key', caFile: 'mine' });
  assert.equal(parse({ tls_config: { cert_file: '', key_file: '' } }), { minVersion: '1.2', caFile: 'flag-ca' }, 'an empty string unsets');
  assert.equal(parse({ server_name: 'sn' }), { minVersion: '1.2', certFile: 'flag.crt', keyFile: 'flag.key', caFile: 'flag-ca', serverName: 'sn' }, 'server_name alone: TLS as the flags');
  assert.equal(parse({ tls_config: { enabled: true } }), { minVersion: '1.3' }, 'enabled: true inherits nothing');
  assert.is(parse({ tls_config: { enabled: false, ca_file: 'x' } }), undefined);
  // Without TLS on the flags, server_name alone stays plaintext; a TLS file turns it on.
  const plain = (client_config: unknown) => parseEndpointSdConfig({ endpoints: [{ address: 'a:1', client_config }] }, 'f.yaml', flags()).endpoints[0]!.tls;
  assert.is(plain({ server_name: 'sn' }), undefined);
  assert.equal(plain({ tls_config: { insecure_skip_verify: true } }), { minVersion: '1.3', skipVerify: true });
});

test('endpoint config: what cannot be honoured is refused by name', () => {
  const p = (doc: unknown) => () => parseEndpointSdConfig(doc, 'f.yaml', flags());
  assert.throws(p({ endpoints: [{ address: 'a:1', client_config: { tls_config: { cert_file: 'c' } } }] }), /f\.yaml: endpoints\[0\]\.client_config\.tls_config\.key_file: both client key and certificate must be provided/);
  assert.throws(p({ default_client_config: { tls_config: { enabled: true, min_version: '1.4' } } }), /default_client_config\.tls_config\.min_version: invalid TLS version: 1\.4/);
  assert.throws(p({ endpoints: [{ address: 'a:1', client_config: { compression: 'snappy' } }] }), /endpoints\[0\]\.client_config\.compression: snappy compression of gRPC requests is not implemented yet/);
  assert.throws(p({ endpoints: [{ address: 'a:1', client_config: { compression: 'gzip' } }] }), /invalid compression: gzip, must be 'none' or 'snappy'/);
  assert.throws(p({ default_client_config: { tls_config: { server_name: 'x' } } }), /default_client_config\.tls_config\.server_name: unknown field "server_name"/);
  assert.throws(p({ endpoints: [{ address: 'a:1', client_config: { tls: {} } }] }), /endpoints\[0\]\.client_config\.tls: unknown field "tls"/);
  assert.throws(p({ endpoints: [{ address: 'a:1', service_config: '{}' }] }), /endpoints\[0\]: a:1 service_config is only valid for endpoint groups\./);
  assert.throws(p({ endpoints: [{ address: 'a:1', group: true }] }), /endpoint groups are not supported/);
  assert.throws(p({ endpoints: [{ address: 'a:1', client_config: { tls_config: { enabled: 'yes' } } }] }), /tls_config\.enabled: expected true or false/);
  assert.is(parseEndpointSdConfig({ default_client_config: {}, endpoints: [{ address: 'a:1', client_config: {} }] }, 'f.yaml', flags()).endpoints.length, 1, 'empty blocks are harmless');
});

test('a reload that changes an endpoint\'s TLS reconnects it; an unchanged one keeps its connection', () => {
  const made: Array<{ addr: string; tls: EndpointSpec['tls']; closed: boolean }> = [];
  const set = new EndpointSet((addr, spec) => {
    const rec = { addr, tls: spec.tls, closed: false };
    made.push(rec);
    return { close: () => { rec.closed = true; } } as unknown as EndpointClient;
  }, { unhealthyTimeoutMs: 60_000, infoTimeoutMs: 1000 });
  const spec = (address: string, caFile?: string): EndpointSpec => ({ address, strict: false, source: 'sd-config', ...(caFile ? { tls: { caFile } } : {}) });
  set.setWanted([spec('a:1', 'ca1'), spec('b:1')]);
  set.setWanted([spec('a:1', 'ca1'), spec('b:1')]);
  assert.is(made.length, 2, 'same settings: no new connection');
  set.setWanted([spec('a:1', 'ca2'), spec('b:1')]);
  assert.equal(made.map((m) => [m.addr, m.tls?.caFile, m.closed]), [['a:1', 'ca1', true], ['b:1', undefined, false], ['a:1', 'ca2', false]]);
  set.close();
});

test.run();

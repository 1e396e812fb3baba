// End to end: `thanos query` → `thanos store` (two processes) over a FILESYSTEM bucket, both with
// --tracing.config-file (OTLP over HTTP/protobuf) pointing at a loopback collector. One instant query
// gives one trace: querier HTTP server span → instant_query_exec → StoreAPI Series gRPC client span →
// the store's gRPC server span → bucket_store_series → bucket_getrange, each span's parent the one
// before it (parent ids chain), each side under its own service.name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { FilesystemBucket } from '../../plugins/objstore/filesystem/mod.ts';
import { genSeries, writeRawBlock } from '../store-gateway/fixtures.ts';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { startCollector, type CollectedSpan, type Collector } from './collector.ts';

const core = createJsCore();
const H2 = 2 * 3600_000;
const T0 = Math.floor((Date.now() - 10 * 86400_000) / H2) * H2;
const root = mkdtempSync(join(tmpdir(), 'tracing-e2e-'));
const repo = new URL('../../', import.meta.url).pathname;
const procs: Array<{ p: ChildProcess; out: string[] }> = [];
let collector: Collector | undefined;

test.after(async () => {
  for (const { p } of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await collector?.close();
  rmSync(root, { recursive: true, force: true });
});

function thanos(args: string[]): { p: ChildProcess; out: string[] } {
  const p = spawn(process.execPath, [join(repo, 'bin/thanos.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const rec = { p, out: [] as string[] };
  p.stdout!.on('data', (d) => rec.out.push(String(d)));
  p.stderr!.on('data', (d) => rec.out.push(String(d)));
  procs.push(rec);
  return rec;
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch { /* not yet */ }
    // A process that exited will not become ready: fail now, with its output.
    const exited = procs.find((r) => r.p.exitCode !== null && r.p.signalCode === null);
    if (Date.now() > until || exited) {
      const spans = collector?.spans.map((s) => `${s.traceId.slice(0, 8)} ${s.service}:${s.name} ${s.spanId.slice(0, 6)}<-${s.parentSpanId.slice(0, 6)} ${JSON.stringify(s.attributes)}`).join('\n');
      throw new Error(`${exited ? `a process exited (code ${exited.p.exitCode})` : 'timed out'} waiting for ${what}\nspans:\n${spans}\n${procs.map((r) => r.out.join('')).join('\n----\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The span's ancestors within its trace, nearest first (stops at a parent that was not collected). */
function ancestors(s: CollectedSpan, byId: Map<string, CollectedSpan>): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (let p = byId.get(s.parentSpanId); p; p = byId.get(p.parentSpanId)) out.push(p);
  return out;
}

test('one query through thanos query and thanos store is one trace with chained parents', async () => {
  const bucket = new FilesystemBucket(nodeFs(), join(root, 'bucket'));
  await writeRawBlock(bucket, core, genSeries(12, T0, T0 + H2, 30_000), T0, T0 + H2, { cluster: 'tracing' });
  writeFileSync(join(root, 'bucket.yaml'), `type: FILESYSTEM\nconfig:\n  directory: ${join(root, 'bucket')}\n`);
  collector = await startCollector();
  writeFileSync(join(root, 'tracing.yaml'), `type: OTLP\nconfig:\n  client_type: http\n  endpoint: 127.0.0.1:${collector.port}\n  insecure: true\n  headers: { x-test: e2e }\n`);
  const [storeGrpc, storeHttp, queryGrpc, queryHttp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  thanos(['store', '--objstore.config-file', 'bucket.yaml', '--data-dir', './store', '--tracing.config-file', 'tracing.yaml',
    '--grpc-address', `127.0.0.1:${storeGrpc}`, '--http-address', `127.0.0.1:${storeHttp}`]);
  const query = thanos(['query', '--endpoint', `127.0.0.1:${storeGrpc}`, '--tracing.config-file', 'tracing.yaml',
    '--grpc-address', `127.0.0.1:${queryGrpc}`, '--http-address', `127.0.0.1:${queryHttp}`]);
  const at = (T0 + H2 / 2) / 1000;
  // Ready once the querier has found the store and the store has loaded the block.
  await waitFor('the querier to answer from the store', STARTUP_MS, async () => {
    const r = await fetch(`http://127.0.0.1:${queryHttp}/api/v1/query?query=${encodeURIComponent('count(up)')}&time=${at}`);
    const j = (await r.json()) as { data?: { result?: unknown[] } };
    return j.data?.result?.length ? true : undefined;
  });

  const q = 'sum by (job) (http_requests_total)';
  const res = await fetch(`http://127.0.0.1:${queryHttp}/api/v1/query?query=${encodeURIComponent(q)}&time=${at}`);
  assert.is(res.status, 200);
  const body = (await res.json()) as { data: { result: unknown[] } };
  assert.ok(body.data.result.length > 0, 'the query has an answer');

  // The batch span processors export every few seconds: wait until the store's side has arrived.
  const trace = await waitFor('the trace of the query at the collector', 60_000, async () => {
    const exec = collector!.spans.find((s) => s.name === 'instant_query_exec' && s.attributes.query === q);
    if (!exec) return undefined;
    const spans = collector!.spans.filter((s) => s.traceId === exec.traceId);
    return spans.some((s) => s.service === 'thanos-store' && s.name === 'bucket_getrange') && spans.some((s) => s.service === 'thanos-store' && s.name === 'bucket_store_series') ? spans : undefined;
  });
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const names = (ss: CollectedSpan[]) => ss.map((s) => `${s.service}:${s.name}`);

  const roots = trace.filter((s) => s.parentSpanId === '');
  assert.is(roots.length, 1, `one root span: ${names(roots)}`);
  const httpServer = roots[0]!;
  assert.is(httpServer.service, 'thanos-query');
  assert.is(httpServer.kind, 2, 'the root is the querier\'s HTTP server span');

  const exec = trace.find((s) => s.name === 'instant_query_exec')!;
  assert.is(exec.service, 'thanos-query');
  assert.ok(ancestors(exec, byId).includes(httpServer), 'instant_query_exec is under the HTTP server span');

  const client = trace.find((s) => s.kind === 3 && /Series$/.test(s.name));
  assert.ok(client, `a StoreAPI Series client span: ${names(trace)}`);
  assert.is(client!.service, 'thanos-query');
  assert.ok(ancestors(client!, byId).includes(exec), 'the gRPC client span is under instant_query_exec');

  const server = trace.find((s) => s.kind === 2 && s.service === 'thanos-store' && /Series$/.test(s.name));
  assert.ok(server, `the store's Series server span: ${names(trace)}`);
  assert.is(server!.parentSpanId, client!.spanId, 'the store\'s server span is the child of the querier\'s client span (trace context over gRPC metadata)');

  const series = trace.find((s) => s.service === 'thanos-store' && s.name === 'bucket_store_series')!;
  assert.ok(ancestors(series, byId).includes(server!), 'bucket_store_series is under the gRPC server span');
  const get = trace.find((s) => s.service === 'thanos-store' && s.name === 'bucket_getrange')!;
  const chain = ancestors(get, byId);
  assert.ok(chain.includes(series), `bucket_getrange is under bucket_store_series: ${names(chain)}`);
  assert.is(chain[chain.length - 1], httpServer, 'and its chain of parents ends at the querier\'s HTTP span');
  assert.type(get.attributes.name, 'string');
  assert.ok(Number(get.attributes.read) > 0, 'the bytes read are recorded when the body is drained');
  assert.is(collector!.lastHeaders['x-test'], 'e2e', 'headers: from the config go with each export');

  // go-kit log fields in the processes' own output.
  assert.match(query.out.join(''), /\bts=\S+Z caller=[\w.-]+\.ts:\d+ level=info component=query msg=/);
});

test('thanos run: plugins.yaml tracing: one exporter for the process, each component\'s spans under its own service name', async () => {
  const [sGrpc, sHttp, qGrpc, qHttp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bucketDir = JSON.stringify(join(root, 'bucket'));
  writeFileSync(join(root, 'plugins.yaml'), `apiVersion: 1
tracing:
  type: OTLP
  config: { client_type: http, endpoint: "127.0.0.1:${collector!.port}", insecure: true }
objstore:
  - id: primary
    use: filesystem
    config: { directory: ${bucketDir} }
    permissions: { read: [${bucketDir}], write: [${bucketDir}] }
components:
  - id: s
    use: store
    objstore: primary
    dataDir: ./run-store
    grpc: 127.0.0.1:${sGrpc}
    http: 127.0.0.1:${sHttp}
    permissions: { net: true, read: true, write: true }
  - id: q
    use: query
    dependsOn: [s]
    http: 127.0.0.1:${qHttp}
    grpc: 127.0.0.1:${qGrpc}
    config: { endpoints: ["127.0.0.1:${sGrpc}"] }
    permissions: { net: true }
`);
  thanos(['run', '-c', 'plugins.yaml']);
  const at = (T0 + H2 / 2) / 1000;
  await waitFor('thanos run to answer from its store', STARTUP_MS, async () => {
    const r = await fetch(`http://127.0.0.1:${qHttp}/api/v1/query?query=${encodeURIComponent('count(up)')}&time=${at}`);
    return ((await r.json()) as { data?: { result?: unknown[] } }).data?.result?.length ? true : undefined;
  });
  const q = 'max(node_cpu_seconds_total)';
  assert.is((await fetch(`http://127.0.0.1:${qHttp}/api/v1/query?query=${encodeURIComponent(q)}&time=${at}`)).status, 200);
  const trace = await waitFor('the run process\'s trace', 60_000, async () => {
    const exec = collector!.spans.find((s) => s.name === 'instant_query_exec' && s.attributes.query === q);
    const spans = exec ? collector!.spans.filter((s) => s.traceId === exec.traceId) : [];
    return spans.some((s) => s.name === 'bucket_store_series') ? spans : undefined;
  });
  assert.is(trace.find((s) => s.name === 'instant_query_exec')!.service, 'thanos-q');
  assert.is(trace.find((s) => s.name === 'bucket_store_series')!.service, 'thanos-s');
  assert.is(trace.find((s) => s.kind === 2 && /Series$/.test(s.name))!.service, 'thanos-s', 'the store\'s gRPC server span');
  assert.is(trace.find((s) => s.kind === 3 && /Series$/.test(s.name))!.service, 'thanos-q', 'the querier\'s gRPC client span');
});

test.run();

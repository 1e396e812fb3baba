// `thanos query` from the command line, as the reference deployment starts it (`--store` twice),
// on loopback ports: it parses, serves /-/ready, the API and the UI, lists its (unreachable) stores
// with their errors, and exits cleanly on SIGTERM. Bad flags fail with a clear message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, thanos, waitFor } from './harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

const dir = mkdtempSync(join(tmpdir(), 'query-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('thanos query --http-address … --grpc-address … --store … --store … runs', async () => {
  const http = await freePort();
  const grpc = await freePort();
  const s1 = await freePort(); // nothing listens there
  const s2 = await freePort();
  const q = thanos('query', ['query', '--http-address', `127.0.0.1:${http}`, '--grpc-address', `127.0.0.1:${grpc}`,
    '--store', `127.0.0.1:${s1}`, '--store', `127.0.0.1:${s2}`], dir);
  try {
    await waitFor(() => httpReady(http), STARTUP_MS, 'querier ready', q.logs);
    const stores = (await (await fetch(`http://127.0.0.1:${http}/api/v1/stores`)).json()) as { data: Record<string, Array<{ name: string; lastError: string | null }>> };
    const all = Object.values(stores.data).flat();
    assert.equal(all.map((s) => s.name).sort(), [`127.0.0.1:${s1}`, `127.0.0.1:${s2}`].sort());
    assert.ok(all.every((s) => s.lastError !== null), JSON.stringify(all));
    const r = await fetch(`http://127.0.0.1:${http}/api/v1/query?query=vector(42)&time=10`);
    assert.is(await r.text(), '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[10,"42"]}]}}');
    // No store matched: empty result, no error (partial response on by default).
    const none = (await (await fetch(`http://127.0.0.1:${http}/api/v1/query?query=up&time=10`)).json()) as { status: string };
    assert.is(none.status, 'success');
    const abort = await fetch(`http://127.0.0.1:${http}/api/v1/query?query=up&time=10&partial_response=false`);
    assert.is(abort.status, 422);
    assert.match(await abort.text(), /No StoreAPIs matched for this query/);
    assert.is((await fetch(`http://127.0.0.1:${http}/graph`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    assert.match(metrics, /thanos_store_nodes_grpc_connections/);
  } finally {
    await q.kill('SIGTERM');
  }
  assert.is(q.proc.exitCode, 0, q.logs());
});

test('bad flags fail with a clear error', async () => {
  for (const [args, re] of [
    [['--store', 'nohost'], /expected host:port/],
    [['--deduplication.func', 'magic'], /unknown deduplication algorithm/],
    [['--query.timeout', 'soon'], /duration/],
    [['--no-such-flag'], /no-such-flag/],
  ] as Array<[string[], RegExp]>) {
    const q = thanos('query', ['query', '--http-address', '127.0.0.1:0', '--grpc-address', '127.0.0.1:0', ...args], dir);
    const code = await new Promise<number | null>((resolve) => q.proc.once('exit', (c) => resolve(c)));
    assert.ok(code !== 0, `${args.join(' ')} should fail`);
    assert.match(q.logs(), re, args.join(' '));
  }
});

test.run();

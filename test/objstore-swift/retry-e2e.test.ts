// Retries end to end (#21 item 7): the thanos binary's `bucket upload-blocks` and `bucket verify`,
// and an in-process bucket from the objstore factory, against a real OpenStack Swift all-in-one on
// loopback behind a small fault-injecting HTTP proxy: the first PUT of each block file answers
// 500/503 after taking the body, and the first GETs of chunk segments are cut mid-body. The Swift
// provider's own retries are off (retries: 0), so what recovers is the host's retry wrapper.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBucket, parseBucketConfig } from '../../lib/objstore/factory.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import swift from '../../plugins/objstore/swift/mod.ts';
import { useSwift } from '../harness/swift.ts';
import { freePort } from '../harness/ports.ts';
import { sameBytes } from '../harness/bytes.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { genOpenMetrics, promtool } from '../tsdb/helpers.ts';

const saio = useSwift(test);
const work = mkdtempSync(join(tmpdir(), 'retry-e2e-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Faults {
  /** Object-name suffixes whose first PUT is answered with this status after the body was read. */
  failPut: Map<string, number>;
  /** Object-name suffixes whose next `cutGets` GETs are cut after half the body. */
  cutGet: Map<string, number>;
  log: string[];
}

/** A proxy to Swift that injects faults; the auth answer's storage URL is rewritten to the proxy. */
async function faultProxy(f: Faults): Promise<{ server: Server; hostPort: string }> {
  const port = await freePort();
  const up = saio.server.proxyPort;
  const seenPut = new Set<string>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    const putRule = [...f.failPut].find(([suffix]) => path.endsWith(suffix));
    if (req.method === 'PUT' && putRule && !seenPut.has(path)) {
      seenPut.add(path);
      req.resume();
      req.on('end', () => {
        f.log.push(`PUT ${path} -> ${putRule[1]}`);
        res.writeHead(putRule[1], { 'content-type': 'text/plain' }).end('injected failure\n');
      });
      return;
    }
    const cutRule = req.method === 'GET' ? [...f.cutGet].find(([suffix, n]) => path.endsWith(suffix) && n > 0) : undefined;
    const fwd = request({ host: '127.0.0.1', port: up, method: req.method, path: req.url, headers: req.headers }, (ures: IncomingMessage) => {
      const headers = { ...ures.headers };
      const su = headers['x-storage-url'];
      if (typeof su === 'string') headers['x-storage-url'] = su.replace(`127.0.0.1:${up}`, `127.0.0.1:${port}`);
      if (!cutRule) {
        res.writeHead(ures.statusCode!, headers);
        ures.pipe(res);
        return;
      }
      const parts: Buffer[] = [];
      ures.on('data', (d: Buffer) => parts.push(d));
      ures.on('end', () => {
        const body = Buffer.concat(parts);
        f.cutGet.set(cutRule[0], cutRule[1] - 1);
        f.log.push(`GET ${path} ${req.headers.range ?? ''} cut at ${body.length >> 1} of ${body.length}`);
        res.writeHead(ures.statusCode!, headers);
        res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      });
    });
    fwd.on('error', (e) => { res.writeHead(502).end(String(e)); });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, hostPort: `127.0.0.1:${port}` };
}

function thanos(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['bin/thanos.mjs', ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

test('bucket upload-blocks survives a 500 on each block file; verify and ranged reads survive bodies cut mid-way', async () => {
  const faults: Faults = { failPut: new Map([['/index', 500], ['/chunks/000001', 503]]), cutGet: new Map(), log: [] };
  const { server, hostPort } = await faultProxy(faults);
  try {
    const container = `retry-e2e-${process.pid}`;
    await saio.server.createContainer(container);
    const yaml = `type: SWIFT\nconfig:\n  auth_url: http://${hostPort}/auth/v1.0\n  username: ${saio.server.user}\n  password: ${saio.server.key}\n  container_name: ${container}\n  retries: 0\n`;
    const cfgFile = join(work, 'bucket.yaml');
    writeFileSync(cfgFile, yaml);
    const t0 = Math.floor(Date.UTC(2024, 0, 1) / 7_200_000) * 7_200_000;
    writeFileSync(join(work, 'in.om'), genOpenMetrics(t0, 4, 3));
    const data = join(work, 'data');
    mkdirSync(data);
    const pr = promtool('tsdb', 'create-blocks-from', 'openmetrics', join(work, 'in.om'), data);
    assert.is(pr.code, 0, pr.stderr);
    const ids = readdirSync(data).filter((n) => /^[0-9A-Z]{26}$/.test(n)).sort();
    assert.ok(ids.length >= 1);

    const up = await thanos('bucket', 'upload-blocks', '--path', data, '--label', 'cluster="e2e"', '--objstore.config-file', cfgFile);
    assert.is(up.code, 0, `${up.out}\n${up.err}\n${faults.log.join('\n')}`);
    assert.match(up.out, new RegExp(`uploaded ${ids.length} block\\(s\\)`));
    assert.is(faults.log.filter((l) => l.startsWith('PUT')).length, 2 * ids.length, faults.log.join('\n'));

    // Every uploaded file equals the local one (read straight from Swift, not through the proxy).
    const direct = await createBucket(parseBucketConfig(yaml.replace(hostPort, saio.server.hostPort)), {
      loadProvider: async () => swift, capabilities: testCtx({ net: [saio.server.hostPort] }), retry: false,
    });
    for (const id of ids) {
      for (const rel of ['index', 'chunks/000001']) {
        assert.ok(sameBytes(await readAll(await direct.get(`${id}/${rel}`)), readFileSync(join(data, id, rel))), `${id}/${rel}`);
      }
    }

    // Ranged reads through the proxy, the first two GETs of a segment cut after half their body.
    const viaProxy = await createBucket(parseBucketConfig(yaml), { loadProvider: async () => swift, capabilities: testCtx({ net: [hostPort] }) });
    const local = readFileSync(join(data, ids[0]!, 'chunks/000001'));
    faults.cutGet.set(`${ids[0]}/chunks/000001`, 2);
    const off = 8, len = local.length - 20;
    const got = await readAll(await viaProxy.getRange(`${ids[0]}/chunks/000001`, off, len));
    assert.ok(sameBytes(got, local.subarray(off, off + len)), `got ${got.length} of ${len} bytes`);
    assert.is(faults.cutGet.get(`${ids[0]}/chunks/000001`), 0, 'both cuts happened');

    // The binary's verify reads every chunk; each segment's first GET is cut.
    for (const id of ids) faults.cutGet.set(`${id}/chunks/000001`, 1);
    const v = await thanos('bucket', 'verify', '--objstore.config-file', cfgFile);
    assert.is(v.code, 0, `${v.out}\n${v.err}\n${faults.log.join('\n')}`);
    assert.ok(ids.every((id) => faults.cutGet.get(`${id}/chunks/000001`) === 0), faults.log.join('\n'));
    await direct.close();
    await viaProxy.close();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test.run();

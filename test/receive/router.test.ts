// The receive router in process, over real gRPC on loopback: three receivers (Receiver + Router, each
// serving thanos.WriteableStore/RemoteWrite on its own port) in one hashring. RF=3: every series on
// every node, one node down still 200 (quorum 2 of 3), two down 503; a restarted node takes writes
// again; out-of-order samples 409; a replica number beyond the factor 400. RF=1 hashmod: each series
// on exactly the node the ring names. RouterOnly in front of IngestorOnly receivers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { writeableStoreServices } from '../../lib/store/server.ts';
import {
  Receiver, Router, newMultiHashring, parseHashringsConfig, receiveHttpHandler, type HashringAlgorithm, type ReceiverMode,
} from '../../lib/receive/mod.ts';
import { compileMatchers } from '../../lib/store/proxy.ts';
import { freePort } from '../harness/ports.ts';
import { receiveCtx, rwRequest, ts } from './helpers.ts';
import { tempDirs } from '../harness/tmpdirs.ts';

const cleanups: Array<() => Promise<void> | void> = [];
test.after(async () => {
  for (const c of cleanups.reverse()) await c();
});
// Registered after the cleanups: uvu runs after-hooks in order, so components close before their directories go.
const tmp = tempDirs('rcv-router-');

interface Node {
  addr: string;
  rx: Receiver;
  router: Router;
  logs: string[];
  srv: GrpcListener | undefined;
  handle: (req: Request) => Promise<Response>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** n receivers on loopback ports, in one hashring (mode per node), RF and algorithm given. */
async function cluster(n: number, rf: number, algorithm: HashringAlgorithm, modes?: ReceiverMode[]): Promise<Node[]> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const cfg = parseHashringsConfig(JSON.stringify([{ hashring: 'default', endpoints: addrs }]));
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const ctx = receiveCtx();
    const mode = modes?.[i] ?? 'RouterIngestor';
    const rx = await Receiver.open({
      fs: ctx.fs, path: tmp(), core: ctx.core, log: ctx.log, metrics: ctx.metrics, labels: { receive_replica: `r${i}` },
      tenantLabelName: 'tenant_id', defaultTenant: 'default-tenant', replicationFactor: rf, blockDurationMs: 7_200_000, retentionMs: 0,
    });
    const router = new Router({
      mode, replicationFactor: rf, localEndpoint: mode === 'RouterIngestor' ? addrs[i]! : '', defaultTenant: 'default-tenant',
      local: (t, s) => rx.write(t, s), dial: dialGrpc, forwardTimeoutMs: 5000, log: ctx.log, metrics: ctx.metrics,
    });
    if (mode !== 'IngestorOnly') router.setHashring(newMultiHashring(algorithm, rf, cfg));
    const handle = receiveHttpHandler(rx, {
      tenantHeader: 'THANOS-TENANT', defaultTenant: 'default-tenant', replicaHeader: 'THANOS-REPLICA', maxBodyBytes: 1 << 26, maxDecodedBytes: 1 << 26,
      route: (rep, tenant, series) => router.handle(rep, [{ tenant, series }]),
    });
    const node: Node = {
      addr: addrs[i]!, rx, router, srv: undefined, handle, logs: ctx.logs,
      async start() {
        node.srv = await startGrpc(node.addr, writeableStoreServices((req) => router.grpcWrite(req)));
      },
      async stop() {
        await node.srv?.close(0);
        node.srv = undefined;
      },
    };
    await node.start();
    cleanups.push(async () => {
      router.close();
      await node.stop();
    });
    nodes.push(node);
  }
  return nodes;
}

const series = (from: number, count: number, t: number, v = 1) =>
  Array.from({ length: count }, (_, i) => ts({ __name__: 'rt_metric', i: String(from + i) }, [[t, v]]));

/** Replicas beyond the quorum may land after the answer: wait for them (generous: loaded CI). */
async function eventually(pred: () => Promise<boolean>, ms = 30_000): Promise<void> {
  for (let i = 0; i < ms / 100 && !(await pred()); i++) await new Promise((res) => setTimeout(res, 100));
}

/** The samples of rt_metric a receiver holds: "i@t" strings. */
async function held(rx: Receiver): Promise<Set<string>> {
  const out = new Set<string>();
  const t = rx.tenants.find('default-tenant');
  if (!t) return out;
  for (const s of await t.db.select(compileMatchers([{ type: '=', name: '__name__', value: 'rt_metric' }]), -Infinity, Infinity, new AbortController().signal)) {
    const i = s.labels.find((l) => l.name === 'i')!.value;
    for (const c of s.chunks) {
      const d = receiveCtx().core.xorDecode(c.data);
      for (let k = 0; k < d.n; k++) out.add(`${i}@${d.t[k]}`);
    }
  }
  return out;
}

test('RF=3 ketama over 3 receivers: every series on every node; one down → 200 (quorum 2); two down → 503; restarted node takes writes again', async () => {
  const nodes = await cluster(3, 3, 'ketama');
  const [a, b, c] = nodes as [Node, Node, Node];
  let r = await a.handle(rwRequest(series(0, 50, 1000)));
  assert.is(r.status, 200, await r.text());
  // the answer comes at quorum; the third copy (local or remote) may land just after
  await eventually(async () => (await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).size === 50))).every(Boolean));
  for (const nd of nodes) assert.is((await held(nd.rx)).size, 50, nd.addr);

  await c.stop();
  r = await a.handle(rwRequest(series(0, 50, 2000)));
  assert.is(r.status, 200, await r.text());
  // with c down, quorum needs both a and b: both hold the batch when the answer comes
  for (const nd of [a, b]) assert.is((await held(nd.rx)).size, 100);
  assert.is((await held(c.rx)).size, 50);

  await b.stop();
  r = await a.handle(rwRequest(series(0, 50, 3000)));
  assert.is(r.status, 503, 'quorum lost: Prometheus must retry');
  assert.match(await r.text(), new RegExp(`forwarding request to endpoint (${b.addr}|${c.addr})`));

  // both back: the retried batch succeeds everywhere (a already holds it: same-value duplicates are fine)
  await b.start();
  await c.start();
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    r = await a.handle(rwRequest(series(0, 50, 3000)));
    status = r.status;
    await r.text();
    if (status !== 200) await new Promise((res) => setTimeout(res, 200));
  }
  assert.is(status, 200, 'peers reconnected');
  // 200 = a quorum holds it; the third copy may have met a channel still backing off (it is not
  // re-sent, as in Thanos: the querier's dedup fills such a gap). Later writes reach all three.
  assert.ok((await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).has('49@3000')))).filter(Boolean).length >= 2, 'quorum holds the batch');
  const all = async (t: number) => (await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).has(`49@${t}`)))).every(Boolean);
  let t = 4000;
  for (; t < 4000 + 300 * 1000; t += 1000) {
    assert.is((await a.handle(rwRequest(series(0, 50, t)))).status, 200);
    await eventually(() => all(t), 2000);
    if (await all(t)) break;
  }
  assert.ok(await all(t), 'a later write is on all three nodes');
});

test('RF=3: conflicts → 409 (not retried); replica header beyond the factor → 400; a write entering any node lands on all', async () => {
  const nodes = await cluster(3, 3, 'ketama');
  const [a, b] = nodes as [Node, Node, Node];
  assert.is((await b.handle(rwRequest(series(0, 5, 5000, 1)))).status, 200);
  const r = await a.handle(rwRequest(series(0, 5, 4000, 2)));
  assert.is(r.status, 409);
  assert.match(await r.text(), /out of order sample/);
  const bad = await a.handle(rwRequest(series(0, 1, 6000), { 'THANOS-REPLICA': '4' }));
  assert.is(bad.status, 400);
  assert.match(await bad.text(), /request replica exceeds receiver replication factor/);
  // replica 3 (1-indexed) of an already replicated write: its sender chose this node, stored here only
  assert.is((await a.handle(rwRequest(series(0, 1, 6000), { 'THANOS-REPLICA': '3' }))).status, 200);
  assert.ok((await held(a.rx)).has('0@6000'));
  await new Promise((res) => setTimeout(res, 200));
  for (const nd of nodes.slice(1)) assert.not.ok((await held(nd.rx)).has('0@6000'), `${nd.addr} got a replica the sender gave a`);
  // and the first write, entering b, is on every node
  await eventually(async () => (await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).has('4@5000')))).every(Boolean));
  for (const nd of nodes) assert.ok((await held(nd.rx)).has('4@5000'));
});

test('rings disagree (a hashring change reaching nodes at different times): an acknowledged series is on a quorum of distinct nodes', async () => {
  // a, b, c, d in the new ring; b and y still have the old one (a, b, c). A series whose replicas
  // in the new ring (a's) are {b, y, z}, where the old ring names y as b's replica: forwarding the
  // replica b got by b's own ring (what Thanos's handler does) lands it on y, so a counts two
  // copies (b's answer and y's) while only y holds one.
  const nodes = await cluster(4, 3, 'ketama');
  const [a, b] = nodes as [Node, Node, Node, Node];
  const newRing = a.router.hashring();
  const oldRing = newMultiHashring('ketama', 3, parseHashringsConfig(JSON.stringify([{ hashring: 'default', endpoints: nodes.slice(0, 3).map((n) => n.addr) }])));
  let pick: { i: number; rn: number; y: string; z: string } | undefined;
  for (let i = 0; i < 2000 && !pick; i++) {
    const labels = series(i, 1, 1000)[0]!.labels;
    const reps = [0, 1, 2].map((rn) => newRing.getN('default-tenant', labels, rn).address);
    const rn = reps.indexOf(b.addr);
    if (rn < 0 || reps.includes(a.addr)) continue;
    const y = oldRing.getN('default-tenant', labels, rn).address;
    if (y === b.addr || !reps.includes(y)) continue;
    pick = { i, rn, y, z: reps.find((e) => e !== b.addr && e !== y)! };
  }
  assert.ok(pick, 'a series placed as described exists');
  const { i, y, z } = pick!;
  const zNode = nodes.find((n) => n.addr === z)!;
  const yNode = nodes.find((n) => n.addr === y)!;
  // channels up first (a write every node takes), so the answer below is not about dialling
  let warm = 0;
  for (let k = 0; k < 50 && warm !== 200; k++) {
    const w = await a.handle(rwRequest(series(5000, 40, 1000)));
    warm = w.status;
    await w.text();
  }
  assert.is(warm, 200, 'channels up');
  await eventually(async () => (await Promise.all(nodes.slice(1).map(async (nd) => (await held(nd.rx)).size > 0))).every(Boolean));
  b.router.setHashring(oldRing);
  yNode.router.setHashring(oldRing); // y names itself for that replica: a forward from b lands there
  await zNode.stop(); // the third replica is down: the answer rests on b and y
  const r = await a.handle(rwRequest(series(i, 1, 5000)));
  const status = r.status;
  const body = await r.text();
  const holders = (await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).has(`${i}@5000`)))).filter(Boolean).length;
  if (status === 200) assert.ok(holders >= 2, `acknowledged (200) but held by ${holders} node(s)`);
  else assert.is(status, 503, body);
  await eventually(async () => (await held(b.rx)).has(`${i}@5000`));
  assert.ok((await held(b.rx)).has(`${i}@5000`), 'b stores the replica it was sent');
});

test('RF=1 hashmod: each series stored once, on the node the ring names', async () => {
  const nodes = await cluster(3, 1, 'hashmod');
  const r = await nodes[1]!.handle(rwRequest(series(0, 90, 1000)));
  assert.is(r.status, 200, await r.text());
  const ring = nodes[0]!.router.hashring();
  const counts = await Promise.all(nodes.map(async (nd) => (await held(nd.rx)).size));
  assert.is(counts.reduce((x, y) => x + y, 0), 90);
  for (const nd of nodes) assert.ok((await held(nd.rx)).size > 10, 'spread over the ring');
  for (let i = 0; i < 90; i++) {
    const owner = ring.getN('default-tenant', series(i, 1, 1000)[0]!.labels, 0).address;
    const nd = nodes.find((x) => x.addr === owner)!;
    assert.ok((await held(nd.rx)).has(`${i}@1000`), `series ${i} on ${owner}`);
  }
});

test('RouterOnly in front of IngestorOnly receivers: the router stores nothing, ingestors take the forwarded replicas', async () => {
  // node 0 is the router; its own address in the ring is only a listening gRPC port, so the ring
  // is built from the ingestors only
  const ingestors = await cluster(2, 2, 'hashmod', ['IngestorOnly', 'IngestorOnly']);
  const ctx = receiveCtx();
  const rx = await Receiver.open({
    fs: ctx.fs, path: tmp(), core: ctx.core, log: ctx.log, metrics: ctx.metrics, labels: { receive_replica: 'router' },
    tenantLabelName: 'tenant_id', defaultTenant: 'default-tenant', replicationFactor: 2, blockDurationMs: 7_200_000, retentionMs: 0,
  });
  const router = new Router({
    mode: 'RouterOnly', replicationFactor: 2, localEndpoint: '', defaultTenant: 'default-tenant',
    local: (t, s) => rx.write(t, s), dial: dialGrpc, forwardTimeoutMs: 5000, log: ctx.log, metrics: ctx.metrics,
  });
  cleanups.push(() => router.close());
  router.setHashring(newMultiHashring('hashmod', 2, parseHashringsConfig(JSON.stringify([{ endpoints: ingestors.map((x) => x.addr) }]))));
  const out = await router.handle(0, [{ tenant: 'default-tenant', series: series(0, 20, 1000) }]);
  assert.is(out.status, 200, out.message);
  assert.is((await held(rx)).size, 0);
  // quorum 1: the answer may come before the second replica's; it lands shortly after
  for (let i = 0; i < 100 && (await held(ingestors[0]!.rx)).size + (await held(ingestors[1]!.rx)).size < 40; i++) await new Promise((res) => setTimeout(res, 100));
  for (const nd of ingestors) assert.is((await held(nd.rx)).size, 20, 'RF=2 of 2 nodes: every series on both');
  // RF=2 quorum is 1 (Thanos): one ingestor down still acknowledges
  await ingestors[1]!.stop();
  assert.is((await router.handle(0, [{ tenant: 'default-tenant', series: series(0, 20, 2000) }])).status, 200);
  await ingestors[0]!.stop();
  assert.is((await router.handle(0, [{ tenant: 'default-tenant', series: series(0, 20, 3000) }])).status, 503);
});

test.run();

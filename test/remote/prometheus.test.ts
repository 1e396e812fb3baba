// Remote write and remote read against a real Prometheus 2.42: our snappy + protobuf encoders are
// decoded by Go, and Go's encoders (write bodies, SAMPLES and streamed chunk responses) by ours.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsKey, labelsFromRecord } from '../../lib/labels/mod.ts';
import type { TimeSeries, WriteRequest } from '../../lib/proto/prompb.ts';
import { remoteRead } from '../../lib/remote/read.ts';
import { compress } from '../../lib/remote/snappy.ts';
import { parseRemoteWriteRequest, REMOTE_WRITE_HEADERS, RemoteError, sendRemoteWrite } from '../../lib/remote/write.ts';
import { freePort, prometheusMissing, startPrometheus, type Prom } from './prom.ts';

const missing = prometheusMissing();
if (missing) throw new Error(missing);

const core = createJsCore();
let prom: Prom;
let receiver: Server | undefined;
const received: WriteRequest[] = [];
let recvErrors: string[] = [];
let recvPort = 0;

const now = Math.floor(Date.now() / 1000) * 1000;
const start = now - 50 * 60 * 1000;
const series: TimeSeries[] = [];
for (let s = 0; s < 4; s++) {
  const samples = [];
  for (let i = 0; i < 200; i++) samples.push({ timestamp: start + i * 15000, value: s === 3 ? Math.sin(i) * 1e6 : i * (s + 1) + 0.25 });
  series.push({ labels: [...labelsFromRecord({ __name__: 'ours_written', idx: String(s), note: s === 2 ? 'ünïcode ✓' : 'plain' })], samples });
}

test.before(async () => {
  recvPort = await freePort();
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    try {
      received.push(await parseRemoteWriteRequest(new Request('http://x/receive', { method: 'POST', headers, body: Buffer.concat(chunks) })));
      res.writeHead(204).end();
    } catch (e) {
      recvErrors.push(String(e));
      res.writeHead(e instanceof RemoteError ? e.status : 500).end(String(e));
    }
  });
  await new Promise<void>((r) => receiver!.listen(recvPort, '127.0.0.1', r));
  prom = await startPrometheus(`
global:
  scrape_interval: 1s
  external_labels:
    cluster: rt
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['127.0.0.1:$PROM_PORT']
remote_write:
  - url: http://127.0.0.1:${recvPort}/receive
    queue_config:
      batch_send_deadline: 1s
`);
});

test.after(async () => {
  await prom?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

test('remote write of our snappy+protobuf body is accepted by Prometheus', async () => {
  const res = await sendRemoteWrite(fetch, `${prom.url}/api/v1/write`, { timeseries: series });
  assert.is(res.status, 204);
  const q = await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('count_over_time(ours_written[1h])')}&time=${now / 1000}`)).json() as any;
  assert.is(q.status, 'success');
  assert.is(q.data.result.length, 4);
  for (const r of q.data.result) assert.is(r.value[1], '200');
});

test('bad remote write bodies are rejected with 400 and a clear error', async () => {
  const r = await fetch(`${prom.url}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: new Uint8Array([0x05, 0x10, 1, 2]) });
  assert.is(r.status, 400);
  let err: unknown;
  try {
    // valid snappy around invalid protobuf
    await fetch(`${prom.url}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: compress(new Uint8Array([0x0a, 0x7f])) }).then(async (x) => {
      if (!x.ok) throw new RemoteError(x.status, await x.text());
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof RemoteError && err.status === 400);
});

async function readBack(streamed: boolean): Promise<Map<string, Array<[number, number]>>> {
  const rr = await remoteRead(fetch, `${prom.url}/api/v1/read`, {
    queries: [{ startTimestampMs: start - 1000, endTimestampMs: now, matchers: [{ type: '=', name: '__name__', value: 'ours_written' }] }],
    acceptedResponseTypes: [streamed ? 1 : 0],
  });
  assert.is(rr.type, streamed ? 'streamed' : 'samples');
  const out = new Map<string, Array<[number, number]>>();
  if (rr.type === 'samples') {
    assert.is(rr.response.results.length, 1);
    for (const ts of rr.response.results[0]!.timeseries) out.set(labelsKey(ts.labels), ts.samples.map((s) => [s.timestamp, s.value]));
  } else {
    let frames = 0;
    for await (const f of rr.frames) {
      frames++;
      assert.is(f.queryIndex, 0);
      for (const cs of f.chunkedSeries) {
        const k = labelsKey(cs.labels);
        const acc = out.get(k) ?? [];
        for (const c of cs.chunks) {
          assert.is(c.type, 1, 'prompb XOR = 1');
          const d = core.xorDecode(c.data);
          assert.is(d.t[0], c.minTimeMs);
          assert.is(d.t[d.n - 1], c.maxTimeMs);
          for (let i = 0; i < d.n; i++) acc.push([d.t[i]!, d.v[i]!]);
        }
        out.set(k, acc);
      }
    }
    assert.ok(frames >= 1);
  }
  return out;
}

for (const streamed of [false, true]) {
  test(`remote read (${streamed ? 'STREAMED_XOR_CHUNKS' : 'SAMPLES'}) returns exactly what we wrote, plus external labels`, async () => {
    const got = await readBack(streamed);
    assert.is(got.size, 4);
    for (const ts of series) {
      const withExt = labelsFromRecord({ ...Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), cluster: 'rt' });
      const samples = got.get(labelsKey(withExt));
      assert.ok(samples, `series ${labelsKey(withExt)} present`);
      assert.equal(samples, ts.samples.map((s) => [s.timestamp, s.value]));
    }
  });
}

test('remote write sent by Prometheus decodes with our receiver helpers', async () => {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && !received.some((w) => w.timeseries.some((t) => t.labels.some((l) => l.name === '__name__' && l.value === 'up')))) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(recvErrors, []);
  const all = received.flatMap((w) => w.timeseries);
  const up = all.find((t) => t.labels.some((l) => l.name === '__name__' && l.value === 'up'));
  assert.ok(up, 'Prometheus sent its own up series');
  assert.equal(up!.labels.find((l) => l.name === 'cluster'), { name: 'cluster', value: 'rt' });
  assert.ok(up!.samples.length >= 1);
  assert.ok(Math.abs(up!.samples[0]!.timestamp - Date.now()) < 120000);
  assert.ok(all.length > 50, `many series per request (${all.length})`);
});

test.run();

// Hostile remote writes into `thanos receive` (issue #21 items 2 and 3), each against the plugin
// running in process with its real remote write listener on loopback and its StoreAPI over gRPC:
// - timestamps outside the head's appendable window: a sample 30 days ahead is refused (409, Thanos's
//   "out of bounds", saying it is too far in the future) with --tsdb.too-far-in-future.time-window
//   and live samples after it are still written; year-old and negative timestamps are refused as
//   Prometheus's head refuses them (older than head max time - block duration / 2); a request mixing
//   good and bad series stores every good sample and answers 409;
// - decompression bombs: a snappy header declaring 4 GiB, and a real 4.7 MB stream decoding to a
//   100 MB WriteRequest, are refused with 413 from the header before the body is read or decoded,
//   without the process growing, and the receiver keeps answering afterwards; an endless body is
//   cut at the body limit;
// - label limits (Prometheus's label_limit, label_name_length_limit, label_value_length_limit): 400
//   naming the limit, the other series of the request stored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Matcher } from '../../lib/labels/mod.ts';
import { dialGrpc, startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { encodeWriteRequest, decodeWriteRequest, type WriteRequest } from '../../lib/proto/prompb.ts';
import { labelValuesRequest, seriesRequest } from '../../lib/proto/store.ts';
import { decompress } from '../../lib/remote/snappy.ts';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { StoreClient } from '../../lib/store/client.ts';
import { storeServices } from '../../lib/store/server.ts';
import plugin, { type ReceiveComponent } from '../../plugins/component/receive/mod.ts';
import { freePort } from '../harness/ports.ts';
import { collect, labelsRec, receiveCtx, samplesOf, ts } from './helpers.ts';

const DAY = 86_400_000;
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
test.after(async () => {
  for (const s of stops) await s();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Rx {
  url: string;
  dir: string;
  comp: ReceiveComponent;
  client: StoreClient;
  post(body: NonNullable<RequestInit['body']>, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }>;
  write(series: Parameters<typeof ts>[], tenant?: string): Promise<{ status: number; text: string; headers: Headers }>;
  series(ms?: Matcher[]): Promise<Array<{ labels: Record<string, string>; samples: Array<[number, number]> }>>;
}

/** The receive plugin as `thanos receive` runs it: setup + run, remote write on a loopback port. */
async function startReceiver(extra: Record<string, unknown> = {}): Promise<Rx> {
  const dir = mkdtempSync(join(tmpdir(), 'rcv-hostile-'));
  dirs.push(dir);
  const port = await freePort();
  const cfg = plugin.parseConfig({ tsdbPath: dir, labels: ['replica="r1"'], remoteWriteAddress: `127.0.0.1:${port}`, ...extra });
  const ctx = receiveCtx();
  const comp = (await plugin.setup(ctx, cfg)) as ReceiveComponent;
  const ac = new AbortController();
  const running = comp.run(ac.signal);
  const deadline = Date.now() + 60_000;
  while (!ctx.ready) {
    if (Date.now() > deadline) throw new Error('receiver not ready within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const srv: GrpcListener = await startGrpc('127.0.0.1:0', storeServices(comp.store));
  const client = new StoreClient(dialGrpc(srv.address));
  stops.push(async () => {
    client.close();
    await srv.close();
    ac.abort();
    await running;
  });
  const url = `http://127.0.0.1:${port}/api/v1/receive`;
  const post = async (body: NonNullable<RequestInit['body']>, init: RequestInit = {}) => {
    const r = await fetch(url, { method: 'POST', body, ...init, headers: { ...REMOTE_WRITE_HEADERS, ...(init.headers as Record<string, string> | undefined) } });
    return { status: r.status, text: await r.text(), headers: r.headers };
  };
  return {
    url, dir, comp, client, post,
    write: (series, tenant) => post(encodeRemoteWriteBody({ timeseries: series.map((a) => ts(...a)) }), tenant ? { headers: { 'THANOS-TENANT': tenant } } : {}),
    async series(ms = [{ type: '=~', name: '__name__', value: '.+' }]) {
      const got = await collect(client.series(seriesRequest({ minTime: -9223372036854775808, maxTime: 9223372036854775807, matchers: ms }), new AbortController().signal));
      return got.map((s) => ({ labels: labelsRec(s), samples: samplesOf(s) }));
    },
  };
}

const live = (name: string, extra: Record<string, string> = {}) => ({ __name__: name, ...extra });
/** Whole seconds: the samples compare exactly. */
const now = () => Math.floor(Date.now() / 1000) * 1000;

test('a sample 30 days ahead is refused (409 out of bounds, too far in the future) and live samples after it are still written', async () => {
  const rx = await startReceiver({ tsdbTooFarInFutureTimeWindow: '10m' });
  const t0 = now();
  let r = await rx.write([[live('up'), [[t0 - 2000, 1], [t0 - 1000, 1]]]]);
  assert.is(r.status, 200, r.text);
  r = await rx.write([[live('up'), [[t0 + 30 * DAY, 9]]]]);
  assert.is(r.status, 409, r.text);
  // Thanos's text, then which end of the window and where it is.
  assert.match(r.text, /add 1 samples: out of bounds/);
  assert.match(r.text, /1 too far in the future \(after \S+ \(\d+\) = now \+ --tsdb\.too-far-in-future\.time-window 10m\)/);
  // Inside the window (5 min ahead) is fine, as in Thanos.
  r = await rx.write([[live('up'), [[t0 + 5 * 60_000, 5]]]]);
  assert.is(r.status, 200, r.text);
  // Live samples keep being written: the refused sample did not move the head's window.
  for (let i = 1; i <= 3; i++) {
    r = await rx.write([[live('live_after'), [[t0 + i * 1000, i]]]]);
    assert.is(r.status, 200, `live sample ${i}: ${r.text}`);
  }
  const got = await rx.series();
  const byName = Object.fromEntries(got.map((s) => [s.labels.__name__, s.samples]));
  assert.equal(byName.up, [[t0 - 2000, 1], [t0 - 1000, 1], [t0 + 5 * 60_000, 5]]);
  assert.equal(byName.live_after, [[t0 + 1000, 1], [t0 + 2000, 2], [t0 + 3000, 3]]);
  const st = await fetch(rx.url.replace('/api/v1/receive', '/api/v1/status/tsdb'));
  const head = ((await st.json()) as any).data.headStats;
  assert.ok(Number(head.maxTime) < t0 + DAY, `head max time moved to ${head.maxTime}`);
});

test('samples a year old and negative timestamps are refused as out of bounds (too old); nothing is cut into a block', async () => {
  const rx = await startReceiver();
  const t0 = now();
  let r = await rx.write([[live('up'), [[t0, 1]]]]);
  assert.is(r.status, 200, r.text);
  r = await rx.write([[live('old'), [[t0 - 365 * DAY, 1]]]]);
  assert.is(r.status, 409, r.text);
  assert.match(r.text, /add 1 samples: out of bounds/);
  assert.match(r.text, /1 too old \(before \S+ \(\d+\), the oldest time the head accepts\)/);
  r = await rx.write([[live('neg'), [[-5000, 1], [-1, 2]]]]);
  assert.is(r.status, 409, r.text);
  assert.match(r.text, /add 2 samples: out of bounds/);
  // The head's window is Prometheus's: max time - block duration / 2 (2h blocks: 1h back is still fine).
  r = await rx.write([[live('recent'), [[t0 - 59 * 60_000, 1]]]]);
  assert.is(r.status, 200, r.text);
  r = await rx.write([[live('up'), [[t0 + 1000, 2]]]]);
  assert.is(r.status, 200, r.text);
  assert.equal((await rx.comp.compactAndShip()).length, 0);
  assert.equal(readdirSync(join(rx.dir, 'default-tenant')).filter((f) => /^[0-9A-Z]{26}$/.test(f)), []);
  assert.equal((await rx.series()).map((s) => s.labels.__name__).sort(), ['recent', 'up']);
});

test('one request mixing good and bad series: every good sample is stored, the bad ones refused, 409', async () => {
  const rx = await startReceiver({ tsdbTooFarInFutureTimeWindow: '1h' });
  const t0 = now();
  assert.is((await rx.write([[live('a'), [[t0 - 5000, 1]]]])).status, 200);
  const r = await rx.write([
    [live('a'), [[t0 - 4000, 2], [t0 - 3000, 3]]],
    [live('b'), [[t0 - 4000, 1], [t0 + 40 * DAY, 666], [t0 - 2000, 3]]],
    [live('c'), [[t0 - 400 * DAY, 1]]],
    [live('d'), [[t0, 4]]],
  ]);
  assert.is(r.status, 409, r.text);
  assert.match(r.text, /add 2 samples: out of bounds; out of bounds: 1 too far in the future .*, 1 too old/);
  // Answers of declared length, as Go's: the refusal's bytes, and a stored write's Content-Length: 0.
  assert.is(r.headers.get('content-length'), String(Buffer.byteLength(r.text)));
  assert.is(r.headers.get('transfer-encoding'), null);
  const ok = await rx.write([[live('d'), [[t0 + 1000, 5]]]]);
  assert.is(ok.status, 200, ok.text);
  assert.is(ok.headers.get('content-length'), '0');
  assert.is(ok.headers.get('transfer-encoding'), null);
  const byName = Object.fromEntries((await rx.series()).map((s) => [s.labels.__name__, s.samples]));
  assert.equal(byName, {
    a: [[t0 - 5000, 1], [t0 - 4000, 2], [t0 - 3000, 3]],
    b: [[t0 - 4000, 1], [t0 - 2000, 3]],
    d: [[t0, 4], [t0 + 1000, 5]],
  });
});

/** Remote write bodies of one series {__name__="bomb", v="aaa…"} with a label value of n bytes, built straight as snappy (never materialised). */
function bombBody(n: number, t: number): Uint8Array {
  const varint = (v: number) => {
    const b: number[] = [];
    while (v > 0x7f) {
      b.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    b.push(v);
    return b;
  };
  const str = (field: number, s: string) => [(field << 3) | 2, ...varint(s.length), ...Buffer.from(s)];
  const l1 = [...str(1, '__name__'), ...str(2, 'bomb')];
  const l2Head = [...str(1, 'v'), (2 << 3) | 2, ...varint(n)]; // then n × 'a'
  const sample = [(1 << 3) | 1, ...Buffer.from(new Float64Array([1]).buffer), (2 << 3) | 0, ...varint(t)];
  const field = (len: number) => 1 + varint(len).length + len; // tag, length, bytes
  const tsBody = field(l1.length) + field(l2Head.length + n) + field(sample.length);
  const prefix = [0x0a, ...varint(tsBody), 0x0a, ...varint(l1.length), ...l1, 0x0a, ...varint(l2Head.length + n), ...l2Head, 0x61];
  const suffix = [0x12, ...varint(sample.length), ...sample];
  const total = prefix.length + (n - 1) + suffix.length;
  const literal = (bytes: number[]) => (bytes.length <= 60 ? [(bytes.length - 1) << 2, ...bytes] : [60 << 2, bytes.length - 1, ...bytes]);
  const head = [...varint(total), ...literal(prefix)];
  const copies = Math.floor((n - 1) / 64);
  const rest = (n - 1) % 64;
  const tail = [...(rest > 0 ? [((rest - 1) << 2) | 2, 1, 0] : []), ...literal(suffix)];
  const out = new Uint8Array(head.length + copies * 3 + tail.length);
  out.set(head, 0);
  let o = head.length;
  for (let i = 0; i < copies; i++, o += 3) {
    out[o] = (63 << 2) | 2; // copy, 2-byte offset: 64 bytes from 1 back (repeats the last 'a')
    out[o + 1] = 1;
    out[o + 2] = 0;
  }
  out.set(tail, o);
  return out;
}

test('the bomb generator makes real remote write bodies (what the 413 tests send is valid snappy + protobuf)', () => {
  for (const n of [1, 63, 64, 65, 1000, 100_000]) {
    const want: WriteRequest = { timeseries: [ts({ __name__: 'bomb', v: 'a'.repeat(n) }, [[1234, 1]])] };
    const raw = decompress(bombBody(n, 1234));
    assert.equal(raw, encodeWriteRequest(want), `n=${n}`);
    assert.equal(decodeWriteRequest(raw).timeseries[0]!.labels[1]!.value.length, n);
  }
});

/** Peak process RSS growth while `f` runs (sampled every 5 ms, and once after). */
async function rssGrowth<T>(f: () => Promise<T>): Promise<{ res: T; grewMB: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const iv = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const res = await f();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { res, grewMB: (peak - before) / 2 ** 20 };
  } finally {
    clearInterval(iv);
  }
}

test('decompression bombs: refused with 413 from the snappy header before decoding, the process does not grow, the receiver keeps working', async () => {
  const rx = await startReceiver();
  const t0 = now();
  assert.is((await rx.write([[live('before'), [[t0, 1]]]])).status, 200);
  // A 7-byte body declaring 4 GiB - 1.
  let r = await rx.post(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61]));
  assert.is(r.status, 413, r.text);
  assert.match(r.text, /decoded request of 4294967295 bytes \(snappy header\) exceeds the limit of 33554432 bytes \(--remote-write\.max-decoded-bytes\)/);
  // A real one: 4.7 MB of snappy decoding to a 100 MB WriteRequest (a 100 MB label value).
  const bomb = bombBody(100 << 20, t0 + 1000);
  assert.ok(bomb.length < 5 << 20, `bomb is ${bomb.length} bytes`);
  const { res, grewMB } = await rssGrowth(() => rx.post(bomb));
  assert.is(res.status, 413, res.text);
  assert.match(res.text, /decoded request of 10485\d{4} bytes \(snappy header\) exceeds the limit of 33554432 bytes/);
  // Old code decoded it: +100 MB output, +100 MB label string, the WAL record. The bound leaves room for GC noise.
  assert.ok(grewMB < 64, `RSS grew ${grewMB.toFixed(0)} MB while refusing the bomb`);
  // Everything else still answers, and nothing of the bomb was stored.
  assert.is((await rx.write([[live('after'), [[t0 + 2000, 2]]]])).status, 200);
  const vals = await rx.client.labelValues(labelValuesRequest({ label: '__name__' }), new AbortController().signal);
  assert.equal(vals.values, ['after', 'before']);
  const st = await fetch(rx.url.replace('/api/v1/receive', '/api/v1/status/tsdb'));
  assert.is(st.status, 200);
  assert.is(((await st.json()) as any).data.headStats.numSeries, 2);
  // Under a lower limit, a body just over it is refused and one just under it is written.
  const rx2 = await startReceiver({ maxDecodedBytes: 4096 });
  assert.is((await rx2.post(bombBody(4200, t0))).status, 413);
  const ok = await rx2.post(bombBody(3000, t0));
  assert.is(ok.status, 200, ok.text);
  assert.is((await rx2.series())[0]!.labels.v!.length, 3000);
});

test('the compressed body is read under its limit: a 48 MiB chunked body is cut at the 1 MiB limit (413), not buffered', async () => {
  const rx = await startReceiver({ maxBodyBytes: 1 << 20 });
  let pulled = 0;
  const chunk = new Uint8Array(64 << 10);
  let first = true;
  // No Content-Length (chunked). Finite, so that code which buffers the whole body ends too (and fails below).
  const long = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (first) {
        first = false;
        ctl.enqueue(new Uint8Array([0x80, 0x80, 0x40])); // declares 1 MiB, within the decoded limit
        return;
      }
      if (pulled >= 48 << 20) return ctl.close();
      pulled += chunk.length;
      ctl.enqueue(chunk);
    },
  });
  const r = await rx.post(long, { duplex: 'half' } as RequestInit);
  assert.is(r.status, 413, r.text);
  assert.match(r.text, /request body exceeds the limit of 1048576 bytes/);
  // The answer came once the limit was passed: the sender pushed the limit plus socket buffers, not the 48 MiB.
  assert.ok(pulled < 24 << 20, `client pushed ${pulled} bytes before the answer`);
  // A Content-Length over the limit is refused before reading.
  const big = await rx.post(new Uint8Array(2 << 20));
  assert.is(big.status, 413);
  assert.match(big.text, /request body of 2097152 bytes exceeds the limit of 1048576 bytes/);
  assert.is((await rx.write([[live('after'), [[now(), 1]]]])).status, 200);
});

test('label limits (label_limit, label_name_length_limit, label_value_length_limit): 400 naming the limit, the other series stored', async () => {
  const rx = await startReceiver({ labelLimit: 4, labelNameLengthLimit: 16, labelValueLengthLimit: 32 });
  const t0 = now();
  const good: Parameters<typeof ts> = [live('good', { a: '1' }), [[t0, 1]]];
  let r = await rx.write([good, [live('many', { a: '1', b: '2', c: '3', d: '4' }), [[t0, 1]]]]);
  assert.is(r.status, 400, r.text);
  assert.match(r.text, /1 series refused: label_limit exceeded \(metric: many, number of labels: 5, limit: 4\)/);
  r = await rx.write([[live('longname', { ['n'.repeat(17)]: 'x' }), [[t0, 1]]]]);
  assert.is(r.status, 400, r.text);
  assert.match(r.text, /label_name_length_limit exceeded \(metric: longname, label name: n{17}, length: 17, limit: 16\)/);
  // Bytes, as Prometheus counts (Go's len): 11 × "é" is 22 bytes, 17 × "é" is 34.
  r = await rx.write([[live('okvalue', { v: 'é'.repeat(11) }), [[t0, 1]]]]);
  assert.is(r.status, 200, r.text);
  r = await rx.write([[live('longvalue', { v: 'é'.repeat(17) }), [[t0, 1]]]]);
  assert.is(r.status, 400, r.text);
  assert.match(r.text, /label_value_length_limit exceeded \(metric: longvalue, label name: v, value: "é{17}", length: 34, limit: 32\)/);
  assert.equal((await rx.series()).map((s) => s.labels.__name__).sort(), ['good', 'okvalue']);
});

test('config: the new flags exist with Thanos\'s name and default, and bad values are refused naming the flag', () => {
  const flags = Object.fromEntries(plugin.flags!.map((f) => [f.name, f.default]));
  assert.is(flags['tsdb.too-far-in-future.time-window'], '10m'); // Thanos: 0s; see the flag's comment
  assert.is(flags['remote-write.max-decoded-bytes'], 32 << 20);
  for (const n of ['receive.label-limit', 'receive.label-name-length-limit', 'receive.label-value-length-limit']) assert.is(flags[n], 0);
  const base = { tsdbPath: '/tmp/x', labels: ['r="1"'] };
  const cfg = plugin.parseConfig(base);
  assert.is(cfg.tooFarInFutureMs, 600_000);
  assert.is(cfg.maxDecodedBytes, 32 << 20);
  assert.throws(() => plugin.parseConfig({ ...base, maxDecodedBytes: 0 }), /max-decoded-bytes/);
  assert.throws(() => plugin.parseConfig({ ...base, labelLimit: -1 }), /label-limit/);
  assert.throws(() => plugin.parseConfig({ ...base, tsdbTooFarInFutureTimeWindow: 'soon' }), /too-far-in-future/);
});

test.run();

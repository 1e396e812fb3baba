// lib/net/stream-pacer.ts against a fake sink: when a server stream's writer must wait (unwritten
// bytes over the bound, until flushed or cancelled) and when it yields one event-loop turn.
// test/host/grpc-flow-control covers the same pacing through grpc-js.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamPacer, type StreamSink } from '../../lib/net/stream-pacer.ts';

class FakeSink implements StreamSink {
  written: Uint8Array[] = [];
  pendingFlush: (() => void)[] = [];
  cancelled = false;
  private cancelFns = new Set<() => void>();
  write(buf: Uint8Array, flushed: () => void): void {
    this.written.push(buf);
    this.pendingFlush.push(flushed);
  }
  onCancel(fn: () => void): () => void {
    this.cancelFns.add(fn);
    return () => this.cancelFns.delete(fn);
  }
  flush(n: number): void {
    for (const f of this.pendingFlush.splice(0, n)) f();
  }
  cancel(): void {
    this.cancelled = true;
    for (const f of [...this.cancelFns]) f();
  }
  get listeners(): number {
    return this.cancelFns.size;
  }
}

const limits = { unflushedBytes: 1000, yieldMessages: 4, yieldBytes: 1 << 20 };

async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

test('writes under the bound go on at once; every yieldMessages-th write yields one turn', async () => {
  const sink = new FakeSink();
  const p = new StreamPacer(sink, limits);
  assert.is(p.write(new Uint8Array(100)), undefined);
  assert.is(p.write(new Uint8Array(100)), undefined);
  assert.is(p.write(new Uint8Array(100)), undefined);
  const turn = p.write(new Uint8Array(100));
  assert.ok(turn instanceof Promise, 'the 4th message yields');
  assert.ok(await settled(turn!), 'a turn resolves without any flush');
  assert.is(p.write(new Uint8Array(100)), undefined, 'the count starts again after a turn');
  assert.is(p.pending, 500);
  sink.flush(5);
  assert.is(p.pending, 0);
});

test('bytes: yields after yieldBytes even under yieldMessages', async () => {
  const sink = new FakeSink();
  const p = new StreamPacer(sink, { unflushedBytes: 1 << 20, yieldMessages: 100, yieldBytes: 250 });
  assert.is(p.write(new Uint8Array(100)), undefined);
  assert.is(p.write(new Uint8Array(100)), undefined);
  assert.ok(p.write(new Uint8Array(100)) instanceof Promise);
});

test('over the bound: waits until flushes bring the unwritten bytes back under it', async () => {
  const sink = new FakeSink();
  const p = new StreamPacer(sink, limits);
  assert.is(p.write(new Uint8Array(600)), undefined);
  const wait = p.write(new Uint8Array(600));
  assert.ok(wait instanceof Promise);
  assert.is(sink.listeners, 1);
  assert.not.ok(await settled(wait!), 'no flush yet: still waiting');
  sink.flush(1); // 600 left: under 1000
  assert.ok(await settled(wait!), 'resumed once under the bound');
  assert.is(sink.listeners, 0, 'the cancel listener is removed');
  assert.is(p.pending, 600);
});

test('over the bound: a cancel resumes the writer; nothing waits once cancelled', async () => {
  const sink = new FakeSink();
  const p = new StreamPacer(sink, limits);
  const wait = p.write(new Uint8Array(2000));
  assert.ok(wait instanceof Promise);
  assert.not.ok(await settled(wait!));
  sink.cancel();
  assert.ok(await settled(wait!), 'cancel wakes the writer');
  assert.is(sink.listeners, 0);
  const after = p.write(new Uint8Array(2000));
  assert.ok(after === undefined || (await settled(after)), 'a cancelled stream never waits for flushes');
  sink.flush(1); // a late flush after the wake does not throw or go negative
  assert.is(p.pending, 2000);
});

test.run();

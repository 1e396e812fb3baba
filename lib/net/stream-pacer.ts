/**
 * Pacing of a server stream's writes (a gRPC Series stream): how far a handler may run ahead of
 * the transport, and when it lets the event loop run. The transport (host/server/grpc.ts, over
 * grpc-js) only wires a call's write callback and cancel event to a StreamSink.
 */

/**
 * A server stream's handler is paused while more than this many bytes of its messages are handed
 * to the transport and not yet written to the connection. grpc-js asks to wait after 16 messages
 * whatever their size (and then until all of them are out): the store stopped reading series and
 * chunks while a batch's frames went out. A byte bound keeps it working ahead and bounds the memory
 * a client that reads slowly leaves buffered per stream.
 */
export const SERVER_STREAM_UNFLUSHED_BYTES = 512 << 10;

/**
 * A server stream's handler yields to the event loop after this many messages or bytes written
 * since it last waited: HTTP/2 writes reach the socket from the event loop, so the first frames of
 * a batch go out while the rest are encoded, and a handler that never waits itself (a sync-fast
 * generator) does not hold the process (other calls, a cancel) for a whole SERVER_STREAM_UNFLUSHED_BYTES.
 */
export const SERVER_STREAM_YIELD_MESSAGES = 16;
export const SERVER_STREAM_YIELD_BYTES = 64 << 10;

/** Where a paced stream's messages go. */
export interface StreamSink<B extends Uint8Array = Uint8Array> {
  /** Hands one message to the transport; `flushed` is called once it has been written out. */
  write(buf: B, flushed: () => void): void;
  /** True once the peer cancelled the stream (writes are then dropped by the transport). */
  readonly cancelled: boolean;
  /** Calls `fn` when the stream is cancelled; returns a function that removes it. */
  onCancel(fn: () => void): () => void;
}

export interface PacerLimits {
  unflushedBytes: number;
  yieldMessages: number;
  yieldBytes: number;
}

const DEFAULT_LIMITS: PacerLimits = {
  unflushedBytes: SERVER_STREAM_UNFLUSHED_BYTES,
  yieldMessages: SERVER_STREAM_YIELD_MESSAGES,
  yieldBytes: SERVER_STREAM_YIELD_BYTES,
};

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Writes a stream's messages to a sink. `write` returns undefined when the caller may go on at
 * once (the common case: no promise per message), or a promise to await first: until the
 * unwritten bytes are back under the bound (or the stream is cancelled), or for one event-loop turn.
 */
export class StreamPacer<B extends Uint8Array = Uint8Array> {
  /** Bytes handed to the sink and not yet flushed. */
  private unflushed = 0;
  private wake: (() => void) | undefined;
  private sinceTurn = 0;
  private bytesSinceTurn = 0;

  constructor(private readonly sink: StreamSink<B>, private readonly limits: PacerLimits = DEFAULT_LIMITS) {}

  /** Bytes written and not yet out (for tests and metrics). */
  get pending(): number {
    return this.unflushed;
  }

  write(buf: B): Promise<void> | undefined {
    const n = buf.length;
    this.unflushed += n;
    this.sink.write(buf, () => {
      this.unflushed -= n;
      if (this.wake !== undefined && this.unflushed <= this.limits.unflushedBytes) this.wake();
    });
    if (this.unflushed > this.limits.unflushedBytes && !this.sink.cancelled) {
      this.sinceTurn = this.bytesSinceTurn = 0;
      return new Promise<void>((resolve) => {
        let off: () => void = () => {};
        const done = () => {
          this.wake = undefined;
          off();
          resolve();
        };
        this.wake = done;
        off = this.sink.onCancel(done);
      });
    }
    if (++this.sinceTurn >= this.limits.yieldMessages || (this.bytesSinceTurn += n) >= this.limits.yieldBytes) {
      this.sinceTurn = this.bytesSinceTurn = 0;
      return nextTurn();
    }
    return undefined;
  }
}

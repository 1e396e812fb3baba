// Retries transient failures with exponential backoff and jitter. Never retries a not-found
// answer, a bad name/range, a permission denial, or anything not marked transient.
// - Uploads: a byte array is simply sent again; a stream is consumed by the first try, so it is
//   retried only when re-openable (lib/objstore/bucket.ts reopenable(): local block files are),
//   by opening it again from the start. Other streams get one try.
// - get/getRange: opening is retried; a body that breaks off mid-way is resumed with a ranged read
//   from the first byte not yet delivered (objects are immutable: blocks are never rewritten in
//   place), at most `retries` times in a row without progress.
// - iter: retried only until its first name was delivered.
import type { Bucket, IterOptions, ObjectAttributes } from './bucket.ts';
import { reopenOf, streamInto } from './bucket.ts';
import { sleep } from '../sdk/time.ts';
import { NO_ABORT } from './kit/retry.ts';

export interface RetryOptions {
  /** Attempts after the first one (default 3). */
  retries?: number;
  /** First backoff (default 100 ms), doubled each time up to maxDelayMs (default 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Decides whether an error is transient; default: isRetryableError. */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each retry (for logs). */
  onRetry?: (op: string, name: string, attempt: number, err: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Retry whole calls (default true). false: the provider retries its requests itself, so only what
   * it cannot do is done here: resuming a read body that broke off after it was handed over.
   */
  calls?: boolean;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND_TEMP', 'EBUSY',
  // undici (fetch) and Node streams: a socket or body that broke off.
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
  'SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling', 'ThrottlingException',
]);

/** Transient: `retryable: true`, HTTP 429/5xx in `status`/`statusCode`, or a network error code. */
export function isRetryableError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { retryable?: unknown; status?: unknown; statusCode?: unknown; code?: unknown; cause?: unknown; name?: unknown };
  if (e.retryable === true) return true;
  if (e.retryable === false) return false;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) return status === 429 || (status >= 500 && status !== 501);
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (e.name === 'TypeError' && e.cause) return isRetryableError(e.cause); // fetch() network failures
  return false;
}

export class RetryBucket implements Bucket {
  private readonly retries: number;
  private readonly base: number;
  private readonly max: number;
  private readonly retryable: (err: unknown) => boolean;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly calls: boolean;

  constructor(private readonly inner: Bucket, private readonly o: RetryOptions = {}) {
    this.retries = o.retries ?? 3;
    this.base = o.baseDelayMs ?? 100;
    this.max = o.maxDelayMs ?? 5000;
    this.retryable = o.isRetryable ?? isRetryableError;
    this.sleep = o.sleep ?? ((ms) => sleep(ms, NO_ABORT));
    this.calls = o.calls ?? true;
  }

  get provider(): string {
    return this.inner.provider;
  }

  private canRetry(err: unknown): boolean {
    return !this.inner.isObjNotFoundErr(err) && this.retryable(err);
  }

  private backoff(attempt: number): Promise<void> {
    const d = Math.min(this.max, this.base * 2 ** attempt);
    return this.sleep(d / 2 + Math.random() * (d / 2));
  }

  private async run<T>(op: string, name: string, fn: (attempt: number) => Promise<T>, retryable = this.calls): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        if (!retryable || attempt >= this.retries || !this.canRetry(err)) throw err;
        this.o.onRetry?.(op, name, attempt + 1, err);
        await this.backoff(attempt);
      }
    }
  }

  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    for (let attempt = 0; ; attempt++) {
      let delivered = false;
      try {
        for await (const n of this.inner.iter(dir, opts)) {
          delivered = true;
          yield n;
        }
        return;
      } catch (err) {
        if (delivered || !this.calls || attempt >= this.retries || !this.canRetry(err)) throw err;
        this.o.onRetry?.('iter', dir, attempt + 1, err);
        await this.backoff(attempt);
      }
    }
  }

  /**
   * The body of a read from `off` (len undefined/negative: to the end), resumed from the first
   * byte not yet delivered when it breaks off with a transient error.
   */
  private resumable(op: string, name: string, off: number, len: number | undefined, first: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    let reader = first.getReader();
    let got = 0;
    let stalls = 0; // breaks in a row without a byte in between
    const toEnd = len === undefined || len < 0;
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        for (;;) {
          let err: unknown;
          try {
            const { done, value } = await reader.read();
            if (done) { c.close(); return; }
            if (value.length === 0) continue;
            got += value.length;
            stalls = 0;
            c.enqueue(value);
            return;
          } catch (e) {
            err = e;
          }
          if (stalls >= this.retries || !this.canRetry(err)) { c.error(err); return; }
          reader.cancel().catch(() => {});
          if (!toEnd && got >= len!) { c.close(); return; } // broke off after the last byte
          this.o.onRetry?.(`${op}_resume`, name, stalls + 1, err);
          await this.backoff(stalls);
          stalls++;
          try {
            const next = await this.run(op, name, () => this.inner.getRange(name, off + got, toEnd ? undefined : len! - got), true);
            reader = next.getReader();
          } catch (e) {
            c.error(e);
            return;
          }
        }
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.resumable('get', name, 0, undefined, await this.run('get', name, () => this.inner.get(name)));
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    return this.resumable('get_range', name, off, len, await this.run('get_range', name, () => this.inner.getRange(name, off, len)));
  }

  /**
   * A read into the caller's buffer, retried whole (it fills dst from its start again); over a
   * provider without it, getRange's resumable body copied into dst.
   */
  async getRangeInto(name: string, off: number, dst: Uint8Array): Promise<number> {
    const inner = this.inner;
    if (inner.getRangeInto) return this.run('get_range', name, () => inner.getRangeInto!(name, off, dst));
    return streamInto(await this.getRange(name, off, dst.length), dst);
  }

  exists(name: string) { return this.run('exists', name, () => this.inner.exists(name)); }
  attributes(name: string): Promise<ObjectAttributes> { return this.run('attributes', name, () => this.inner.attributes(name)); }
  delete(name: string) { return this.run('delete', name, () => this.inner.delete(name)); }

  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    if (body instanceof Uint8Array) return this.run('upload', name, () => this.inner.upload(name, body));
    const reopen = reopenOf(body);
    if (!reopen || !this.calls) return this.run('upload', name, () => this.inner.upload(name, body), false);
    let cur = body;
    return this.run('upload', name, async (attempt) => {
      if (attempt > 0) cur = await reopen();
      try {
        await this.inner.upload(name, cur);
      } catch (err) {
        // Release what the failed try left open (a file handle); a provider may hold the lock.
        if (!cur.locked) cur.cancel().catch(() => {});
        throw err;
      }
    });
  }

  isObjNotFoundErr(err: unknown) { return this.inner.isObjNotFoundErr(err); }
  close() { return this.inner.close(); }
}

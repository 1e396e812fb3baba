// Retries transient failures with exponential backoff and jitter. Never retries a not-found
// answer, a bad name/range, a permission denial, or anything not marked transient. A streamed
// upload body can be consumed once, so only byte-array uploads are retried; a get/getRange is
// retried while opening the stream; iter only until its first name was delivered.
import type { Bucket, IterOptions, ObjectAttributes } from './bucket.ts';
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
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND_TEMP', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'EBUSY', 'SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling', 'ThrottlingException']);

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

  constructor(private readonly inner: Bucket, private readonly o: RetryOptions = {}) {
    this.retries = o.retries ?? 3;
    this.base = o.baseDelayMs ?? 100;
    this.max = o.maxDelayMs ?? 5000;
    this.retryable = o.isRetryable ?? isRetryableError;
    this.sleep = o.sleep ?? ((ms) => sleep(ms, NO_ABORT));
  }

  get provider(): string {
    return this.inner.provider;
  }

  private canRetry(err: unknown): boolean {
    return !this.inner.isObjNotFoundErr(err) && this.retryable(err);
  }

  private async run<T>(op: string, name: string, fn: () => Promise<T>, retryable = true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!retryable || attempt >= this.retries || !this.canRetry(err)) throw err;
        this.o.onRetry?.(op, name, attempt + 1, err);
        const d = Math.min(this.max, this.base * 2 ** attempt);
        await this.sleep(d / 2 + Math.random() * (d / 2));
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
        if (delivered || attempt >= this.retries || !this.canRetry(err)) throw err;
        this.o.onRetry?.('iter', dir, attempt + 1, err);
        const d = Math.min(this.max, this.base * 2 ** attempt);
        await this.sleep(d / 2 + Math.random() * (d / 2));
      }
    }
  }

  get(name: string) { return this.run('get', name, () => this.inner.get(name)); }
  getRange(name: string, off: number, len?: number) { return this.run('get_range', name, () => this.inner.getRange(name, off, len)); }
  exists(name: string) { return this.run('exists', name, () => this.inner.exists(name)); }
  attributes(name: string): Promise<ObjectAttributes> { return this.run('attributes', name, () => this.inner.attributes(name)); }
  delete(name: string) { return this.run('delete', name, () => this.inner.delete(name)); }
  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array) {
    return this.run('upload', name, () => this.inner.upload(name, body), body instanceof Uint8Array);
  }
  isObjNotFoundErr(err: unknown) { return this.inner.isObjNotFoundErr(err); }
  close() { return this.inner.close(); }
}

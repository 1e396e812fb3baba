// Instruments a Bucket with objstore's metric names (thanos_objstore_bucket_*): operations,
// failures, fetched bytes, transferred-bytes and duration histograms, last successful upload.
// A not-found answer is an expected outcome, not a failure. Reads are timed until the stream ends.
import type { Metrics } from '../sdk/mod.ts';
import type { Bucket, IterOptions, ObjectAttributes } from './bucket.ts';
import { getRangeInto, markReopenable, reopenOf } from './bucket.ts';

export const OPS = ['iter', 'get', 'get_range', 'exists', 'upload', 'delete', 'attributes'] as const;
export type Op = (typeof OPS)[number];

/** objstore's ExponentialBuckets(2<<14, 2, 16): 32 KiB, 64 KiB, … 1 GiB. */
const BYTES_BUCKETS = Array.from({ length: 16 }, (_, i) => 32 * 1024 * 2 ** i);
const DURATION_BUCKETS = [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120];

export class MetricsBucket implements Bucket {
  private readonly ops;
  private readonly failures;
  private readonly fetched;
  private readonly transferred;
  private readonly duration;
  private readonly lastUpload;

  /**
   * constLabels: extra labels on every series, as Go's prometheus.WrapRegistererWith gives them
   * (`tools bucket replicate` tells its two buckets apart with replicate="from"/"to").
   */
  constructor(private readonly inner: Bucket, metrics: Metrics, private readonly bucketName: string, private readonly constLabels: Readonly<Record<string, string>> = {}) {
    const extra = Object.keys(constLabels);
    const byOp = ['bucket', 'operation', ...extra];
    this.ops = metrics.counter('thanos_objstore_bucket_operations_total', 'Total number of all attempted operations against a bucket.', byOp);
    this.failures = metrics.counter('thanos_objstore_bucket_operation_failures_total', 'Total number of operations against a bucket that failed, but were not expected to fail in certain way from caller perspective. Those errors have to be investigated.', byOp);
    this.fetched = metrics.counter('thanos_objstore_bucket_operation_fetched_bytes_total', 'Total number of bytes fetched from bucket, per operation.', byOp);
    this.transferred = metrics.histogram('thanos_objstore_bucket_operation_transferred_bytes', 'Number of bytes transferred from/to bucket per operation.', byOp, BYTES_BUCKETS);
    this.duration = metrics.histogram('thanos_objstore_bucket_operation_duration_seconds', 'Duration of successful operations against the bucket', byOp, DURATION_BUCKETS);
    this.lastUpload = metrics.gauge('thanos_objstore_bucket_last_successful_upload_time', 'Second timestamp of the last successful upload to the bucket.', ['bucket', ...extra]);
    // Every operation's series exist from the start, as objstore's WrapWithMetrics creates them.
    for (const op of OPS) {
      this.ops.inc(this.l(op), 0);
      this.failures.inc(this.l(op), 0);
      this.duration.init?.(this.l(op));
      this.fetched.inc(this.l(op), 0);
    }
    for (const op of ['get', 'get_range', 'upload'] as const) this.transferred.init?.(this.l(op));
    this.lastUpload.set(0, { bucket: bucketName, ...constLabels });
  }

  get provider(): string {
    return this.inner.provider;
  }

  private l(operation: Op) {
    return { bucket: this.bucketName, operation, ...this.constLabels };
  }

  private async track<T>(op: Op, fn: () => Promise<T>): Promise<T> {
    this.ops.inc(this.l(op));
    const start = performance.now();
    try {
      const v = await fn();
      this.duration.observe((performance.now() - start) / 1000, this.l(op));
      return v;
    } catch (err) {
      if (!this.inner.isObjNotFoundErr(err)) this.failures.inc(this.l(op));
      throw err;
    }
  }

  private countStream(op: Op, s: ReadableStream<Uint8Array>, start: number): ReadableStream<Uint8Array> {
    let bytes = 0;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.fetched.inc(this.l(op), bytes);
      this.transferred.observe(bytes, this.l(op));
      if (ok) this.duration.observe((performance.now() - start) / 1000, this.l(op));
      else this.failures.inc(this.l(op));
    };
    const reader = s.getReader();
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done: d, value } = await reader.read();
          if (d) { finish(true); c.close(); return; }
          bytes += value.length;
          c.enqueue(value);
        } catch (err) {
          finish(false);
          c.error(err);
        }
      },
      async cancel(reason) {
        finish(true);
        await reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    this.ops.inc(this.l('iter'));
    const start = performance.now();
    try {
      yield* this.inner.iter(dir, opts);
      this.duration.observe((performance.now() - start) / 1000, this.l('iter'));
    } catch (err) {
      this.failures.inc(this.l('iter'));
      throw err;
    }
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    this.ops.inc(this.l('get'));
    const start = performance.now();
    try {
      return this.countStream('get', await this.inner.get(name), start);
    } catch (err) {
      if (!this.inner.isObjNotFoundErr(err)) this.failures.inc(this.l('get'));
      throw err;
    }
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    this.ops.inc(this.l('get_range'));
    const start = performance.now();
    try {
      return this.countStream('get_range', await this.inner.getRange(name, off, len), start);
    } catch (err) {
      if (!this.inner.isObjNotFoundErr(err)) this.failures.inc(this.l('get_range'));
      throw err;
    }
  }

  /** Counted as a get_range (operations, bytes fetched and transferred, duration). */
  async getRangeInto(name: string, off: number, dst: Uint8Array): Promise<number> {
    const n = await this.track('get_range', () => getRangeInto(this.inner, name, off, dst));
    this.fetched.inc(this.l('get_range'), n);
    this.transferred.observe(n, this.l('get_range'));
    return n;
  }

  exists(name: string) { return this.track('exists', () => this.inner.exists(name)); }
  attributes(name: string): Promise<ObjectAttributes> { return this.track('attributes', () => this.inner.attributes(name)); }
  delete(name: string) { return this.track('delete', () => this.inner.delete(name)); }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    let bytes = 0;
    let b = body;
    if (body instanceof Uint8Array) bytes = body.length;
    else {
      const count = (s: ReadableStream<Uint8Array>) => s.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform(chunk, c) { bytes += chunk.length; c.enqueue(chunk); } }));
      b = count(body);
      // Keep the body re-openable through this wrapper (the retry wrapper sits inside it); a
      // re-sent body is counted from zero: transferred bytes are those of the upload that counted.
      const reopen = reopenOf(body);
      if (reopen) markReopenable(b, async () => { bytes = 0; return count(await reopen()); });
    }
    await this.track('upload', () => this.inner.upload(name, b));
    this.transferred.observe(bytes, this.l('upload'));
    this.lastUpload.set(Date.now() / 1000, { bucket: this.bucketName, ...this.constLabels });
  }

  isObjNotFoundErr(err: unknown) { return this.inner.isObjNotFoundErr(err); }
  close() { return this.inner.close(); }
}

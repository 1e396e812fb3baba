// A span per object-store operation (objstore's tracing.WrapWithTraces): bucket_iter, bucket_get,
// bucket_getrange, bucket_exists, bucket_attributes, bucket_upload, bucket_delete, with the object
// name (and offset/length for ranges) as attributes. A get's span lasts until its body is read to
// the end, fails, or is cancelled, and records the bytes read. Without a registered tracer
// provider the spans are non-recording and bodies are handed through unwrapped.
import { context, trace, type Span } from '../../cjs/otel-api.ts';
import { getRangeInto, type Bucket, type IterOptions, type ObjectAttributes } from '../bucket.ts';
import { doInSpan, iterateInSpan, recordError, tracer } from '../../tracing/mod.ts';

export class TracingBucket implements Bucket {
  constructor(private readonly inner: Bucket) {}

  get provider(): string {
    return this.inner.provider;
  }

  iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    return iterateInSpan('bucket_iter', { dir }, () => this.inner.iter(dir, opts));
  }

  get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.read('bucket_get', { name }, () => this.inner.get(name));
  }

  getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    return this.read('bucket_getrange', { name, offset: off, length: len ?? -1 }, () => this.inner.getRange(name, off, len));
  }

  /** A read into the caller's buffer: one bucket_getrange span, with the bytes read. */
  getRangeInto(name: string, off: number, dst: Uint8Array): Promise<number> {
    return doInSpan('bucket_getrange', { name, offset: off, length: dst.length }, async (span) => {
      try {
        const n = await getRangeInto(this.inner, name, off, dst);
        span.setAttribute('read', n);
        return n;
      } catch (err) {
        // A missing object is an answer, not a failure of the store (as upstream, logged on the span).
        if (this.inner.isObjNotFoundErr(err)) span.setAttribute('not_found', true);
        throw err;
      }
    });
  }

  exists(name: string): Promise<boolean> {
    return doInSpan('bucket_exists', { name }, () => this.inner.exists(name));
  }

  attributes(name: string): Promise<ObjectAttributes> {
    return doInSpan('bucket_attributes', { name }, () => this.inner.attributes(name));
  }

  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    return doInSpan('bucket_upload', { name }, () => this.inner.upload(name, body));
  }

  delete(name: string): Promise<void> {
    return doInSpan('bucket_delete', { name }, () => this.inner.delete(name));
  }

  isObjNotFoundErr(err: unknown): boolean {
    return this.inner.isObjNotFoundErr(err);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async read(name: string, attributes: Record<string, string | number>, open: () => Promise<ReadableStream<Uint8Array>>): Promise<ReadableStream<Uint8Array>> {
    const span = tracer().startSpan(name, { attributes });
    let body: ReadableStream<Uint8Array>;
    try {
      body = await context.with(trace.setSpan(context.active(), span), open);
    } catch (err) {
      // A missing object is an answer, not a failure of the store (as upstream, logged on the span).
      if (this.inner.isObjNotFoundErr(err)) span.setAttribute('not_found', true);
      else recordError(span, err);
      span.end();
      throw err;
    }
    if (!span.isRecording()) {
      span.end();
      return body;
    }
    return spanUntilDrained(body, span);
  }
}

/** The body, re-streamed so that the span ends (with the bytes read) when the reader is done with it. */
function spanUntilDrained(body: ReadableStream<Uint8Array>, span: Span): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let read = 0;
  let ended = false;
  const end = (err?: unknown) => {
    if (ended) return;
    ended = true;
    span.setAttribute('read', read);
    if (err !== undefined) recordError(span, err);
    span.end();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          end();
          controller.close();
          return;
        }
        read += r.value.byteLength;
        controller.enqueue(r.value);
      } catch (err) {
        end(err);
        controller.error(err);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

// Spans for lib code, through @opentelemetry/api only: until the host registers an SDK
// (host/tracing.ts, from --tracing.config) every call here is a no-op. Span names follow
// upstream Thanos (tracing.DoInSpan names: instant_query_exec, bucket_store_series, compaction_group ...).
import { context, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '../cjs/otel-api.ts';

export { FORCE_TRACING_ATTRIBUTE } from './config.ts';
export type { Span } from '@opentelemetry/api';

/** The instrumentation scope of every span Thanos code starts. */
export const TRACER_NAME = 'thanos';

/** The tracer (resolved per call: the provider may be registered after a module is loaded). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** Marks the span failed with the error (the error stays the caller's to throw). */
export function recordError(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/**
 * Runs fn inside a child span of the active one (upstream's tracing.DoInSpanWithErr): the span is
 * active for fn's async work, ends when fn settles, and records a thrown error.
 */
export function doInSpan<T>(name: string, attributes: Attributes | undefined, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Wraps an async iterable so that it is consumed inside a span that ends when iteration finishes,
 * fails, or is abandoned (return()). Without a recording span (no tracer registered, or sampled
 * out) the source is returned as is: no extra generator layer on hot streams.
 */
export function iterateInSpan<T, I extends AsyncIterable<T> = AsyncIterable<T>>(name: string, attributes: Attributes | undefined, source: () => I): I | AsyncGenerator<T> {
  const span = tracer().startSpan(name, { attributes });
  if (!span.isRecording()) {
    span.end();
    return source();
  }
  return iterateWithSpan(span, source);
}

async function* iterateWithSpan<T>(span: Span, source: () => AsyncIterable<T>): AsyncGenerator<T> {
  const ctx = trace.setSpan(context.active(), span);
  const it = context.with(ctx, () => source()[Symbol.asyncIterator]());
  try {
    while (true) {
      const r = await context.with(ctx, () => it.next());
      if (r.done) return;
      yield r.value;
    }
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    await it.return?.().catch(() => {});
    span.end();
  }
}

// Spans for lib code, through @opentelemetry/api only: until the host registers an SDK
// (host/tracing.ts, from --tracing.config) every call here is a no-op. Span names follow
// upstream Thanos (tracing.DoInSpan names: instant_query_exec, bucket_store_series, compaction_group ...).
import { context, INVALID_SPAN_CONTEXT, propagation, ProxyTracerProvider, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '../cjs/otel-api.ts';

export { FORCE_TRACING_ATTRIBUTE } from './config.ts';
export type { Span } from '@opentelemetry/api';

/** The instrumentation scope of every span Thanos code starts. */
export const TRACER_NAME = 'thanos';

/** The tracer (resolved per call: the provider may be registered after a module is loaded). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** The API's no-op provider: what the global proxy delegates to while no SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** A span that records nothing and carries no context (what the no-op tracer hands out without a parent). */
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * True while tracing is off in this process: no tracer provider registered (every span the API would
 * start is a non-recording one) and no propagator (no trace context read from or written to requests,
 * so no span context can be valid). Hot paths then skip span bookkeeping entirely: starting a no-op
 * span, its attributes and the context switches cost every query and every gRPC call a few
 * microseconds each for nothing. Checked per call: a provider may be registered (or disabled) later.
 */
export function tracingOff(): boolean {
  const p = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return p.getDelegate?.() === NOOP_PROVIDER && propagation.fields().length === 0;
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
  // Tracing off: the span would be a no-op one and its context the current one, so fn runs as is
  // (no async wrapper, no context switch). A synchronous throw becomes a rejection, as before.
  if (tracingOff()) {
    try {
      return fn(NOOP_SPAN);
    } catch (err) {
      return Promise.reject(err);
    }
  }
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
  if (tracingOff()) return source();
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

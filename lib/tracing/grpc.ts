// OpenTelemetry's gRPC conventions for the host's gRPC server and client: a server span per call,
// child of the context the caller sent in its metadata; a client span whose context is injected
// into the outgoing metadata; the call's status on the span at the end. Written against the small
// part of grpc-js's Metadata it uses, so lib/ needs no gRPC import.
import {
  context as otelContext, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Context as OtelContext, type Span, type TextMapGetter, type TextMapSetter,
} from '../cjs/otel-api.ts';
import { splitPath } from '../net/grpcmetrics.ts';
import { GrpcStatus } from '../sdk/errors.ts';
import { NOOP_SPAN, tracingOff } from './mod.ts';

/** What these helpers read and write of a call's metadata (grpc-js's Metadata has it). */
export interface CallMetadata {
  getMap(): Record<string, string | Uint8Array>;
  get(key: string): Array<string | Uint8Array>;
  set(key: string, value: string): void;
}

const tracer = trace.getTracer('thanos-ts/grpc');

const METADATA_GETTER: TextMapGetter<CallMetadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const v = md.get(key);
    return v.length === 0 ? undefined : v.length === 1 ? String(v[0]) : v.map(String);
  },
};
const METADATA_SETTER: TextMapSetter<CallMetadata> = { set: (md, key, value) => md.set(key, value) };

function rpcAttributes(path: string): Record<string, string> {
  const { service, method } = splitPath(path);
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
}

/** Ends a span with the call's status (an error status on the span for a non-OK code). */
export function endSpan(span: Span, code: number, details?: string): void {
  if (!span.isRecording()) return span.end();
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== GrpcStatus.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  span.end();
}

/** The server span of a call, child of the context the caller sent (if any). */
export function serverSpan(path: string, md: CallMetadata): { span: Span; ctx: OtelContext } {
  // Tracing off: nothing to extract, the span records nothing; the call runs in the root context.
  if (tracingOff()) return { span: NOOP_SPAN, ctx: ROOT_CONTEXT };
  const parent = propagation.extract(ROOT_CONTEXT, md, METADATA_GETTER);
  const span = tracer.startSpan(path, { kind: SpanKind.SERVER, attributes: rpcAttributes(path) }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** The client span of a call under the active context, its context injected into `md`. */
export function clientSpan(path: string, md: CallMetadata): Span {
  if (tracingOff()) return NOOP_SPAN;
  const active = otelContext.active();
  const span = tracer.startSpan(path, { kind: SpanKind.CLIENT, attributes: rpcAttributes(path) }, active);
  propagation.inject(trace.setSpan(active, span), md, METADATA_SETTER);
  return span;
}

// @opentelemetry/api (CommonJS), loaded with require instead of import (see lib/cjs/require.ts).
// Every module takes the API from here; the SDK (host/tracing-sdk.ts, only with a tracing config)
// imports its own packages.
import type * as Otel from '@opentelemetry/api';
import { requireCjs } from './require.ts';

export const { context, propagation, trace, ProxyTracerProvider, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode } = requireCjs<typeof Otel>('@opentelemetry/api');
export type { Attributes, Context, Span, TextMapGetter, TextMapSetter, Tracer } from '@opentelemetry/api';

// The OpenTelemetry SDK half of host/tracing.ts: the exporter, sampler, per-component providers and
// the global registration. Loaded (with the SDK packages: several MiB of code and heap) only when a
// tracing config is given, so a process without tracing, such as the edge profile, never pays for it.
import * as fs from 'node:fs';
import { checkServerIdentity } from 'node:tls';
import {
  context, createTraceState, diag, DiagLogLevel, propagation, trace,
  type Attributes, type Context, type Link, type Span, type SpanKind, type SpanOptions, type Tracer, type TracerProvider as ApiTracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, setGlobalErrorHandler, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, TracerProvider,
  type Sampler, type SamplingResult, type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { FORCE_TRACING_ATTRIBUTE, type SamplerSpec, type TlsSettings, type TracingConfig } from '../lib/tracing/config.ts';
import type { Logger } from './index.ts';
import { UsageError } from './cli.ts';
import type { TracingHandle } from './tracing.ts';

/** The trace-state entry that marks a forced trace (W3C tracestate keys allow no dots). */
const FORCED_TRACE_STATE_KEY = 'thanos_force_tracing';

/**
 * Upstream's SamplerWithOverride: a span started with the thanos.force_tracing attribute (the
 * X-Thanos-Force-Tracing request header) is sampled whatever the configured sampler says.
 */
class ForceTracingSampler implements Sampler {
  constructor(private readonly base: Sampler) {}
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    // The whole trace is forced, as upstream's force-tracing baggage does: the forced span marks its
    // trace state (inherited by its children and sent on with traceparent/tracestate), and a span
    // whose parent carries the mark is sampled too.
    const parentState = trace.getSpanContext(ctx)?.traceState;
    if (attributes && FORCE_TRACING_ATTRIBUTE in attributes) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: (parentState ?? createTraceState()).set(FORCED_TRACE_STATE_KEY, '1') };
    }
    if (parentState?.get(FORCED_TRACE_STATE_KEY) !== undefined) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.base.shouldSample(ctx, traceId, name, kind, attributes, links);
  }
  toString(): string {
    return `SamplerWithOverride{${FORCE_TRACING_ATTRIBUTE}}`;
  }
}

function buildSampler(s: SamplerSpec): Sampler {
  switch (s.kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'ratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parent_based':
      return new ParentBasedSampler({
        root: buildSampler(s.root),
        localParentSampled: s.localParentSampled ? buildSampler(s.localParentSampled) : undefined,
        remoteParentSampled: s.remoteParentSampled ? buildSampler(s.remoteParentSampled) : undefined,
      });
  }
}

function readTlsFile(file: string, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`tracing: unable to load specified ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function buildExporter(cfg: TracingConfig): Promise<SpanExporter> {
  if (cfg.type === 'JAEGER') {
    const { JaegerExporter } = await import('@opentelemetry/exporter-jaeger');
    return new JaegerExporter({ endpoint: cfg.endpoint, username: cfg.user || undefined, password: cfg.password || undefined }) as unknown as SpanExporter;
  }
  const tls: TlsSettings = cfg.tls;
  const ca = readTlsFile(tls.caFile, 'CA cert');
  const cert = readTlsFile(tls.certFile, 'client cert');
  const key = readTlsFile(tls.keyFile, 'client key');
  if (cfg.clientType === 'grpc') {
    const grpc = await import('@grpc/grpc-js');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(cfg.headers)) metadata.set(k, v);
    const credentials = cfg.insecure
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null, tls.serverName ? { checkServerIdentity: (_host, c) => checkServerIdentity(tls.serverName, c) } : undefined);
    return new OTLPTraceExporter({
      url: cfg.url, credentials, metadata, timeoutMillis: cfg.timeoutMs,
      compression: cfg.compression as never,
    });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({
    url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs,
    compression: cfg.compression as never,
    httpAgentOptions: cfg.insecure ? {} : { ca, cert, key, servername: tls.serverName || undefined, rejectUnauthorized: !tls.insecureSkipVerify },
  });
}

/** A tracer that starts each span with the provider of the component in scope. */
class ComponentTracer implements Tracer {
  constructor(private readonly pick: () => Tracer) {}
  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    return this.pick().startSpan(name, options, ctx);
  }
  startActiveSpan<F extends (span: Span) => unknown>(...args: [string, F] | [string, SpanOptions, F] | [string, SpanOptions, Context, F]): ReturnType<F> {
    const t = this.pick() as unknown as { startActiveSpan(...a: unknown[]): ReturnType<F> };
    return t.startActiveSpan(...args);
  }
}

/** One SDK provider per component (each with its own resource), one span processor for all. */
class ComponentTracerProvider implements ApiTracerProvider {
  private readonly providers = new Map<string, TracerProvider>();
  constructor(
    private readonly make: (component: string) => TracerProvider,
    private readonly componentInScope: () => string | undefined,
  ) {}
  private current(): TracerProvider {
    const id = this.componentInScope() ?? '';
    let p = this.providers.get(id);
    if (!p) this.providers.set(id, (p = this.make(id)));
    return p;
  }
  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): Tracer {
    return new ComponentTracer(() => this.current().getTracer(name, version, options));
  }
  async shutdown(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.shutdown()));
  }
}

/** Builds and registers the SDK (host/tracing.ts's setupTracing checks there is only one). */
export async function startTracingSdk(
  cfg: TracingConfig,
  opts: { defaultServiceName: string; log: Logger; perComponent?: boolean; componentInScope: () => string | undefined; onShutdown: () => void },
): Promise<TracingHandle> {
  const log = opts.log;
  log.info('loading tracing configuration');
  if (cfg.type === 'JAEGER') {
    for (const d of cfg.deprecated) log.info(`${d} has been deprecated as a config option.`);
  }
  const exporter = await buildExporter(cfg);
  const batch = cfg.type === 'JAEGER'
    ? { maxQueueSize: cfg.maxQueueSize, scheduledDelayMillis: cfg.flushIntervalMs }
    : {};
  const processor = new BatchSpanProcessor({ exporter, ...batch });
  const sampler = new ForceTracingSampler(buildSampler(cfg.sampler));
  const serviceName = cfg.serviceName || opts.defaultServiceName;
  const sdkProvider = (attributes: Attributes) => new TracerProvider({ resource: resourceFromAttributes(attributes), sampler, spanProcessors: [processor] });
  // `thanos run`: each component's spans carry its own service name (thanos-<id>, or the configured
  // one with thanos.component=<id>); spans outside any component the process's.
  const provider: ApiTracerProvider & { shutdown(): Promise<void> } = opts.perComponent
    ? new ComponentTracerProvider((id) => sdkProvider(id === ''
      ? { ...cfg.resourceAttributes, [ATTR_SERVICE_NAME]: serviceName }
      : { ...cfg.resourceAttributes, [ATTR_SERVICE_NAME]: cfg.serviceName || `thanos-${id}`, 'thanos.component': id }), opts.componentInScope)
    : sdkProvider({ ...cfg.resourceAttributes, [ATTR_SERVICE_NAME]: serviceName });
  // Export failures and SDK problems go to the component log, not to the console.
  diag.setLogger({
    error: (m, ...a) => log.warn(`tracing: ${m}`, a.length ? { detail: a.map(String).join(' ') } : undefined),
    warn: (m, ...a) => log.warn(`tracing: ${m}`, a.length ? { detail: a.map(String).join(' ') } : undefined),
    info: () => {}, debug: () => {}, verbose: () => {},
  }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  setGlobalErrorHandler((err) => log.warn('tracing: exporting spans failed', { err: err instanceof Error ? err.message : String(err) }));
  const cm = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(cm);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  log.info('tracing enabled', { type: cfg.type, service_name: opts.perComponent && !cfg.serviceName ? 'thanos-<component>' : serviceName });
  const handle: TracingHandle = {
    shutdown: async () => {
      try {
        await provider.shutdown();
        await processor.shutdown();
      } catch (err) {
        log.warn('closing tracer failed', { err: (err as Error).message });
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
        opts.onShutdown();
      }
    },
  };
  return handle;
}

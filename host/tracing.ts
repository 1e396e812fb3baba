// The process's one OpenTelemetry SDK, from --tracing.config(-file) or plugins.yaml's `tracing:`:
// a TracerProvider with the configured exporter and sampler, the AsyncLocalStorage context manager
// and the W3C trace-context + baggage propagators, registered globally so that lib/ code (which
// only uses @opentelemetry/api, see lib/tracing/mod.ts) and the HTTP/gRPC servers emit spans.
// Without a tracing config nothing is registered and every span is a no-op, as in Thanos.
import { AsyncLocalStorage } from 'node:async_hooks';
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
import { FORCE_TRACING_ATTRIBUTE, parseTracingConfig, type SamplerSpec, type TlsSettings, type TracingConfig } from '../lib/tracing/config.ts';
import type { Logger } from './index.ts';
import { UsageError } from './cli.ts';

export interface TracingSettings {
  tracingConfigFile?: string;
  tracingConfig?: string;
}

/** Reads --tracing.config-file / --tracing.config (only one may be given); undefined = tracing off. */
export function loadTracingYaml(s: TracingSettings): TracingConfig | undefined {
  if (s.tracingConfigFile !== undefined && s.tracingConfig !== undefined) {
    throw new UsageError('give only one of --tracing.config-file and --tracing.config');
  }
  if (s.tracingConfigFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(s.tracingConfigFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--tracing.config-file: cannot read ${s.tracingConfigFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // Thanos: an empty file means no tracing (extflag's PathOrContent gives no content).
    return text.trim() === '' ? undefined : parseTracingConfig(text, s.tracingConfigFile);
  }
  if (s.tracingConfig !== undefined && s.tracingConfig.trim() !== '') return parseTracingConfig(s.tracingConfig, '--tracing.config');
  return undefined;
}

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

/**
 * Which component the current async work belongs to, for `thanos run` (several components, one
 * process): the run group enters a component's scope before setting it up, so its servers,
 * timers and requests carry it, and spans get that component's service name.
 */
const componentScope = new AsyncLocalStorage<string | undefined>();

/** Marks the current async context (and what it starts from here on) as the component's. */
export function enterComponentScope(id: string | undefined): void {
  componentScope.enterWith(id);
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
  constructor(private readonly make: (component: string) => TracerProvider) {}
  private current(): TracerProvider {
    const id = componentScope.getStore() ?? '';
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

export interface TracingHandle {
  /** Exports what is buffered and stops the exporter (bounded by the exporter's timeout). */
  shutdown(): Promise<void>;
}

let registered: TracingHandle | undefined;

/**
 * Registers the global tracer provider for this process. `defaultServiceName` (the component, or
 * "thanos" for a plugins.yaml with several) applies when the config sets no service_name.
 * One provider per process: a second call is an error.
 */
export async function setupTracing(cfg: TracingConfig, opts: { defaultServiceName: string; log: Logger; perComponent?: boolean }): Promise<TracingHandle> {
  if (registered) throw new Error('tracing: a tracer provider is already registered in this process');
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
      : { ...cfg.resourceAttributes, [ATTR_SERVICE_NAME]: cfg.serviceName || `thanos-${id}`, 'thanos.component': id }))
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
        registered = undefined;
      }
    },
  };
  registered = handle;
  return handle;
}

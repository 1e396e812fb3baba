// The process's one OpenTelemetry SDK, from --tracing.config(-file) or plugins.yaml's `tracing:`:
// a TracerProvider with the configured exporter and sampler, the AsyncLocalStorage context manager
// and the W3C trace-context + baggage propagators, registered globally so that lib/ code (which
// only uses @opentelemetry/api, see lib/tracing/mod.ts) and the HTTP/gRPC servers emit spans.
// Without a tracing config nothing is registered and every span is a no-op, as in Thanos, and the SDK
// (host/tracing-sdk.ts with the OpenTelemetry SDK packages, several MiB resident) is never loaded.
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import { parseTracingConfig, type TracingConfig } from '../lib/tracing/config.ts';
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

/**
 * Which component the current async work belongs to, for `thanos run` (several components, one
 * process): the run group enters a component's scope before setting it up, so its servers,
 * timers and requests carry it, and spans get that component's service name.
 */
const componentScope = new AsyncLocalStorage<string | undefined>();

/**
 * Marks the current async context (and what it starts from here on) as the component's. Only with
 * a tracer provider registered (setupTracing runs before the run group): nothing else reads the
 * scope, and on Node 20 an AsyncLocalStorage once entered turns on promise hooks that cost every
 * promise of the process from then on (the receive path awaits several per request).
 */
export function enterComponentScope(id: string | undefined): void {
  if (registered === undefined && componentScope.getStore() === undefined) return;
  componentScope.enterWith(id);
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
  const { startTracingSdk } = await import('./tracing-sdk.ts');
  const handle = await startTracingSdk(cfg, {
    ...opts,
    componentInScope: () => componentScope.getStore(),
    onShutdown: () => { registered = undefined; },
  });
  registered = handle;
  return handle;
}

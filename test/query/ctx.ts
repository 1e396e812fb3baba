// Test helpers for the querier: a ComponentContext over the real file system, and in-memory
// endpoint clients (MemoryStore behind the EndpointClient interface) that can be made to fail.
import type { ComponentContext, Core } from '../../host/index.ts';
import { createLogger } from '../../host/log.ts';
import { dialGrpc } from '../../host/server/grpc.ts';
import { BUILD_INFO } from '../../host/version.ts';
import { Registry } from '../../host/metrics.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import type { EndpointClient } from '../../lib/query/endpoints.ts';
import type { InfoResponse } from '../../lib/proto/info.ts';
import type { LabelNamesRequest, LabelValuesRequest, SeriesRequest, SeriesResponse } from '../../lib/proto/store.ts';
import type { MemoryStore } from '../../lib/store/memory.ts';

export interface QueryTestCtx extends ComponentContext {
  ready: boolean;
  registry: Registry;
  logs: string[];
}

export function queryCtx(core: Core): QueryTestCtx {
  const registry = new Registry();
  const logs: string[] = [];
  const ctx: QueryTestCtx = {
    pluginId: 'component:query',
    fetch: (input, init) => fetch(input, init),
    listen: async () => {
      throw new Error('listen not available in tests');
    },
    connect: async () => {
      throw new Error('connect not available in tests');
    },
    grpcDial: (target, options) => dialGrpc(target, options),
    build: BUILD_INFO,
    fs: nodeFs(),
    env: { get: (n) => process.env[n] },
    log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
    metrics: registry,
    bucket: async () => {
      throw new Error('the querier has no bucket');
    },
    core,
    setReady: (r) => {
      ctx.ready = r;
    },
    ready: false,
    registry,
    logs,
  };
  return ctx;
}

/** A MemoryStore as an endpoint client; `down` makes every call fail like an unreachable server. */
export class MemClient implements EndpointClient {
  down = false;
  /** Delay before each Series frame (ms), to test response timeouts. */
  delayMs = 0;
  infoCalls = 0;
  seriesCalls = 0;
  closed = false;
  constructor(readonly address: string, readonly store: MemoryStore, private readonly componentType = 'store') {}

  private check(): void {
    if (this.down) throw Object.assign(new Error(`connection refused (${this.address})`), { code: 14 });
  }

  async info(): Promise<InfoResponse> {
    this.infoCalls++;
    this.check();
    return { ...this.store.info(), componentType: this.componentType };
  }

  async *series(req: SeriesRequest, signal?: AbortSignal): AsyncIterable<SeriesResponse> {
    this.seriesCalls++;
    this.check();
    for await (const r of this.store.series(req, signal ?? new AbortController().signal)) {
      if (this.delayMs) await new Promise((res) => setTimeout(res, this.delayMs));
      this.check();
      yield r;
    }
  }

  async labelNames(req: LabelNamesRequest, signal?: AbortSignal) {
    this.check();
    return this.store.labelNames(req, signal ?? new AbortController().signal);
  }

  async labelValues(req: LabelValuesRequest, signal?: AbortSignal) {
    this.check();
    return this.store.labelValues(req, signal ?? new AbortController().signal);
  }

  close(): void {
    this.closed = true;
  }
}

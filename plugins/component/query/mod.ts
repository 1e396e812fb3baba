// `thanos query`: the querier. A stateless PromQL engine behind the Prometheus HTTP API v1 that fans
// out to every StoreAPI endpoint (store gateways, sidecars, rulers, receivers, other queriers),
// merges and deduplicates replicas, serves a small web UI (graph, stores) and exposes the merged
// view again as a StoreAPI over gRPC so queriers can be stacked.
import { Hono } from 'hono';
import * as YAML from '../../../lib/cjs/yaml.ts';
import { ConfigError, definePlugin, PermissionDenied, type Component, type ComponentContext, type ComponentInfo, type GrpcClientConn, type GrpcClientTlsOptions } from '../../../lib/sdk/mod.ts';
import { QUERY_API_ROUTES, REACT_UI_ROUTES, routeInstrumentation } from '../../../lib/web/handlers.ts';
import { compileMatcher, type Matcher } from '../../../lib/labels/mod.ts';
import { Engine } from '../../../lib/promql/mod.ts';
import {
  EndpointSet, parseEndpointSdConfig, parseFileSd, type ClientFactory, type EndpointSpec, type EndpointState,
} from '../../../lib/query/endpoints.ts';
import { formatGoDuration } from '../../../lib/query/format.ts';
import { withTlsDefaults } from '../../../lib/net/grpctls.ts';
import { StoreQueryable, type StoreAPI } from '../../../lib/query/querier.ts';
import type { StoreTarget } from '../../../lib/store/api.ts';
import { StoreClient } from '../../../lib/store/client.ts';
import { ProxyStore } from '../../../lib/store/proxy.ts';
import { storeServices } from '../../../lib/store/server.ts';
import { createApi, type QueryableParams } from './api.ts';
import { ApisClient, fanoutMetadata, fanoutTargets, FanoutError, type MetadataAPI, type TargetsAPI } from '../../../lib/query/apis.ts';
import { fanoutRules, rulesSources, RulesClient, type RulesAPI } from '../../../lib/query/rules.ts';
import type { RulesRequest, RulesResponse } from '../../../lib/proto/rules.ts';
import { ExemplarsClient, exemplarsSources, fanoutExemplars, type ExemplarsAPI } from '../../../lib/query/exemplars.ts';
import type { ExemplarsRequest, ExemplarsResponse } from '../../../lib/proto/exemplars.ts';
import {
  decodeMetricMetadataRequest, encodeMetricMetadataResponse, METRIC_METADATA_METHOD, type MetricMetadataRequest, type MetricMetadataResponse,
} from '../../../lib/proto/metadata.ts';
import { decodeTargetsRequest, encodeTargetsResponse, TARGETS_METHOD, type TargetsRequest, type TargetsResponse } from '../../../lib/proto/targets.ts';
import { PartialResponseStrategy } from '../../../lib/proto/store.ts';
import { GrpcError, GrpcStatus, type GrpcServices } from '../../../lib/sdk/mod.ts';
import { parseQueryConfig, queryFlags, type QueryConfig } from './config.ts';
import { Gate, gateMetrics } from '../../../lib/query/gate.ts';
import { uiRoutes, webPrefixFor } from '../../../lib/web/ui.ts';
import { TENANT_METADATA_KEY, tenantFromGrpcMetadata } from '../../../lib/query/tenancy.ts';
import { LimitedStore } from '../../../lib/query/limits.ts';
import type { StoreServer } from '../../../lib/store/api.ts';

export { parseQueryConfig, queryFlags, type QueryConfig } from './config.ts';
export { createApi } from './api.ts';

const UI_DIR = new URL('./ui/', import.meta.url).pathname;
const UPLOT_DIR = new URL('../../../node_modules/uplot/dist/', import.meta.url).pathname;


/** math.MaxInt64 / math.MinInt64 as JS numbers (±2^63): the wire encoder writes them exactly. */
const INT64_MAX = 2 ** 63;
const INT64_MIN = -(2 ** 63);

export interface QueryComponent extends Component {
  endpoints: EndpointSet;
  /** Resolves after the first round of Info calls. */
  ready: Promise<void>;
}

export interface QuerySetupOptions {
  /** Overrides how endpoint clients are made (tests). */
  clientFactory?: ClientFactory;
}

/** The default endpoint client: the StoreAPI + Info client plus the Metadata and Targets APIs, on one ctx.grpcDial connection. */
class EndpointGrpcClient extends StoreClient implements MetadataAPI, TargetsAPI, RulesAPI, ExemplarsAPI, TenantBoundStore {
  private readonly apis: ApisClient;
  private readonly rulesApi: RulesClient;
  private readonly exemplarsApi: ExemplarsClient;
  constructor(private readonly conn: GrpcClientConn) {
    super(conn);
    this.apis = new ApisClient(conn);
    this.rulesApi = new RulesClient(conn);
    this.exemplarsApi = new ExemplarsClient(conn);
  }
  /** The StoreAPI on this connection with THANOS-TENANT: <tenant> on every call (the view is never closed: the connection is ours). */
  forTenant(tenant: string): StoreServer {
    return new StoreClient(this.conn, { metadata: { [TENANT_METADATA_KEY]: tenant } });
  }
  exemplars(req: ExemplarsRequest, signal?: AbortSignal): AsyncIterable<ExemplarsResponse> {
    return this.exemplarsApi.exemplars(req, signal);
  }
  rules(req: RulesRequest, signal?: AbortSignal): AsyncIterable<RulesResponse> {
    return this.rulesApi.rules(req, signal);
  }
  metricMetadata(req: MetricMetadataRequest, signal?: AbortSignal): AsyncIterable<MetricMetadataResponse> {
    return this.apis.metricMetadata(req, signal);
  }
  targets(req: TargetsRequest, signal?: AbortSignal): AsyncIterable<TargetsResponse> {
    return this.apis.targets(req, signal);
  }
  override close(): void {
    super.close();
    this.apis.close();
  }
}

/** A store client that can send the tenant of a request along (Thanos's proxy sets THANOS-TENANT on every store call). */
interface TenantBoundStore {
  forTenant(tenant: string): StoreServer;
}

function targetOf(st: EndpointState, tenant?: string): StoreTarget {
  const s = st.info!.store!;
  const client = st.client as unknown as StoreTarget['store'] & Partial<TenantBoundStore>;
  return {
    name: st.spec.address,
    store: tenant !== undefined && client.forTenant ? client.forTenant(tenant) : client,
    minTime: s.minTime,
    maxTime: s.maxTime,
    labelSets: st.info!.labelSets,
    supportsWithoutReplicaLabels: s.supportsWithoutReplicaLabels,
    supportsSharding: s.supportsSharding,
  };
}

/**
 * Thanos's labelpb.PromLabelSetsToString: each set as Prometheus's labels.String() ({a="b", c="d"}),
 * sorted, joined by ","; "no_external_labels" when there are none (the collector's placeholder), cut
 * at 1000 bytes as the collector's truncateExtLabels.
 */
function labelSetsString(sets: ReadonlyArray<ReadonlyArray<{ name: string; value: string }>>): string {
  const s = sets.map((ls) => `{${[...ls].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`)
    .sort().join(',');
  if (s === '') return 'no_external_labels';
  return s.length > 1000 ? `${s.slice(0, 999)}}` : s;
}

/** storeMatch[]: Thanos supports only __address__ matchers; a store is used if any set matches. */
function storeMatches(name: string, sets: readonly Matcher[][]): boolean {
  if (sets.length === 0) return true;
  return sets.some((ms) =>
    ms.every((m) => {
      const c = compileMatcher(m);
      return c.matches(m.name === '__address__' ? name : '');
    }),
  );
}

/** A connection whose every call fails with `err` (an endpoint discovered later that the net grant does not cover). */
function failedConn(target: string, err: Error): GrpcClientConn {
  return { target, unary: () => Promise.reject(err), serverStream: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }) }), close: () => {} };
}

export async function setupQuery(ctx: ComponentContext, cfg: QueryConfig, opts: QuerySetupOptions = {}): Promise<QueryComponent> {
  const log = ctx.log;
  // Endpoints go through ctx.grpcDial (checked against the net grant): a denied endpoint known at
  // setup fails it (PermissionDenied names the grant); one discovered later stays unhealthy with that error.
  let setupDone = false;
  if (cfg.grpcClientTlsIgnored?.length) log.warn('gRPC client TLS settings have no effect without --grpc-client-tls-secure: endpoints without TLS settings in the endpoint config are dialled in plaintext', { keys: cfg.grpcClientTlsIgnored.join(',') });
  // Each endpoint is dialled with its own TLS (EndpointSpec.tls: the flags', default_client_config's or its client_config's).
  const dial = (addr: string, spec: EndpointSpec): GrpcClientConn => {
    try {
      return ctx.grpcDial(addr, spec.tls ? { tls: spec.tls } : undefined);
    } catch (e) {
      if (!setupDone || !(e instanceof PermissionDenied)) throw e;
      return failedConn(addr, e);
    }
  };
  const endpoints = new EndpointSet(opts.clientFactory ?? ((addr, spec) => new EndpointGrpcClient(dial(addr, spec))), {
    unhealthyTimeoutMs: cfg.unhealthyTimeoutMs,
    infoTimeoutMs: cfg.infoTimeoutMs,
    onError: (addr, err) => log.warn('endpoint health check failed', { address: addr, err }),
  });
  // Thanos's endpointSetNodeCollector (default --query.conn-metric.label: external_labels, store_type):
  // healthy endpoints per external label sets and component.
  const storeNodes = ctx.metrics.gauge('thanos_store_nodes_grpc_connections', 'Number of gRPC connection to Store APIs. Opened connection means healthy store APIs available for Querier.', ['external_labels', 'store_type']);
  let storeNodeKeys = new Map<string, { external_labels: string; store_type: string }>();

  const staticSpecs: EndpointSpec[] = [
    ...cfg.endpoints.map((address) => ({ address, strict: false, source: 'flag' })),
    ...cfg.strictEndpoints.map((address) => ({ address, strict: true, source: 'flag' })),
  ];
  const flagTls = { tls: cfg.grpcClientTls, fields: cfg.grpcClientTlsFields ?? withTlsDefaults({}) };
  // The endpoint config's default_client_config, when given, replaces the flags for every endpoint
  // without its own client_config: the --endpoint and --store.sd-files ones too (as in Thanos).
  let defaultTls: { tls?: GrpcClientTlsOptions } | undefined;
  const withDefaultTls = (s: EndpointSpec): EndpointSpec => {
    const tls = (defaultTls ?? flagTls).tls;
    return tls ? { ...s, tls } : s;
  };
  let sdSpecs: EndpointSpec[] = [];
  let fileSdSpecs: EndpointSpec[] = [];
  const dec = new TextDecoder();

  const loadSdConfig = async (): Promise<void> => {
    let text: string | undefined = cfg.endpointSdConfig;
    const where = cfg.endpointSdConfigFile ?? '--endpoint.sd-config';
    if (cfg.endpointSdConfigFile) text = dec.decode(await ctx.fs.readFile(cfg.endpointSdConfigFile));
    if (text === undefined) return;
    const parsed = parseEndpointSdConfig(YAML.parse(text), where, flagTls);
    sdSpecs = parsed.endpoints;
    defaultTls = parsed.defaultTls;
  };
  const loadFileSd = async (): Promise<void> => {
    const out: EndpointSpec[] = [];
    for (const f of cfg.storeSdFiles) out.push(...parseFileSd(YAML.parse(dec.decode(await ctx.fs.readFile(f))), f));
    fileSdSpecs = out;
  };
  // Bad discovery files at startup are configuration errors; later reloads keep the last good list.
  try {
    await loadSdConfig();
  } catch (e) {
    throw new ConfigError(cfg.endpointSdConfigFile ? 'endpointSdConfigFile' : 'endpointSdConfig', (e as Error).message);
  }
  try {
    await loadFileSd();
  } catch (e) {
    throw new ConfigError('storeSdFiles', (e as Error).message);
  }
  const applyWanted = () => endpoints.setWanted([...staticSpecs.map(withDefaultTls), ...sdSpecs, ...fileSdSpecs.map(withDefaultTls)]);
  applyWanted();
  setupDone = true;

  const engine = new Engine({ lookbackDelta: cfg.lookbackDeltaMs, maxSamples: cfg.maxSamples, timeoutMs: cfg.timeoutMs });
  const targets = (tenant?: string): StoreTarget[] => endpoints.healthyStores().map((st) => targetOf(st, tenant));
  // As Thanos's querier, every Series fan-out (HTTP queries and the gRPC StoreAPI) is under
  // --store.limits.request-series / --store.limits.request-samples.
  const droppedSelects = ctx.metrics.counter('thanos_store_selects_dropped_total', 'Number of select queries that were dropped due to configured limits.', ['reason']);
  const limited = (s: StoreServer): StoreServer => new LimitedStore(s, cfg.storeLimits, droppedSelects);
  const proxy = limited(new ProxyStore(targets, { responseTimeoutMs: cfg.responseTimeoutMs }));
  const tenantProxy = (tenant: string) => limited(new ProxyStore(() => targets(tenant), { responseTimeoutMs: cfg.responseTimeoutMs }));
  // Thanos's gates: gate.New under thanos_query_concurrent_ (queries) and a gate factory under
  // thanos_query_concurrent_selects_ (one gate per query, shared metrics).
  const queryGate = new Gate(cfg.maxConcurrent, gateMetrics(ctx.metrics, 'thanos_query_concurrent_', 'queries', cfg.maxConcurrent), { waitSpan: 'query_gate_ismyturn' });
  const selectGateMetrics = gateMetrics(ctx.metrics, 'thanos_query_concurrent_selects_', 'selects', cfg.maxConcurrentSelect);

  const queryableFor = (p: QueryableParams): StoreQueryable => {
    const store: StoreAPI = p.storeMatchers.length === 0
      ? p.tenant === undefined ? proxy : tenantProxy(p.tenant)
      : limited(new ProxyStore(() => targets(p.tenant).filter((t) => storeMatches(t.name, p.storeMatchers)), { responseTimeoutMs: cfg.responseTimeoutMs }));
    // One select gate per query (--query.max-concurrent-select).
    return new StoreQueryable(store, ctx.core, {
      dedup: p.dedup, replicaLabels: p.replicaLabels, dedupAlgorithm: cfg.dedupAlgorithm, maxResolutionMs: p.maxResolutionMs,
      partialResponse: p.partialResponse, mint: p.mint, maxt: p.maxt, shardInfo: p.shardInfo, selectGate: new Gate(cfg.maxConcurrentSelect, selectGateMetrics),
      maxMemoryBytes: cfg.maxMemoryBytes,
    });
  };

  const flagValues = (): Record<string, string> => {
    const out: Record<string, string> = {};
    const v: Record<string, unknown> = {
      endpoint: cfg.endpoints, 'endpoint-strict': cfg.strictEndpoints, 'endpoint.sd-config-file': cfg.endpointSdConfigFile ?? '',
      'store.sd-files': cfg.storeSdFiles, 'store.unhealthy-timeout': cfg.unhealthyTimeoutMs, 'store.response-timeout': cfg.responseTimeoutMs,
      'endpoint.info-timeout': cfg.infoTimeoutMs, 'query.replica-label': cfg.replicaLabels, 'deduplication.func': cfg.dedupAlgorithm,
      'query.auto-downsampling': cfg.autoDownsampling, 'query.partial-response': cfg.partialResponse, 'query.timeout': cfg.timeoutMs,
      'query.max-concurrent': cfg.maxConcurrent, 'query.max-concurrent-select': cfg.maxConcurrentSelect, 'query.lookback-delta': cfg.lookbackDeltaMs,
      'query.default-step': cfg.defaultStepMs, 'query.max-samples': cfg.maxSamples, 'query.max-memory': cfg.maxMemoryBytes, 'web.route-prefix': cfg.routePrefix,
      'web.external-prefix': cfg.externalPrefix, 'web.prefix-header': cfg.prefixHeader, 'query.tenant-header': cfg.tenantHeader, 'query.default-tenant-id': cfg.defaultTenant,
      'query.enforce-tenancy': cfg.enforceTenancy, 'query.tenant-label-name': cfg.tenantLabel, 'http-address': ctx.addresses?.http ?? '', 'grpc-address': ctx.addresses?.grpc ?? '',
    };
    const durations = new Set(['store.unhealthy-timeout', 'store.response-timeout', 'endpoint.info-timeout', 'query.timeout', 'query.lookback-delta', 'query.default-step']);
    for (const [k, val] of Object.entries(v)) {
      out[k] = Array.isArray(val) ? val.join(',') : durations.has(k) ? formatGoDuration(val as number) : String(val);
    }
    return out;
  };

  const api = createApi({
    engine,
    queryable: queryableFor,
    replicaLabels: cfg.replicaLabels,
    partialResponse: cfg.partialResponse,
    autoDownsampling: cfg.autoDownsampling,
    queryTimeoutMs: cfg.timeoutMs,
    lookbackDeltaMs: cfg.lookbackDeltaMs,
    dynamicLookbackDelta: cfg.dynamicLookbackDelta,
    defaultStepMs: cfg.defaultStepMs,
    instantDefaultMaxSourceResolutionMs: cfg.instantDefaultMaxSourceResolutionMs,
    endpointStatuses: () => endpoints.statuses(),
    flags: flagValues,
    metricMetadata: (req, partial, signal) => fanoutMetadata(endpoints.metadataSources(), req, partial, signal),
    targets: (req, partial, signal) => fanoutTargets(endpoints.targetsSources(), req, cfg.replicaLabels, partial, signal),
    rules: (req, partial, signal) => fanoutRules(rulesSources(endpoints.all()), req, cfg.replicaLabels, partial, signal),
    exemplars: (req, partial, signal) => fanoutExemplars(exemplarsSources(endpoints.all()), req, cfg.replicaLabels, partial, signal),
    tenancy: { header: cfg.tenantHeader, defaultTenant: cfg.defaultTenant, enforce: cfg.enforceTenancy, label: cfg.tenantLabel },
    buildInfo: ctx.build,
  });

  const app = new Hono();
  const ui = uiRoutes({
    readFile: (p) => ctx.fs.readFile(p),
    uiDir: UI_DIR,
    uplotDir: UPLOT_DIR,
    linkPrefix: cfg.externalPrefix || cfg.routePrefix,
    prefixFor: webPrefixFor(cfg.externalPrefix, cfg.prefixHeader, cfg.routePrefix),
    warn: (msg) => log.warn(msg),
  });
  const inner = new Hono();
  // Queries wait for a slot (--query.max-concurrent); other API calls and the UI do not. A query
  // holds its slot until its evaluation has stopped, so in-flight shows whether a canceled query really ended.
  inner.use('/api/v1/query*', async (c, next) => {
    await queryGate.run(() => next(), c.req.raw.signal);
  });
  inner.route('/', api);
  inner.route('/', ui);
  app.route(cfg.routePrefix || '/', inner);
  if (cfg.routePrefix) app.get('/', (c) => c.redirect(`${cfg.externalPrefix || cfg.routePrefix}/graph`, 302));

  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));

  const info = (): ComponentInfo => {
    const stores = endpoints.healthyStores();
    const labelSets: Array<Record<string, string>> = [];
    const seen = new Set<string>();
    // As Thanos's ProxyStore.TimeRange: the union of the stores' ranges, and the whole int64 range
    // (math.MinInt64..math.MaxInt64, written exactly on the wire) when no store is connected.
    let minTime = INT64_MAX;
    let maxTime = INT64_MIN;
    for (const st of stores) {
      for (const ls of st.info!.labelSets) {
        const rec: Record<string, string> = {};
        for (const l of ls) rec[l.name] = l.value;
        const k = JSON.stringify(rec);
        if (!seen.has(k)) {
          seen.add(k);
          labelSets.push(rec);
        }
      }
      minTime = Math.min(minTime, st.info!.store!.minTime);
      maxTime = Math.max(maxTime, st.info!.store!.maxTime);
    }
    if (stores.length === 0) {
      minTime = INT64_MIN;
      maxTime = INT64_MAX;
    }
    return {
      componentType: 'query',
      labelSets,
      // The proxy passes without_replica_labels on; it is honoured only if every store honours it.
      store: { minTime, maxTime, supportsSharding: true, supportsWithoutReplicaLabels: stores.length > 0 && stores.every((st) => st.info!.store!.supportsWithoutReplicaLabels) },
      query: {},
      // As Thanos's querier: the Metadata and Targets APIs are served (fanned out) over gRPC too.
      metricMetadata: {},
      targets: {},
    };
  };

  // thanos.Metadata / thanos.Targets for queriers stacked on this one: one merged answer frame.
  const apiServices: GrpcServices = {
    [METRIC_METADATA_METHOD]: {
      kind: 'serverStream',
      requestDecode: decodeMetricMetadataRequest,
      responseEncode: (m) => encodeMetricMetadataResponse(m as MetricMetadataResponse),
      async *handler(req, signal) {
        const r = req as MetricMetadataRequest;
        const out = await fanoutMetadata(endpoints.metadataSources(), r, r.partialResponseStrategy !== PartialResponseStrategy.ABORT, signal)
          .catch((e) => { throw e instanceof FanoutError ? new GrpcError(GrpcStatus.Unknown, e.message) : e; });
        for (const w of out.warnings) yield { type: 'warning', warning: w } satisfies MetricMetadataResponse;
        yield { type: 'metadata', metadata: out.metadata } satisfies MetricMetadataResponse;
      },
    },
    [TARGETS_METHOD]: {
      kind: 'serverStream',
      requestDecode: decodeTargetsRequest,
      responseEncode: (m) => encodeTargetsResponse(m as TargetsResponse),
      async *handler(req, signal) {
        const r = req as TargetsRequest;
        const out = await fanoutTargets(endpoints.targetsSources(), r, [], r.partialResponseStrategy !== PartialResponseStrategy.ABORT, signal)
          .catch((e) => { throw e instanceof FanoutError ? new GrpcError(GrpcStatus.Unknown, e.message) : e; });
        for (const w of out.warnings) yield { type: 'warning', warning: w } satisfies TargetsResponse;
        yield { type: 'targets', targets: out.targets } satisfies TargetsResponse;
      },
    },
  };

  const component: QueryComponent = {
    endpoints,
    ready,
    info,
    fetch: (req) => app.fetch(req),
    http: routeInstrumentation([...QUERY_API_ROUTES, ...REACT_UI_ROUTES], { query: ['get', 'post'], query_range: ['get', 'post'] }, cfg.routePrefix),
    grpc: { ...tenantForwardingStoreServices(storeServices(proxy), (tenant) => storeServices(tenantProxy(tenant))), ...apiServices },
    async run(signal: AbortSignal) {
      let lastSdLoad = Date.now();
      let lastFileSdLoad = Date.now();
      const tick = async () => {
        const now = Date.now();
        if ((cfg.endpointSdConfigFile) && now - lastSdLoad >= cfg.endpointSdConfigReloadIntervalMs) {
          lastSdLoad = now;
          await loadSdConfig().catch((e) => log.error('reloading endpoint sd config failed; keeping the previous endpoints', { err: (e as Error).message }));
        }
        if (cfg.storeSdFiles.length > 0 && now - lastFileSdLoad >= cfg.storeSdIntervalMs) {
          lastFileSdLoad = now;
          await loadFileSd().catch((e) => log.error('reloading store sd files failed; keeping the previous endpoints', { err: (e as Error).message }));
        }
        applyWanted();
        await endpoints.update(signal);
        const counts = new Map<string, { labels: { external_labels: string; store_type: string }; n: number }>();
        for (const st of endpoints.healthyStores()) {
          const labels = { external_labels: labelSetsString(st.info!.labelSets), store_type: st.info!.componentType };
          const k = JSON.stringify(labels);
          const e = counts.get(k);
          if (e) e.n++;
          else counts.set(k, { labels, n: 1 });
        }
        // Combinations that went away are dropped (the collector reports only current ones); a
        // registry without per-series delete shows them at 0.
        for (const [k, labels] of storeNodeKeys) {
          if (counts.has(k)) continue;
          const drop = (storeNodes as { remove?: (l: Record<string, string>) => void }).remove;
          if (drop) drop.call(storeNodes, labels);
          else storeNodes.set(0, labels);
        }
        for (const { labels, n } of counts.values()) storeNodes.set(n, labels);
        storeNodeKeys = new Map([...counts].map(([k, e]) => [k, e.labels] as const));
      };
      await tick();
      ctx.setReady(true);
      markReady();
      log.info('querier ready', { endpoints: endpoints.all().length, healthy: endpoints.healthyStores().length });
      while (!signal.aborted) {
        await new Promise<void>((resolve) => {
          const onAbort = () => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, cfg.infoIntervalMs);
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (signal.aborted) break;
        await tick();
      }
      endpoints.close();
    },
    async reload() {
      await loadSdConfig();
      await loadFileSd();
      applyWanted();
      await endpoints.update();
    },
  };
  return component;
}

export default definePlugin<QueryConfig>({
  manifest: {
    id: 'component:query',
    apiVersion: 1,
    permissions: { net: true, read: true },
    description: 'net: gRPC to every StoreAPI endpoint and the HTTP/gRPC listeners; read: endpoint discovery files and the web UI assets (plugins/component/query/ui, node_modules/uplot/dist).',
  },
  flags: queryFlags,
  parseConfig: parseQueryConfig,
  setup: (ctx, cfg) => setupQuery(ctx, cfg),
});

/**
 * The StoreAPI served to queriers stacked on this one: as Thanos's proxy, the caller's THANOS-TENANT
 * (the default tenant when it sent none) goes on to every store.
 */
function tenantForwardingStoreServices(base: GrpcServices, forTenant: (tenant: string) => GrpcServices): GrpcServices {
  const out: GrpcServices = {};
  for (const [method, svc] of Object.entries(base)) {
    out[method] = svc.kind === 'unary'
      ? { ...svc, handler: (req, signal, md) => forTenant(tenantFromGrpcMetadata(md))[method]!.handler(req, signal, md) as Promise<unknown> }
      : { ...svc, handler: (req, signal, md) => forTenant(tenantFromGrpcMetadata(md))[method]!.handler(req, signal, md) as AsyncIterable<unknown> };
  }
  return out;
}

// The response caches of the frontend, configured with Thanos's --query-range.response-cache-config
// / --labels.response-cache-config YAML (pkg/queryfrontend/config.go):
//   type: IN-MEMORY
//   config: { max_size: 1GB, max_size_items: 0, validity: 0s }
//   type: MEMCACHED
//   config: { addresses: [host:port], timeout: 500ms, max_idle_connections: 100, max_async_concurrency: 10,
//             max_async_buffer_size: 10000, max_get_multi_concurrency: 100, max_get_multi_batch_size: 0,
//             max_item_size: 1MiB, dns_provider_update_interval: 10s, expiration: 24h }
// REDIS is refused by name until implemented. Keys are hashed (memcached takes at most 250 bytes of
// printable text); --cache-compression-type=snappy compresses values (snappy block format, as Cortex).
import { parse as parseYaml } from '../cjs/yaml.ts';
import { ConfigError } from '../sdk/mod.ts';
import type { Logger, Metrics } from '../sdk/plugin.ts';
import { md5 } from '../hash/md5.ts';
import { parseBytes, goDurationValue } from '../store/blocksync/timeflags.ts';
import { MemcachedClient, type Connect } from '../store/indexcache/memcached.ts';
import { compress as snappyCompress, decompress as snappyDecompress } from '../remote/snappy.ts';

export interface InMemoryCacheConfig {
  type: 'IN-MEMORY';
  /** Bytes; 0 = no byte bound. */
  maxSizeBytes: number;
  /** Entries; 0 = no entry bound. */
  maxSizeItems: number;
  /** ms; 0 = entries never go stale. */
  validityMs: number;
}

export interface MemcachedCacheConfig {
  type: 'MEMCACHED';
  addresses: string[];
  timeoutMs: number;
  maxIdleConnections: number;
  maxAsyncConcurrency: number;
  maxAsyncBufferSize: number;
  maxGetMultiBatchSize: number;
  maxItemSize: number;
  expirationSec: number;
}

export type ResponseCacheConfig = InMemoryCacheConfig | MemcachedCacheConfig;

const MEMCACHED_KEYS = [
  'addresses', 'timeout', 'max_idle_connections', 'max_async_concurrency', 'max_async_buffer_size', 'max_get_multi_concurrency',
  'max_item_size', 'max_get_multi_batch_size', 'dns_provider_update_interval', 'auto_discovery', 'set_async_circuit_breaker_config', 'expiration',
];

/**
 * Parses the YAML (`key` names the flag in errors). Returns undefined for an empty text (no cache).
 * `warn` receives Thanos's warnings (defaults applied for zero values).
 */
export function parseResponseCacheConfig(text: string, key: string, warn: (msg: string) => void = () => {}): ResponseCacheConfig | undefined {
  if (text.trim() === '') return undefined;
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(key, `parsing config YAML file: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(key, 'parsing config YAML file: must be a mapping with type and config');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'type' && k !== 'config') throw new ConfigError(key, `parsing config YAML file: field ${k} not found in type queryfrontend.CacheProviderConfig`);
  const c = (o.config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) throw new ConfigError(key, 'config must be a mapping');
  const type = String(o.type ?? '').toUpperCase();
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new ConfigError(key, (e as Error).message);
    }
  };
  const int = (k: string, def: number, min = 0): number => {
    const v = c[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(key, `config.${k}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (type === 'IN-MEMORY') {
    // Thanos decodes this one leniently (yaml.Unmarshal, not UnmarshalStrict); we still refuse unknown keys.
    for (const k of Object.keys(c)) if (!['max_size', 'max_size_items', 'validity'].includes(k)) throw new ConfigError(key, `config: unknown field ${JSON.stringify(k)} for IN-MEMORY (known: max_size, max_size_items, validity)`);
    const maxSizeBytes = c.max_size === undefined || c.max_size === '' ? 0 : wrap(() => parseBytes(c.max_size, 'config.max_size'));
    const maxSizeItems = int('max_size_items', 0);
    const validityMs = c.validity === undefined ? 0 : wrap(() => goDurationValue(c.validity, 'config.validity'));
    return { type: 'IN-MEMORY', maxSizeBytes, maxSizeItems, validityMs };
  }
  if (type === 'MEMCACHED') {
    for (const k of Object.keys(c)) if (!MEMCACHED_KEYS.includes(k)) throw new ConfigError(key, `config: field ${k} not found in type queryfrontend.MemcachedResponseCacheConfig`);
    const addrs = c.addresses;
    if (!Array.isArray(addrs) || addrs.length === 0 || addrs.some((a) => typeof a !== 'string')) throw new ConfigError(key, 'config.addresses: no memcached addresses provided');
    for (const a of addrs as string[]) {
      if (/^dns(srv)?(noa)?\+/.test(a)) throw new ConfigError(key, `config.addresses: DNS service discovery (${a}) is not implemented yet; give host:port`);
      if (!/^.+:\d+$/.test(a)) throw new ConfigError(key, `config.addresses: ${JSON.stringify(a)} must be host:port`);
    }
    if (c.auto_discovery === true) throw new ConfigError(key, 'config.auto_discovery is not implemented yet (AWS ElastiCache discovery)');
    if (c.set_async_circuit_breaker_config !== undefined) throw new ConfigError(key, 'config.set_async_circuit_breaker_config is not implemented yet');
    let expirationMs = c.expiration === undefined ? 24 * 3600_000 : wrap(() => goDurationValue(c.expiration, 'config.expiration'));
    if (expirationMs === 0) {
      warn('memcached cache valid time set to 0, so using a default of 24 hours expiration time');
      expirationMs = 24 * 3600_000;
    }
    if (c.dns_provider_update_interval !== undefined) wrap(() => goDurationValue(c.dns_provider_update_interval, 'config.dns_provider_update_interval'));
    let maxAsyncConcurrency = int('max_async_concurrency', 10, -Infinity);
    if (maxAsyncConcurrency <= 0) {
      warn('memcached max async concurrency must be positive, defaulting to 10');
      maxAsyncConcurrency = 10;
    }
    int('max_get_multi_concurrency', 100);
    return {
      type: 'MEMCACHED',
      addresses: addrs as string[],
      timeoutMs: c.timeout === undefined ? 500 : wrap(() => goDurationValue(c.timeout, 'config.timeout')),
      maxIdleConnections: int('max_idle_connections', 100),
      maxAsyncConcurrency,
      maxAsyncBufferSize: int('max_async_buffer_size', 10000, 1),
      maxGetMultiBatchSize: int('max_get_multi_batch_size', 0),
      maxItemSize: c.max_item_size === undefined ? 1024 * 1024 : wrap(() => parseBytes(c.max_item_size, 'config.max_item_size')),
      expirationSec: Math.max(1, Math.round(expirationMs / 1000)),
    };
  }
  if (type === 'REDIS') throw new ConfigError(key, 'response cache type REDIS is not implemented yet (use IN-MEMORY or MEMCACHED)');
  throw new ConfigError(key, `response cache with type ${String(o.type ?? '')} is not supported`);
}

/** A byte cache for the results cache. Failures are misses; store is best effort. */
export interface ResponseCache {
  /** Cortex's cache name: fifocache or memcache (the `name` label of cortex_cache_*). */
  readonly name: string;
  fetch(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /** `stored`: called with the seconds the write took once it has run (an asynchronous backend's queued write: when it ran). */
  store(key: string, value: Uint8Array, stored?: (seconds: number) => void): void;
  close(): Promise<void>;
}

/** A metrics registry and the tripperware its series carry (Thanos registers each tripperware's cache under a `tripperware` label). */
export interface CacheInstrumentation {
  metrics: Metrics;
  tripperware: string;
}

type CounterOf = ReturnType<Metrics['counter']>;
type GaugeOf = ReturnType<Metrics['gauge']>;

/**
 * Cortex's fifocache metrics (internal/cortex/chunk/cache/fifo_cache.go): querier_cache_*, with the
 * cache name as the `cache` label; they exist at 0 from the start, as upstream's unlabelled counters do.
 */
class FifoCacheMetrics {
  readonly added: CounterOf;
  readonly addedNew: CounterOf;
  readonly evicted: CounterOf;
  readonly gets: CounterOf;
  readonly misses: CounterOf;
  readonly staleGets: CounterOf;
  readonly entries: GaugeOf;
  readonly memory: GaugeOf;
  readonly labels: Record<string, string>;

  constructor(m: Metrics, name: string, tripperware: string) {
    const ls = ['cache', 'tripperware'];
    this.labels = { cache: name, tripperware };
    this.added = m.counter('querier_cache_added_total', 'The total number of Put calls on the cache', ls);
    this.addedNew = m.counter('querier_cache_added_new_total', 'The total number of new entries added to the cache', ls);
    this.evicted = m.counter('querier_cache_evicted_total', 'The total number of evicted entries', ls);
    this.entries = m.gauge('querier_cache_entries', 'The total number of entries', ls);
    this.gets = m.counter('querier_cache_gets_total', 'The total number of Get calls', ls);
    this.misses = m.counter('querier_cache_misses_total', 'The total number of Get calls that had no valid entry', ls);
    this.staleGets = m.counter('querier_cache_stale_gets_total', 'The total number of Get calls that had an entry which expired', ls);
    this.memory = m.gauge('querier_cache_memory_bytes', 'The current cache size in bytes', ls);
    for (const c of [this.added, this.addedNew, this.evicted, this.gets, this.misses, this.staleGets]) c.inc(this.labels, 0);
    this.entries.set(0, this.labels);
    this.memory.set(0, this.labels);
  }
}

/**
 * Cortex's FIFO cache (fifo_cache.go), bounded by bytes and entries, with an optional validity
 * after which an entry is a (stale) miss; it stays until replaced or evicted, as upstream's does.
 * Unlike upstream, a hit moves the entry to the back of the eviction order (least recently used goes first).
 */
export class InMemoryResponseCache implements ResponseCache {
  readonly name = 'fifocache';
  private readonly map = new Map<string, { v: Uint8Array; at: number }>();
  private bytes = 0;
  private readonly m?: FifoCacheMetrics;

  constructor(private readonly cfg: InMemoryCacheConfig, private readonly now: () => number = Date.now, instrument?: CacheInstrumentation) {
    if (instrument) this.m = new FifoCacheMetrics(instrument.metrics, this.name, instrument.tripperware);
  }

  /** Upstream's sizeOf on 64-bit Go: the entry struct (64), the list element (48) and the map's pointer (8), plus key and value bytes. */
  private static cost(k: string, v: Uint8Array): number {
    return 120 + k.length + v.byteLength;
  }

  async fetch(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const l = this.m?.labels;
    for (const k of keys) {
      this.m?.gets.inc(l);
      const e = this.map.get(k);
      if (!e) {
        this.m?.misses.inc(l);
        continue;
      }
      if (this.cfg.validityMs > 0 && this.now() - e.at >= this.cfg.validityMs) {
        this.m?.misses.inc(l);
        this.m?.staleGets.inc(l);
        continue;
      }
      this.map.delete(k); // most recently used goes last
      this.map.set(k, e);
      out.set(k, e.v);
    }
    return out;
  }

  private drop(k: string, v: Uint8Array): void {
    this.map.delete(k);
    this.bytes -= InMemoryResponseCache.cost(k, v);
  }

  store(key: string, value: Uint8Array, stored?: (seconds: number) => void): void {
    const started = performance.now();
    this.put(key, value);
    stored?.((performance.now() - started) / 1000);
  }

  private put(key: string, value: Uint8Array): void {
    const l = this.m?.labels;
    this.m?.added.inc(l);
    const old = this.map.get(key);
    if (old) this.drop(key, old.v);
    const cost = InMemoryResponseCache.cost(key, value);
    if (this.cfg.maxSizeBytes > 0 && cost > this.cfg.maxSizeBytes) {
      // Larger than the whole cache: not kept (an entry it would have replaced is gone too).
      if (old) this.m?.evicted.inc(l);
      this.updateGauges();
      return;
    }
    while (this.map.size > 0 && ((this.cfg.maxSizeBytes > 0 && this.bytes + cost > this.cfg.maxSizeBytes) || (this.cfg.maxSizeItems > 0 && this.map.size >= this.cfg.maxSizeItems))) {
      const [k, e] = this.map.entries().next().value as [string, { v: Uint8Array }];
      this.drop(k, e.v);
      this.m?.evicted.inc(l);
    }
    this.map.set(key, { v: value, at: this.now() });
    this.bytes += cost;
    if (!old) this.m?.addedNew.inc(l);
    this.updateGauges();
  }

  private updateGauges(): void {
    if (!this.m) return;
    this.m.entries.set(this.map.size, this.m.labels);
    this.m.memory.set(this.bytes, this.m.labels);
  }

  get size(): number {
    return this.map.size;
  }

  async close(): Promise<void> {
    this.m?.evicted.inc(this.m.labels, this.map.size);
    this.map.clear();
    this.bytes = 0;
    this.updateGauges();
  }
}

export class MemcachedResponseCache implements ResponseCache {
  readonly name = 'memcache';
  readonly client: MemcachedClient;

  constructor(connect: Connect, cfg: MemcachedCacheConfig, log?: Logger) {
    this.client = new MemcachedClient(connect, {
      addresses: cfg.addresses,
      timeoutMs: cfg.timeoutMs,
      // Connections are opened lazily, one per slot in turn: more than a few per server only adds sockets.
      maxIdleConnections: Math.min(16, Math.max(1, cfg.maxIdleConnections)),
      maxItemSize: cfg.maxItemSize,
      maxGetMultiBatchSize: cfg.maxGetMultiBatchSize,
      maxAsyncConcurrency: cfg.maxAsyncConcurrency,
      maxAsyncBufferSize: cfg.maxAsyncBufferSize,
      expirationSec: cfg.expirationSec,
    }, log);
  }

  fetch(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.client.getMulti(keys);
  }

  store(key: string, value: Uint8Array, stored?: (seconds: number) => void): void {
    this.client.set(key, value, stored);
  }

  /** Waits for queued writes (tests; shutdown). */
  flush(): Promise<void> {
    return this.client.flush();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A cache key as the backend stores it: a fixed-length hash of the logical key. */
export function hashCacheKey(key: string): string {
  return hex(md5(enc.encode(key)));
}

export interface CacheDeps {
  connect?: Connect;
  log?: Logger;
  metrics?: Metrics;
  /** The tripperware label: query_range or labels. */
  tripperware: string;
  /** --cache-compression-type: '' or 'snappy'. */
  compression: '' | 'snappy';
}

/** Cortex's cache request histogram buckets: ExponentialBuckets(0.000016, 4, 8), 16us to about 0.26s. */
const CACHE_REQUEST_DURATION_BUCKETS = Array.from({ length: 8 }, (_, i) => 0.000016 * 4 ** i);
/** Cortex's cache value size buckets: ExponentialBuckets(1024, 4, 7), 1KiB to 4MiB. */
const CACHE_VALUE_SIZE_BUCKETS = Array.from({ length: 7 }, (_, i) => 1024 * 4 ** i);

/**
 * Logical keys in, bytes out; instrumented as Cortex's cache.Instrument (instrumented.go):
 * cortex_cache_fetched_keys_total, cortex_cache_hits_total, cortex_cache_value_size_bytes{method=fetch|store}
 * (series at 0 from the start) and cortex_cache_request_duration_seconds{method=<name>.fetch|<name>.store,
 * status_code} (from the first request; status_code is always 200, as upstream's wrapped calls never fail).
 */
export class InstrumentedCache {
  private readonly fetched?: CounterOf;
  private readonly hits?: CounterOf;
  private readonly valueSize?: ReturnType<Metrics['histogram']>;
  private readonly duration?: ReturnType<Metrics['histogram']>;
  private readonly labels: Record<string, string>;

  constructor(readonly backend: ResponseCache, private readonly compression: '' | 'snappy', metrics: Metrics | undefined, tripperware: string) {
    this.labels = { name: backend.name, tripperware };
    if (metrics) {
      this.fetched = metrics.counter('cortex_cache_fetched_keys_total', 'Total count of keys requested from cache.', ['name', 'tripperware']);
      this.hits = metrics.counter('cortex_cache_hits_total', 'Total count of keys found in cache.', ['name', 'tripperware']);
      this.valueSize = metrics.histogram('cortex_cache_value_size_bytes', 'Size of values in the cache.', ['method', 'name', 'tripperware'], CACHE_VALUE_SIZE_BUCKETS);
      this.duration = metrics.histogram('cortex_cache_request_duration_seconds', 'Total time spent in seconds doing cache requests.', ['method', 'name', 'status_code', 'tripperware'], CACHE_REQUEST_DURATION_BUCKETS);
      this.fetched.inc(this.labels, 0);
      this.hits.inc(this.labels, 0);
      this.valueSize.init?.({ method: 'store', ...this.labels });
      this.valueSize.init?.({ method: 'fetch', ...this.labels });
    }
  }

  private observeRequest(op: 'fetch' | 'store', seconds: number): void {
    this.duration?.observe(seconds, { method: `${this.backend.name}.${op}`, status_code: '200', ...this.labels });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.getFirst([key]))?.value;
  }

  /** One fetch for several keys; the first of them (in the given order) that is found. */
  async getFirst(keys: readonly string[]): Promise<{ key: string; value: Uint8Array } | undefined> {
    if (keys.length === 0) return undefined;
    const hashed = keys.map(hashCacheKey);
    const started = performance.now();
    const got = await this.backend.fetch(hashed);
    this.observeRequest('fetch', (performance.now() - started) / 1000);
    this.fetched?.inc(this.labels, keys.length);
    if (got.size > 0) this.hits?.inc(this.labels, got.size);
    for (const v of got.values()) this.valueSize?.observe(v.byteLength, { method: 'fetch', ...this.labels });
    for (let i = 0; i < keys.length; i++) {
      let v = got.get(hashed[i]!);
      if (v === undefined) continue;
      if (this.compression === 'snappy') {
        try {
          v = snappyDecompress(v);
        } catch {
          continue; // a value we cannot read is a miss
        }
      }
      return { key: keys[i]!, value: v };
    }
    return undefined;
  }

  put(key: string, value: Uint8Array): void {
    const stored = this.compression === 'snappy' ? snappyCompress(value) : value;
    this.valueSize?.observe(stored.byteLength, { method: 'store', ...this.labels });
    this.backend.store(hashCacheKey(key), stored, this.duration ? (s) => this.observeRequest('store', s) : undefined);
  }
}

/** The backend for a parsed config (undefined: IN-MEMORY with neither bound, which Cortex runs without a cache). */
export function createResponseCache(cfg: ResponseCacheConfig, deps: CacheDeps): InstrumentedCache | undefined {
  let backend: ResponseCache;
  if (cfg.type === 'IN-MEMORY') {
    if (cfg.maxSizeBytes === 0 && cfg.maxSizeItems === 0) {
      deps.log?.warn('neither fifocache.max-size-bytes nor fifocache.max-size-items is set: the response cache is off', { tripperware: deps.tripperware });
      return undefined;
    }
    backend = new InMemoryResponseCache(cfg, Date.now, deps.metrics ? { metrics: deps.metrics, tripperware: deps.tripperware } : undefined);
  } else {
    if (!deps.connect) throw new Error('MEMCACHED needs network access (connect) from the host');
    backend = new MemcachedResponseCache(deps.connect, cfg, deps.log);
  }
  return new InstrumentedCache(backend, deps.compression, deps.metrics, deps.tripperware);
}

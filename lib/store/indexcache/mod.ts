// The store gateway's index cache: postings lists, expanded postings and series entries per block,
// in an in-memory LRU (byte bounded) or memcached, configured with Thanos's --index-cache.config YAML:
//   type: IN-MEMORY | MEMCACHED
//   config: { max_size: 250MB, max_item_size: 125MB }            (IN-MEMORY)
//   config: { addresses: [host:port], timeout: 500ms, ... }       (MEMCACHED)
//   enabled_items: [Postings, Series, ExpandedPostings]          (optional; default all)
//   ttl: 24h                                                     (remote caches)
import { parse as parseYaml } from '../../cjs/yaml.ts';
import { md5 } from '../../hash/md5.ts';
import { parseBytes, durationValue, goDurationValue } from '../blocksync/timeflags.ts';
import { type BytesCache, InMemoryLru } from './lru.ts';
import type { Counter, Histogram, Metrics } from '../../sdk/mod.ts';
import { DEFAULT_TENANT } from '../../query/tenancy.ts';
import { type Connect, MemcachedClient, type MemcachedLogger, type MemcachedOptions, MEMCACHED_DEFAULTS } from './memcached.ts';

export { InMemoryLru, type BytesCache } from './lru.ts';
export { MemcachedClient, type Connect, type TcpConnection } from './memcached.ts';

export type ItemType = 'Postings' | 'ExpandedPostings' | 'Series';
const ITEM_TYPES: readonly ItemType[] = ['Postings', 'ExpandedPostings', 'Series'];
/**
 * One frozen label object per item type (and per item type and tenant): every entry added or evicted
 * updates four series, and a registry keys a frozen object once (host/metrics.ts) instead of
 * building a key string per update.
 */
const TYPE_LABELS: Readonly<Record<ItemType, Readonly<Record<string, string>>>> = Object.freeze({
  Postings: Object.freeze({ item_type: 'Postings' }),
  ExpandedPostings: Object.freeze({ item_type: 'ExpandedPostings' }),
  Series: Object.freeze({ item_type: 'Series' }),
});

export type MetricsLike = Metrics;

/** The `tenant` label value of the cache's per-tenant metrics (the store gateway has no tenancy: Thanos's default). */
const TENANT = DEFAULT_TENANT;
const TYPE_TENANT_LABELS: Readonly<Record<ItemType, Readonly<Record<string, string>>>> = Object.freeze({
  Postings: Object.freeze({ item_type: 'Postings', tenant: TENANT }),
  ExpandedPostings: Object.freeze({ item_type: 'ExpandedPostings', tenant: TENANT }),
  Series: Object.freeze({ item_type: 'Series', tenant: TENANT }),
});
const FETCH_DURATION_BUCKETS = [0.01, 0.1, 0.3, 0.6, 1, 3, 6, 10, 15, 20, 30, 45, 60, 90, 120];
const MiB = 1024 * 1024;
const STORED_SIZE_BUCKETS = [32, 256, 512, 1024, 32 * 1024, 256 * 1024, 512 * 1024, MiB, 32 * MiB, 64 * MiB, 128 * MiB, 256 * MiB, 512 * MiB];

export type IndexCacheConfig =
  | { type: 'IN-MEMORY'; maxSize: number; maxItemSize: number; enabledItems: ItemType[] }
  | { type: 'MEMCACHED'; memcached: Partial<MemcachedOptions> & { addresses: string[] }; enabledItems: ItemType[] };

export class IndexCacheConfigError extends Error {
  constructor(message: string) {
    super(`index cache config: ${message}`);
    this.name = 'IndexCacheConfigError';
  }
}

function checkKeys(o: Record<string, unknown>, known: string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new IndexCacheConfigError(`${where}: unknown field ${JSON.stringify(k)}`);
}

/** Parses the YAML (string or object). defaultSize is --index-cache-size, used when no YAML is given. */
export function parseIndexCacheConfig(input: string | unknown | undefined, defaultSize = 250 * 1024 * 1024): IndexCacheConfig {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (input.trim() === '') raw = undefined;
    else {
      try {
        raw = parseYaml(input);
      } catch (e) {
        throw new IndexCacheConfigError(`not valid YAML: ${(e as Error).message}`);
      }
    }
  }
  if (raw === undefined || raw === null) return { type: 'IN-MEMORY', maxSize: defaultSize, maxItemSize: Math.floor(defaultSize / 2), enabledItems: [...ITEM_TYPES] };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new IndexCacheConfigError('must be a mapping with type and config');
  const o = raw as Record<string, unknown>;
  checkKeys(o, ['type', 'config', 'enabled_items', 'ttl'], 'top level');
  const type = String(o.type ?? '').toUpperCase();
  const enabledRaw = o.enabled_items ?? [];
  if (!Array.isArray(enabledRaw)) throw new IndexCacheConfigError('enabled_items must be a list');
  for (const it of enabledRaw) if (!ITEM_TYPES.includes(it as ItemType)) throw new IndexCacheConfigError(`enabled_items: unsupported item type ${JSON.stringify(it)} (want ${ITEM_TYPES.join(', ')})`);
  const enabledItems = enabledRaw.length ? (enabledRaw as ItemType[]) : [...ITEM_TYPES];
  const c = (o.config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) throw new IndexCacheConfigError('config must be a mapping');
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof IndexCacheConfigError) throw e;
      throw new IndexCacheConfigError((e as Error).message);
    }
  };
  if (type === 'IN-MEMORY' || type === 'INMEMORY') {
    checkKeys(c, ['max_size', 'max_item_size'], 'config');
    const maxSize = c.max_size === undefined ? defaultSize : wrap(() => parseBytes(c.max_size, 'config.max_size'));
    const maxItemSize = c.max_item_size === undefined ? Math.floor(maxSize / 2) : wrap(() => parseBytes(c.max_item_size, 'config.max_item_size'));
    if (maxSize <= 0) throw new IndexCacheConfigError('config.max_size must be > 0');
    if (maxItemSize > maxSize) throw new IndexCacheConfigError(`config.max_item_size (${maxItemSize}) must not exceed config.max_size (${maxSize})`);
    return { type: 'IN-MEMORY', maxSize, maxItemSize, enabledItems };
  }
  if (type === 'MEMCACHED') {
    checkKeys(c, ['addresses', 'timeout', 'max_idle_connections', 'max_async_concurrency', 'max_async_buffer_size', 'max_get_multi_concurrency', 'max_item_size', 'max_get_multi_batch_size', 'dns_provider_update_interval', 'auto_discovery', 'expiration', 'set_async_circuit_breaker_config'], 'config');
    const addrs = c.addresses;
    if (!Array.isArray(addrs) || addrs.length === 0 || addrs.some((a) => typeof a !== 'string')) throw new IndexCacheConfigError('config.addresses: at least one host:port is required');
    for (const a of addrs as string[]) {
      if (a.startsWith('dns+') || a.startsWith('dnssrv+')) throw new IndexCacheConfigError(`config.addresses: DNS service discovery (${a}) is not supported; give host:port`);
      if (!/^.+:\d+$/.test(a)) throw new IndexCacheConfigError(`config.addresses: ${JSON.stringify(a)} must be host:port`);
    }
    const m: Partial<MemcachedOptions> & { addresses: string[] } = { addresses: addrs as string[] };
    if (c.timeout !== undefined) m.timeoutMs = wrap(() => goDurationValue(c.timeout, 'config.timeout')); // time.Duration in Thanos's memcached client config
    if (c.max_idle_connections !== undefined) m.maxIdleConnections = Math.min(16, Math.max(1, Number(c.max_idle_connections)));
    if (c.max_async_concurrency !== undefined) m.maxAsyncConcurrency = Math.max(1, Number(c.max_async_concurrency));
    if (c.max_async_buffer_size !== undefined) m.maxAsyncBufferSize = Math.max(1, Number(c.max_async_buffer_size));
    if (c.max_item_size !== undefined) m.maxItemSize = wrap(() => parseBytes(c.max_item_size, 'config.max_item_size'));
    if (c.max_get_multi_batch_size !== undefined) m.maxGetMultiBatchSize = Number(c.max_get_multi_batch_size);
    const ttl = o.ttl ?? c.expiration;
    if (ttl !== undefined) m.expirationSec = Math.round(wrap(() => durationValue(ttl, 'ttl')) / 1000);
    for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && !Number.isFinite(v)) throw new IndexCacheConfigError(`config: ${k} must be a number`);
    return { type: 'MEMCACHED', memcached: m, enabledItems };
  }
  if (type === 'REDIS') throw new IndexCacheConfigError('type REDIS is not supported by this implementation (use IN-MEMORY or MEMCACHED)');
  throw new IndexCacheConfigError(`unknown type ${JSON.stringify(o.type)} (want IN-MEMORY or MEMCACHED)`);
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const enc = new TextEncoder();

/** The item type of a cache key (its one-letter prefix, see IndexCache.key). */
function itemTypeOfKey(key: string): ItemType {
  return key[0] === 'P' ? 'Postings' : key[0] === 'S' ? 'Series' : 'ExpandedPostings';
}

/**
 * Typed index cache over a BytesCache; counts requests and hits per item type, with Thanos's
 * metrics (pkg/store/cache: requests, hits, fetch duration and stored sizes per item type and tenant).
 */
export class IndexCache {
  readonly requests: Record<ItemType, number> = { Postings: 0, ExpandedPostings: 0, Series: 0 };
  readonly hits: Record<ItemType, number> = { Postings: 0, ExpandedPostings: 0, Series: 0 };
  private readonly enabled: Set<ItemType>;
  private mRequests?: Counter;
  private mHits?: Counter;
  private mFetchDuration?: Histogram;
  private mStoredSize?: Histogram;

  constructor(readonly backend: BytesCache, opts: { enabledItems?: ItemType[]; safeKeys?: boolean; metrics?: MetricsLike } = {}) {
    this.enabled = new Set(opts.enabledItems ?? ITEM_TYPES);
    this.safeKeys = opts.safeKeys ?? false;
    const m = opts.metrics;
    if (m) {
      this.mRequests = m.counter('thanos_store_index_cache_requests_total', 'Total number of items requests to the cache.', ['item_type', 'tenant']);
      this.mHits = m.counter('thanos_store_index_cache_hits_total', 'Total number of items requests to the cache that were a hit.', ['item_type', 'tenant']);
      this.mStoredSize = m.histogram('thanos_store_index_cache_stored_data_size_bytes', 'Histogram to track item data size stored in index cache', ['item_type', 'tenant'], STORED_SIZE_BUCKETS);
      this.mFetchDuration = m.histogram('thanos_store_index_cache_fetch_duration_seconds', 'Histogram to track latency to fetch items from index cache', ['item_type', 'tenant'], FETCH_DURATION_BUCKETS);
      // At 0 from the start, as Thanos has them (rate() of a missing series is no rate at all).
      for (const t of ITEM_TYPES) {
        this.mRequests.inc({ item_type: t, tenant: TENANT }, 0);
        this.mHits.inc({ item_type: t, tenant: TENANT }, 0);
      }
    }
  }
  private readonly safeKeys: boolean;

  /** Memcached keys: at most 250 bytes, no spaces or control characters; hash anything else. */
  private key(prefix: string, block: string, rest: string): string {
    const k = `${prefix}:${block}:${rest}`;
    if (!this.safeKeys) return k;
    if (k.length <= 250 && /^[\x21-\x7e]*$/.test(k)) return k;
    return `${prefix}:${block}:h${hex(md5(enc.encode(rest)))}`;
  }

  private async fetch<K>(type: ItemType, block: string, items: readonly K[], keyOf: (k: K) => string): Promise<Map<K, Uint8Array>> {
    const out = new Map<K, Uint8Array>();
    if (!this.enabled.has(type) || items.length === 0) return out;
    const keys = items.map((it) => this.key(type === 'Postings' ? 'P' : type === 'Series' ? 'S' : 'E', block, keyOf(it)));
    const start = performance.now();
    const got = await this.backend.getMulti(keys);
    this.mFetchDuration?.observe((performance.now() - start) / 1000, TYPE_TENANT_LABELS[type]);
    items.forEach((it, i) => {
      const v = got.get(keys[i]!);
      if (v !== undefined) out.set(it, v);
    });
    this.requests[type] += items.length;
    this.hits[type] += out.size;
    this.mRequests?.inc(TYPE_TENANT_LABELS[type], items.length);
    if (out.size) this.mHits?.inc(TYPE_TENANT_LABELS[type], out.size);
    return out;
  }

  /**
   * fetch() answering in item order (undefined = miss), through the backend's getList when it has
   * one: no map of hits per call.
   */
  private fetchList(type: ItemType, block: string, rests: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.counted(type, rests.length, async () => {
      const prefix = type === 'Postings' ? 'P' : type === 'Series' ? 'S' : 'E';
      const keys = rests.map((r) => this.key(prefix, block, r));
      if (this.backend.getList) return this.backend.getList(keys);
      const m = await this.backend.getMulti(keys);
      return keys.map((k) => m.get(k));
    });
  }

  /** fetchList of numeric rests through the backend's getNumList (no key string per item). */
  private fetchNumList(type: ItemType, block: string, nums: ArrayLike<number>): Promise<Array<Uint8Array | undefined>> {
    return this.counted(type, nums.length, () => this.backend.getNumList!(`${type === 'Postings' ? 'P' : type === 'Series' ? 'S' : 'E'}:${block}`, nums));
  }

  /** Runs an in-order lookup of n items, counting its requests, hits and duration. */
  private async counted(type: ItemType, n: number, lookup: () => Promise<Array<Uint8Array | undefined>>): Promise<Array<Uint8Array | undefined>> {
    if (!this.enabled.has(type) || n === 0) return new Array<Uint8Array | undefined>(n).fill(undefined);
    const start = performance.now();
    const got = await lookup();
    this.mFetchDuration?.observe((performance.now() - start) / 1000, TYPE_TENANT_LABELS[type]);
    let hits = 0;
    for (const v of got) if (v !== undefined) hits++;
    this.requests[type] += n;
    this.hits[type] += hits;
    this.mRequests?.inc(TYPE_TENANT_LABELS[type], n);
    if (hits) this.mHits?.inc(TYPE_TENANT_LABELS[type], hits);
    return got;
  }

  private store(type: ItemType, block: string, rest: string, v: Uint8Array): void {
    if (!this.enabled.has(type)) return;
    this.mStoredSize?.observe(v.byteLength, TYPE_TENANT_LABELS[type]);
    this.backend.set(this.key(type === 'Postings' ? 'P' : type === 'Series' ? 'S' : 'E', block, rest), v);
  }

  /** Postings lists keyed by (name, value). */
  fetchPostings(block: string, labels: ReadonlyArray<{ name: string; value: string }>) {
    return this.fetch('Postings', block, labels, (l) => `${l.name}:${l.value}`);
  }
  storePostings(block: string, l: { name: string; value: string }, v: Uint8Array): void {
    this.store('Postings', block, `${l.name}:${l.value}`, v);
  }
  async fetchExpandedPostings(block: string, matchersKey: string): Promise<Uint8Array | undefined> {
    return (await this.fetch('ExpandedPostings', block, [matchersKey], (k) => k)).get(matchersKey);
  }
  storeExpandedPostings(block: string, matchersKey: string, v: Uint8Array): void {
    this.store('ExpandedPostings', block, matchersKey, v);
  }
  fetchSeries(block: string, refs: readonly number[]) {
    return this.fetch('Series', block, refs, (r) => String(r));
  }
  /** Series entries of refs, in refs' order (undefined = miss). */
  fetchSeriesList(block: string, refs: ArrayLike<number>): Promise<Array<Uint8Array | undefined>> {
    if (this.backend.getNumList && !this.safeKeys) return this.fetchNumList('Series', block, refs);
    const rests: string[] = new Array(refs.length);
    for (let i = 0; i < refs.length; i++) rests[i] = String(refs[i]);
    return this.fetchList('Series', block, rests);
  }
  storeSeries(block: string, ref: number, v: Uint8Array): void {
    if (this.backend.setNum && !this.safeKeys) {
      if (!this.enabled.has('Series')) return;
      this.mStoredSize?.observe(v.byteLength, TYPE_TENANT_LABELS.Series);
      this.backend.setNum(`S:${block}`, ref, v);
      return;
    }
    this.store('Series', block, String(ref), v);
  }
  close(): Promise<void> {
    return this.backend.close?.() ?? Promise.resolve();
  }
}

export interface IndexCacheDeps {
  connect?: Connect;
  log?: MemcachedLogger;
  metrics?: MetricsLike;
}

export function createIndexCache(cfg: IndexCacheConfig, deps: IndexCacheDeps = {}): IndexCache {
  if (cfg.type === 'IN-MEMORY') {
    const lru = new InMemoryLru(cfg.maxSize, cfg.maxItemSize);
    if (deps.metrics) instrumentLru(lru, deps.metrics);
    return new IndexCache(lru, { enabledItems: cfg.enabledItems, metrics: deps.metrics });
  }
  if (!deps.connect) throw new IndexCacheConfigError('MEMCACHED needs network access (connect) from the host');
  const client = new MemcachedClient(deps.connect, { ...MEMCACHED_DEFAULTS, ...cfg.memcached }, deps.log);
  return new IndexCache(client, { enabledItems: cfg.enabledItems, safeKeys: true, metrics: deps.metrics });
}

/** Thanos's in-memory index cache metrics (pkg/store/cache/inmemory.go), every item type at 0 from the start. */
function instrumentLru(lru: InMemoryLru, m: Metrics): void {
  const evicted = m.counter('thanos_store_index_cache_items_evicted_total', 'Total number of items that were evicted from the index cache.', ['item_type']);
  const added = m.counter('thanos_store_index_cache_items_added_total', 'Total number of items that were added to the index cache.', ['item_type']);
  const overflowed = m.counter('thanos_store_index_cache_items_overflowed_total', 'Total number of items that could not be added to the cache due to being too big.', ['item_type']);
  const items = m.gauge('thanos_store_index_cache_items', 'Current number of items in the index cache.', ['item_type']);
  const size = m.gauge('thanos_store_index_cache_items_size_bytes', 'Current byte size of items in the index cache.', ['item_type']);
  const total = m.gauge('thanos_store_index_cache_total_size_bytes', 'Current byte size of items (both value and key) in the index cache.', ['item_type']);
  for (const t of ITEM_TYPES) {
    const l = TYPE_LABELS[t];
    evicted.inc(l, 0);
    added.inc(l, 0);
    overflowed.inc(l, 0);
    items.set(0, l);
    size.set(0, l);
    total.set(0, l);
  }
  m.gauge('thanos_store_index_cache_max_size_bytes', 'Maximum number of bytes to be held in the index cache.').set(lru.maxSizeBytes);
  m.gauge('thanos_store_index_cache_max_item_size_bytes', 'Maximum number of bytes for single entry to be held in the index cache.').set(lru.maxItemSizeBytes);
  lru.observer = {
    added(key, valueBytes, keyBytes) {
      const l = TYPE_LABELS[itemTypeOfKey(key)];
      added.inc(l);
      items.inc(l);
      size.inc(l, valueBytes);
      total.inc(l, valueBytes + keyBytes);
    },
    removed(key, valueBytes, keyBytes, wasEvicted) {
      const l = TYPE_LABELS[itemTypeOfKey(key)];
      if (wasEvicted) evicted.inc(l);
      items.dec(l);
      size.dec(l, valueBytes);
      total.dec(l, valueBytes + keyBytes);
    },
    overflowed(key) {
      overflowed.inc(TYPE_LABELS[itemTypeOfKey(key)]);
    },
  };
}

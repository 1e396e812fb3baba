// An in-memory LRU of byte values bounded by total size (keys + values), with a per-item cap.
// Map iteration order is insertion order, so re-inserting on hit makes the first entry the LRU one.

export interface BytesCache {
  /** Looks up many keys; returns the hits. Never throws for a backend failure (those are misses). */
  getMulti(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Optional: looks up many keys, answering in key order (undefined = miss) without building a
   * map of the hits (the store gateway asks for thousands of series entries per Series call).
   */
  getList?(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** Stores a value; may be asynchronous and best-effort. */
  set(key: string, value: Uint8Array): void;
  close?(): Promise<void>;
}

export interface LruObserver {
  added(key: string, valueBytes: number, keyBytes: number): void;
  removed(key: string, valueBytes: number, keyBytes: number, evicted: boolean): void;
  overflowed(key: string): void;
}

export interface LruStats {
  items: number;
  bytes: number;
  evicted: number;
  added: number;
  overflowed: number;
}

/**
 * Values up to this size are copied into shared slabs of SLAB_BYTES instead of keeping an
 * ArrayBuffer each: the store gateway caches hundreds of thousands of ~150-byte series entries, and
 * a buffer of their own (object, backing store, allocator header) costs about as much again as the
 * bytes. A slab is freed by the GC once none of its values is referenced; values given a second
 * chance are copied to the current slab, so old slabs drain in insertion order as eviction proceeds.
 */
const SMALL_VALUE = 1024;
const SLAB_BYTES = 64 * 1024;

/**
 * Byte-bounded cache with CLOCK (second-chance) eviction, an LRU approximation: a hit only sets a
 * flag (no map reordering on the read path); eviction walks from the oldest insertion, giving
 * flagged entries a second chance by moving them to the back.
 */
export class InMemoryLru implements BytesCache {
  private readonly map = new Map<string, { v: Uint8Array; hot: boolean }>();
  private bytes = 0;
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  readonly stats: LruStats = { items: 0, bytes: 0, evicted: 0, added: 0, overflowed: 0 };
  /** Told of every entry added, evicted (or replaced) and refused as too big (the index cache's per-item-type metrics). */
  observer?: LruObserver;

  constructor(readonly maxSizeBytes: number, readonly maxItemSizeBytes: number = Math.floor(maxSizeBytes / 2)) {
    if (!(maxSizeBytes > 0)) throw new Error('index cache: max_size must be > 0');
    if (maxItemSizeBytes > maxSizeBytes) throw new Error(`index cache: max_item_size (${maxItemSizeBytes}) must not exceed max_size (${maxSizeBytes})`);
  }

  private static cost(key: string, value: Uint8Array): number {
    return key.length * 2 + value.byteLength + 48;
  }

  get(key: string): Uint8Array | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    e.hot = true;
    return e.v;
  }

  async getMulti(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const k of keys) {
      const v = this.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  async getList(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.get(keys[i]!);
    return out;
  }

  set(key: string, value: Uint8Array): void {
    const cost = InMemoryLru.cost(key, value);
    if (cost > this.maxItemSizeBytes) {
      this.stats.overflowed++;
      this.observer?.overflowed(key);
      return;
    }
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytes -= InMemoryLru.cost(key, old.v);
      this.observer?.removed(key, old.v.byteLength, key.length, false);
    }
    let evicted = 0;
    let spins = 0;
    while (this.bytes + cost > this.maxSizeBytes && this.map.size > 0) {
      const [k, e] = this.map.entries().next().value as [string, { v: Uint8Array; hot: boolean }];
      this.map.delete(k);
      if (e.hot && spins++ < this.map.size) {
        e.hot = false;
        e.v = this.own(e.v); // out of the old slab, which can then be freed
        this.map.set(k, e); // second chance
        continue;
      }
      this.bytes -= InMemoryLru.cost(k, e.v);
      evicted++;
      this.observer?.removed(k, e.v.byteLength, k.length, true);
    }
    const copy = this.own(value);
    this.map.set(key, { v: copy, hot: false });
    this.bytes += cost;
    this.stats.added++;
    this.stats.evicted += evicted;
    this.stats.items = this.map.size;
    this.stats.bytes = this.bytes;
    this.observer?.added(key, copy.byteLength, key.length);
  }

  /**
   * The cache's own copy of a value: small ones in the current slab; larger ones a buffer of their
   * own (a view into a large response buffer would pin the whole buffer).
   */
  private own(value: Uint8Array): Uint8Array {
    const n = value.byteLength;
    if (n > SMALL_VALUE) return value.byteOffset === 0 && n === value.buffer.byteLength ? value : value.slice();
    if (this.slabUsed + n > this.slab.byteLength) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + n);
    out.set(value);
    this.slabUsed += n;
    return out;
  }

  get size(): number {
    return this.map.size;
  }
  get sizeBytes(): number {
    return this.bytes;
  }
}

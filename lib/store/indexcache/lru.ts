// An in-memory LRU of byte values bounded by total size (keys + values), with a per-item cap.

export interface BytesCache {
  /** Looks up many keys; returns the hits. Never throws for a backend failure (those are misses). */
  getMulti(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Optional: looks up many keys, answering in key order (undefined = miss) without building a
   * map of the hits (the store gateway asks for thousands of series entries per Series call).
   */
  getList?(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** Optional: getList of the keys `${prefix}:${n}` for each n, without building them. */
  getNumList?(prefix: string, nums: ArrayLike<number>): Promise<Array<Uint8Array | undefined>>;
  /** Optional: set(`${prefix}:${n}`, value) without building the key. */
  setNum?(prefix: string, n: number, value: Uint8Array): void;
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
 * ArrayBuffer each: the store gateway caches hundreds of thousands of ~60-byte series entries, and
 * a buffer of their own (object, backing store, allocator header) costs about as much again as the
 * bytes. A slab is dropped (for the GC) once none of its values is live; values given a second
 * chance are copied to the current slab, so old slabs drain in insertion order as eviction proceeds.
 */
const SMALL_VALUE = 1024;
const SLAB_BYTES = 64 * 1024;
const EMPTY_VALUE = new Uint8Array(0);
/** Keys ending in ":<n>" with n below this are kept as numbers (a V8 small integer) under their prefix. */
const MAX_NUM_KEY = 1 << 30;

const LIVE = 1;
const HOT = 2;
/** NumSlotMap key markers (keys are >= 0). */
const EMPTY = -1;
const DELETED = -2;

/**
 * n → slot for the numeric keys of one prefix (0 <= n < MAX_NUM_KEY): open addressing with linear
 * probing in two Int32Arrays. A Map<number, number> entry costs ~30-60 bytes of V8 heap, and a
 * broad Series call caches one series entry per series and block — 240k for 24 blocks of 10k
 * series, 6-13 MiB of live heap that every mark-compact walks and that V8 lets grow by its heap
 * factor before collecting; here 8-16 bytes each, outside the heap.
 */
export class NumSlotMap {
  private keys = new Int32Array(16).fill(EMPTY);
  private vals = new Int32Array(16);
  private mask = 15;
  private n = 0;
  /** Live entries plus deleted markers (what fills probe chains). */
  private filled = 0;

  get size(): number {
    return this.n;
  }

  private static hash(k: number): number {
    return Math.imul(k, 0x9e3779b1) >>> 0;
  }

  /** The index holding k, or -1. */
  private find(k: number): number {
    const keys = this.keys;
    for (let i = NumSlotMap.hash(k) & this.mask; ; i = (i + 1) & this.mask) {
      const x = keys[i]!;
      if (x === k) return i;
      if (x === EMPTY) return -1;
    }
  }

  get(k: number): number | undefined {
    const i = this.find(k);
    return i < 0 ? undefined : this.vals[i]!;
  }

  set(k: number, v: number): void {
    const i = this.find(k);
    if (i >= 0) {
      this.vals[i] = v;
      return;
    }
    if ((this.filled + 1) * 4 > (this.mask + 1) * 3) this.rehash(this.n + 1);
    const keys = this.keys;
    let j = NumSlotMap.hash(k) & this.mask;
    while (keys[j]! >= 0) j = (j + 1) & this.mask;
    if (keys[j] === EMPTY) this.filled++;
    keys[j] = k;
    this.vals[j] = v;
    this.n++;
  }

  delete(k: number): boolean {
    const i = this.find(k);
    if (i < 0) return false;
    this.keys[i] = DELETED;
    this.n--;
    return true;
  }

  /** Rebuilds the table for `want` live entries at most 1/2 full (drops deleted markers). */
  private rehash(want: number): void {
    let cap = 16;
    while (cap < want * 2) cap *= 2;
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Int32Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.filled = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k < 0) continue;
      let j = NumSlotMap.hash(k) & this.mask;
      while (this.keys[j] !== EMPTY) j = (j + 1) & this.mask;
      this.keys[j] = k;
      this.vals[j] = oldVals[i]!;
      this.filled++;
    }
  }
}

/** The position of the ":" before a canonical decimal suffix of key (below MAX_NUM_KEY), or -1. */
function numericSuffix(key: string): number {
  const n = key.length;
  let i = n - 1;
  while (i >= 0 && i >= n - 9) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i--;
  }
  const digits = n - 1 - i;
  if (digits === 0 || i < 0 || key.charCodeAt(i) !== 58 /* : */) return -1;
  if (digits > 1 && key.charCodeAt(i + 1) === 48) return -1; // leading zero: not canonical
  return i;
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * Byte-bounded cache with CLOCK (second-chance) eviction, an LRU approximation: a hit only sets a
 * flag (no map reordering on the read path); eviction walks from the oldest insertion, giving
 * flagged entries a second chance by moving them to the back.
 *
 * Compact layout (a broad Series call caches one entry per series and block, hundreds of
 * thousands): an entry is a slot id into typed arrays (slab, offset, length, flags) instead of an
 * object and a Uint8Array view each; keys of the form "<prefix>:<n>" (series entries) are kept as
 * small integers in a map per prefix instead of a string each; get() makes the view on demand.
 */
export class InMemoryLru implements BytesCache {
  /** String-keyed entries: key → slot. */
  private readonly byKey = new Map<string, number>();
  /** Numeric-keyed entries: one map per prefix (n → slot), and the prefixes by group index. */
  private readonly groups: NumSlotMap[] = [];
  private readonly groupPrefix: string[] = [];
  private readonly groupOf = new Map<string, number>();
  // Per slot.
  private cap = 0;
  private flags = new Uint8Array(0);
  private slabOf = new Int32Array(0); // -1: a large value in `large`
  private offOf = new Int32Array(0);
  private lenOf = new Int32Array(0);
  private groupIdx = new Int32Array(0); // -1: string key in keyOf
  private numOf = new Int32Array(0);
  private keyOf: Array<string | undefined> = [];
  private readonly large = new Map<number, Uint8Array>();
  private readonly freeSlots: number[] = [];
  private used = 0;
  // CLOCK queue of slots (a ring); a removed entry's slot stays in it, dead, until popped.
  private q = new Int32Array(1024);
  private qHead = 0;
  private qLen = 0;
  private dead = 0;
  // Slabs and their live bytes.
  private slabs: Array<Uint8Array | undefined> = [];
  private slabLive: number[] = [];
  private freeSlabIdx: number[] = [];
  private cur = -1;
  private slabUsed = SLAB_BYTES;

  private bytes = 0;
  private live = 0;
  readonly stats: LruStats = { items: 0, bytes: 0, evicted: 0, added: 0, overflowed: 0 };
  /** Told of every entry added, evicted (or replaced) and refused as too big (the index cache's per-item-type metrics). */
  observer?: LruObserver;

  constructor(readonly maxSizeBytes: number, readonly maxItemSizeBytes: number = Math.floor(maxSizeBytes / 2)) {
    if (!(maxSizeBytes > 0)) throw new Error('index cache: max_size must be > 0');
    if (maxItemSizeBytes > maxSizeBytes) throw new Error(`index cache: max_item_size (${maxItemSizeBytes}) must not exceed max_size (${maxSizeBytes})`);
  }

  private static cost(keyLength: number, valueBytes: number): number {
    return keyLength * 2 + valueBytes + 48;
  }

  // --- lookups -------------------------------------------------------------------------------

  private slotOfKey(key: string): number | undefined {
    const c = numericSuffix(key);
    if (c < 0) return this.byKey.get(key);
    const g = this.groupOf.get(key.slice(0, c));
    return g === undefined ? undefined : this.groups[g]!.get(Number(key.slice(c + 1)));
  }

  private view(slot: number): Uint8Array {
    const s = this.slabOf[slot]!;
    if (s < 0) return this.large.get(slot)!;
    const o = this.offOf[slot]!;
    return this.slabs[s]!.subarray(o, o + this.lenOf[slot]!);
  }

  private hit(slot: number | undefined): Uint8Array | undefined {
    if (slot === undefined) return undefined;
    this.flags[slot] |= HOT;
    return this.view(slot);
  }

  get(key: string): Uint8Array | undefined {
    return this.hit(this.slotOfKey(key));
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

  /** Values of "<prefix>:<n>" for each n (undefined = miss), without building the keys. */
  async getNumList(prefix: string, nums: ArrayLike<number>): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = new Array(nums.length);
    const g = this.groupOf.get(prefix);
    const m = g === undefined ? undefined : this.groups[g]!;
    for (let i = 0; i < nums.length; i++) {
      const n = nums[i]!;
      out[i] = n >= 0 && n < MAX_NUM_KEY && Number.isInteger(n) ? (m === undefined ? undefined : this.hit(m.get(n))) : this.get(`${prefix}:${n}`);
    }
    return out;
  }

  // --- stores --------------------------------------------------------------------------------

  set(key: string, value: Uint8Array): void {
    const c = numericSuffix(key);
    if (c < 0) this.put(key, -1, 0, key.length, value);
    else this.put(key.slice(0, c), 0, Number(key.slice(c + 1)), key.length, value);
  }

  /** set(`${prefix}:${n}`, value) without building the key. */
  setNum(prefix: string, n: number, value: Uint8Array): void {
    if (n >= 0 && n < MAX_NUM_KEY && Number.isInteger(n)) this.put(prefix, 0, n, prefix.length + 1 + decimalDigits(n), value);
    else this.set(`${prefix}:${n}`, value);
  }

  /** mode -1: `key` is the whole key; 0: `key` is a prefix and n the number. */
  private put(key: string, mode: number, n: number, keyLength: number, value: Uint8Array): void {
    const cost = InMemoryLru.cost(keyLength, value.byteLength);
    if (cost > this.maxItemSizeBytes) {
      this.stats.overflowed++;
      this.observer?.overflowed(mode < 0 ? key : `${key}:${n}`);
      return;
    }
    let g = -1;
    let m: NumSlotMap | Map<string, number>;
    if (mode < 0) m = this.byKey;
    else {
      g = this.groupOf.get(key) ?? -1;
      if (g < 0) {
        g = this.groups.length;
        this.groups.push(new NumSlotMap());
        this.groupPrefix.push(key);
        this.groupOf.set(key, g);
      }
      m = this.groups[g]!;
    }
    const old = mode < 0 ? this.byKey.get(key) : this.groups[g]!.get(n);
    if (old !== undefined) this.remove(old, false);
    let evicted = 0;
    let spins = 0;
    while (this.bytes + cost > this.maxSizeBytes && this.live > 0) {
      const slot = this.pop();
      if (!(this.flags[slot]! & LIVE)) {
        this.dead--;
        this.freeSlots.push(slot);
        continue;
      }
      if (this.flags[slot]! & HOT && spins++ < this.live) {
        this.flags[slot] = LIVE;
        this.move(slot); // out of the old slab, which can then be dropped
        this.push(slot); // second chance
        continue;
      }
      this.remove(slot, true);
      this.dead--;
      this.freeSlots.push(slot);
      evicted++;
    }
    const slot = this.slot();
    this.flags[slot] = LIVE;
    this.groupIdx[slot] = g;
    this.numOf[slot] = mode < 0 ? 0 : n;
    if (mode < 0) this.keyOf[slot] = key;
    this.store(slot, value);
    if (mode < 0) (m as Map<string, number>).set(key, slot);
    else (m as NumSlotMap).set(n, slot);
    this.push(slot);
    this.live++;
    this.bytes += cost;
    this.stats.added++;
    this.stats.evicted += evicted;
    this.stats.items = this.live;
    this.stats.bytes = this.bytes;
    this.observer?.added(mode < 0 ? key : `${key}:${n}`, value.byteLength, keyLength);
    if (this.dead > 1024 && this.dead > this.live) this.compactQueue();
  }

  private keyLengthOf(slot: number): number {
    const g = this.groupIdx[slot]!;
    return g < 0 ? this.keyOf[slot]!.length : this.groupPrefix[g]!.length + 1 + decimalDigits(this.numOf[slot]!);
  }

  /** Takes a live entry out (its slot stays queued, dead, until popped). */
  private remove(slot: number, evicted: boolean): void {
    const g = this.groupIdx[slot]!;
    const len = this.lenOf[slot]!;
    const keyLength = this.keyLengthOf(slot);
    let key: string | undefined;
    if (g < 0) {
      key = this.keyOf[slot]!;
      this.byKey.delete(key);
      this.keyOf[slot] = undefined;
    } else {
      this.groups[g]!.delete(this.numOf[slot]!);
    }
    this.release(slot);
    this.flags[slot] = 0;
    this.live--;
    this.dead++;
    this.bytes -= InMemoryLru.cost(keyLength, len);
    this.stats.items = this.live;
    this.stats.bytes = this.bytes;
    if (this.observer) this.observer.removed(key ?? `${this.groupPrefix[g]}:${this.numOf[slot]}`, len, keyLength, evicted);
  }

  // --- value storage -------------------------------------------------------------------------

  /**
   * The cache's own copy of a value: small ones in the current slab; larger ones a buffer of their
   * own (a view into a large response buffer would pin the whole buffer).
   */
  private store(slot: number, value: Uint8Array): void {
    const n = value.byteLength;
    this.lenOf[slot] = n;
    // Empty values (an expanded postings list that matched nothing) take no slab space: in a slab
    // they added nothing to its live count, so the slab was dropped under them when its other
    // values went (and with no slab yet, there was none to write into).
    if (n > SMALL_VALUE || n === 0) {
      this.slabOf[slot] = -1;
      this.large.set(slot, n === 0 ? EMPTY_VALUE : value.byteOffset === 0 && n === value.buffer.byteLength ? value : value.slice());
      return;
    }
    if (this.slabUsed + n > SLAB_BYTES) this.newSlab();
    const s = this.cur;
    this.slabs[s]!.set(value, this.slabUsed);
    this.slabOf[slot] = s;
    this.offOf[slot] = this.slabUsed;
    this.slabUsed += n;
    this.slabLive[s]! += n;
  }

  private newSlab(): void {
    const old = this.cur;
    const s = this.freeSlabIdx.pop() ?? this.slabs.length;
    this.slabs[s] = new Uint8Array(SLAB_BYTES);
    this.slabLive[s] = 0;
    this.cur = s;
    this.slabUsed = 0;
    if (old >= 0 && this.slabLive[old] === 0) this.dropSlab(old);
  }

  private dropSlab(s: number): void {
    this.slabs[s] = undefined;
    this.freeSlabIdx.push(s);
  }

  private release(slot: number): void {
    const s = this.slabOf[slot]!;
    if (s < 0) {
      this.large.delete(slot);
      return;
    }
    this.slabLive[s]! -= this.lenOf[slot]!;
    if (this.slabLive[s] === 0 && s !== this.cur) this.dropSlab(s);
  }

  /** Copies a small value into the current slab (a second chance). */
  private move(slot: number): void {
    const s = this.slabOf[slot]!;
    if (s < 0 || s === this.cur) return;
    const v = this.view(slot);
    this.release(slot);
    this.store(slot, v);
  }

  // --- slots and the queue -------------------------------------------------------------------

  private slot(): number {
    const f = this.freeSlots.pop();
    if (f !== undefined) return f;
    if (this.used === this.cap) this.grow();
    return this.used++;
  }

  private grow(): void {
    const cap = Math.max(1024, this.cap * 2);
    const g = <T extends Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.flags = g(this.flags, (n) => new Uint8Array(n));
    this.slabOf = g(this.slabOf, (n) => new Int32Array(n));
    this.offOf = g(this.offOf, (n) => new Int32Array(n));
    this.lenOf = g(this.lenOf, (n) => new Int32Array(n));
    this.groupIdx = g(this.groupIdx, (n) => new Int32Array(n));
    this.numOf = g(this.numOf, (n) => new Int32Array(n));
    this.cap = cap;
  }

  private push(slot: number): void {
    if (this.qLen === this.q.length) {
      const q = new Int32Array(this.q.length * 2);
      for (let i = 0; i < this.qLen; i++) q[i] = this.q[(this.qHead + i) % this.q.length]!;
      this.q = q;
      this.qHead = 0;
    }
    this.q[(this.qHead + this.qLen) % this.q.length] = slot;
    this.qLen++;
  }

  private pop(): number {
    const slot = this.q[this.qHead]!;
    this.qHead = (this.qHead + 1) % this.q.length;
    this.qLen--;
    return slot;
  }

  /** Drops dead slots from the queue (many replaced keys and no evictions to pop them). */
  private compactQueue(): void {
    const n = this.qLen;
    for (let i = 0; i < n; i++) {
      const slot = this.pop();
      if (this.flags[slot]! & LIVE) this.push(slot);
      else this.freeSlots.push(slot);
    }
    this.dead = 0;
  }

  get size(): number {
    return this.live;
  }
  get sizeBytes(): number {
    return this.bytes;
  }
}

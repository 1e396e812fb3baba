// Reusable read buffers for the Series path's chunk reads. A broad Series call reads hundreds of
// MiB of chunk bytes in ranged GETs of up to 4 MiB; with a fresh buffer per GET that memory is
// garbage within milliseconds (the chunks are copied into response frames), yet it is what the
// process's peak RSS is made of until V8 collects it. A ReadLease takes buffers from the store's
// ReadBufferPool for one batch's reads and gives them all back at once, when the consumer is done
// with every chunk that views them (BucketStore.seriesBatches with `transient`: when the request's
// generator is resumed after yielding that batch, i.e. its frames are encoded).
//
// Buffers come in size classes from 4 KiB, four per doubling (at most 25% of a buffer unused); a read larger than MAX_POOLED gets a
// buffer of its own (the lease still tracks it: given back, it is dropped). The pool keeps at most
// maxRetainedBytes of free buffers; what is given back beyond that is left to the garbage collector.

/** Smallest size class (a read's extent is at least one chunk's largest size, ~1-16 KiB). */
const MIN_CLASS = 4 * 1024;
/** Largest pooled size class: a chunk fetch's GET is cut below 4 MiB plus one chunk's extent. */
const MAX_POOLED = 8 * 1024 * 1024;

/** The size class of n: 4 KiB, then four steps per doubling (5, 6, 7, 8 KiB, 10, 12, 14, 16 KiB ...). */
function sizeClass(n: number): number {
  let p = MIN_CLASS;
  while (p * 2 < n) p *= 2;
  if (n <= p) return p;
  const step = p / 4;
  return Math.ceil(n / step) * step;
}

export class ReadBufferPool {
  private readonly free = new Map<number, Uint8Array[]>();
  private retained = 0;
  /** Buffers handed out, and those of them allocated because none of their class was free (for tests). */
  taken = 0;
  allocated = 0;

  constructor(readonly maxRetainedBytes = 32 * 1024 * 1024) {}

  /** A buffer of at least n bytes, not zeroed (a reused one holds an earlier read's bytes). */
  take(n: number): Uint8Array {
    this.taken++;
    if (n > MAX_POOLED) {
      this.allocated++;
      return new Uint8Array(n);
    }
    const size = sizeClass(n);
    const b = this.free.get(size)?.pop();
    if (b) {
      this.retained -= size;
      return b;
    }
    this.allocated++;
    return new Uint8Array(size);
  }

  /** Gives a buffer back (its owner no longer reads or views it). */
  give(b: Uint8Array): void {
    const size = b.length;
    if (size > MAX_POOLED || size !== sizeClass(size) || this.retained + size > this.maxRetainedBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(b);
    this.retained += size;
  }

  /** Bytes of free buffers kept. */
  get retainedBytes(): number {
    return this.retained;
  }
}

/** The buffers one batch's reads took, given back together. */
export class ReadLease {
  private bufs: Uint8Array[] = [];
  constructor(private readonly pool: ReadBufferPool) {}

  /** n bytes to read into (a view of a pooled buffer), owned by this lease until release(). */
  take(n: number): Uint8Array {
    const b = this.pool.take(n);
    this.bufs.push(b);
    return b.subarray(0, n);
  }

  /** Gives every buffer back: nothing may read a chunk viewing them afterwards. */
  release(): void {
    const bufs = this.bufs;
    this.bufs = [];
    for (const b of bufs) this.pool.give(b);
  }
}

// Merging sorted Series streams: a k-way heap merge by labels, identical series merged (chunks
// sorted by min time, exact duplicates dropped), and helpers for chunk ordering.
import { compareLabels, labelsEqual } from '../labels/mod.ts';
import type { AggrChunk, Chunk, Series } from '../proto/store.ts';

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function chunkEqual(a: Chunk | undefined, b: Chunk | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.type === b.type && bytesEqual(a.data, b.data);
}

/** Exact equality of two AggrChunks (time range and every aggregate's bytes). */
export function aggrChunkEqual(a: AggrChunk, b: AggrChunk): boolean {
  return (
    a.minTime === b.minTime && a.maxTime === b.maxTime && chunkEqual(a.raw, b.raw) && chunkEqual(a.count, b.count) &&
    chunkEqual(a.sum, b.sum) && chunkEqual(a.min, b.min) && chunkEqual(a.max, b.max) && chunkEqual(a.counter, b.counter)
  );
}

export function compareAggrChunks(a: AggrChunk, b: AggrChunk): number {
  return a.minTime - b.minTime || a.maxTime - b.maxTime;
}

/** True when chunks are sorted by (minTime, maxTime). */
export function chunksSorted(cs: readonly AggrChunk[]): boolean {
  for (let i = 1; i < cs.length; i++) if (compareAggrChunks(cs[i - 1]!, cs[i]!) > 0) return false;
  return true;
}

/**
 * Merges the chunk lists of several copies of one series: sorted by min time (then max time),
 * exact duplicates dropped. Inputs are left untouched.
 */
export function mergeChunkLists(lists: readonly (readonly AggrChunk[])[]): AggrChunk[] {
  if (lists.length === 1) return chunksSorted(lists[0]!) ? lists[0]!.slice() : lists[0]!.slice().sort(compareAggrChunks);
  const all: AggrChunk[] = [];
  for (const l of lists) for (const c of l) all.push(c);
  all.sort(compareAggrChunks);
  const out: AggrChunk[] = [];
  for (const c of all) {
    // duplicates share (minTime, maxTime), so they are adjacent within that run
    let dup = false;
    for (let j = out.length - 1; j >= 0; j--) {
      const o = out[j]!;
      if (o.minTime !== c.minTime || o.maxTime !== c.maxTime) break;
      if (aggrChunkEqual(o, c)) {
        dup = true;
        break;
      }
    }
    if (!dup) out.push(c);
  }
  return out;
}

/** A min-heap of cursors keyed by labels (ties broken by insertion order for stability). */
export class SeriesHeap<T extends { head: Series; order: number }> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  private less(a: T, b: T): boolean {
    const c = compareLabels(a.head.labels, b.head.labels);
    return c < 0 || (c === 0 && a.order < b.order);
  }

  push(x: T): void {
    const it = this.items;
    it.push(x);
    let i = it.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(it[i]!, it[p]!)) break;
      [it[i], it[p]] = [it[p]!, it[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const it = this.items;
    if (it.length === 0) return undefined;
    const top = it[0]!;
    const last = it.pop()!;
    if (it.length > 0) {
      it[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < it.length && this.less(it[l]!, it[m]!)) m = l;
        if (r < it.length && this.less(it[r]!, it[m]!)) m = r;
        if (m === i) break;
        [it[i], it[m]] = [it[m]!, it[i]!];
        i = m;
      }
    }
    return top;
  }
}

type Cursor = { head: Series; order: number; buf: readonly Series[]; idx: number; it: AsyncIterator<readonly Series[]> };

/** Moves a cursor to its next series; false when its input is exhausted. */
async function pull(c: Cursor): Promise<boolean> {
  for (;;) {
    const r = await c.it.next();
    if (r.done) return false;
    if (r.value.length === 0) continue;
    c.buf = r.value;
    c.idx = 0;
    c.head = r.value[0]!;
    return true;
  }
}

/**
 * Merges already sorted inputs (each yielding batches of series) into one sorted stream of
 * batches; series with identical labels are merged into one (chunks via mergeChunkLists), also
 * when an input continues a series in its next frame. Holds one batch per input at a time, and
 * only awaits an input when its batch is used up; output batches are flushed before any await,
 * so nothing that is ready waits behind a slow store.
 */
export async function* mergeSortedBatches(inputs: AsyncIterable<readonly Series[]>[], maxOut = 256): AsyncGenerator<Series[]> {
  if (inputs.length === 1) {
    yield* mergeOneInput(inputs[0]!, maxOut);
    return;
  }
  const heap = new SeriesHeap<Cursor>();
  const iters = inputs.map((x) => x[Symbol.asyncIterator]());
  try {
    const cursors = iters.map((it, i): Cursor => ({ head: undefined as unknown as Series, order: i, buf: [], idx: 0, it }));
    const firsts = await Promise.all(cursors.map(pull));
    firsts.forEach((ok, i) => ok && heap.push(cursors[i]!));
    let out: Series[] = [];
    const waiting: Cursor[] = [];
    // Advances c: synchronously within its batch, else queues it for an async pull.
    const step = (c: Cursor) => {
      if (c.idx + 1 < c.buf.length) {
        c.idx++;
        c.head = c.buf[c.idx]!;
        heap.push(c);
      } else waiting.push(c);
    };
    const refill = async () => {
      if (waiting.length === 0) return;
      const ws = waiting.splice(0);
      const oks = await Promise.all(ws.map(pull));
      oks.forEach((ok, i) => ok && heap.push(ws[i]!));
    };
    while (heap.size > 0 || waiting.length > 0) {
      if (waiting.length > 0) {
        if (out.length > 0) {
          yield out;
          out = [];
        }
        await refill();
        continue;
      }
      const top = heap.pop()!;
      const labels = top.head.labels; // top.head moves on below
      const group: Series[] = [top.head];
      step(top);
      for (;;) {
        while (heap.size > 0 && labelsEqual(heap.peek()!.head.labels, labels)) {
          const c = heap.pop()!;
          group.push(c.head);
          step(c);
        }
        // an input whose batch ended may continue the same series in its next frame
        if (waiting.length === 0) break;
        if (out.length > 0) {
          yield out;
          out = [];
        }
        await refill();
      }
      out.push(group.length === 1 ? group[0]! : { labels, chunks: mergeChunkLists(group.map((x) => x.chunks)) });
      if (out.length >= maxOut) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    // Not awaited: an input blocked in next() finishes once its own signal aborts (the caller's job).
    for (const it of iters) it.return?.()?.catch(() => {});
  }
}

/**
 * mergeSortedBatches of one input (a querier over one store): its batches as they come, without
 * the heap; neighbours with identical labels (a series continued in the next frame) merged into
 * one as the heap merge does. The last series of a batch waits for the next batch (it may go on
 * there), as the heap merge waits for the input's next batch before closing a group.
 */
async function* mergeOneInput(input: AsyncIterable<readonly Series[]>, maxOut: number): AsyncGenerator<Series[]> {
  const it = input[Symbol.asyncIterator]();
  try {
    /** The series being read (it may continue), and the copies of it read after the first. */
    let cur: Series | undefined;
    let more: Series[] | undefined;
    const close = (): Series => (more === undefined ? cur! : { labels: cur!.labels, chunks: mergeChunkLists([cur!, ...more].map((x) => x.chunks)) });
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const b = r.value;
      let out: Series[] = [];
      for (let i = 0; i < b.length; i++) {
        const s = b[i]!;
        if (cur !== undefined && labelsEqual(s.labels, cur.labels)) {
          (more ??= []).push(s);
          continue;
        }
        if (cur !== undefined) {
          out.push(close());
          if (out.length >= maxOut) {
            yield out;
            out = [];
          }
        }
        cur = s;
        more = undefined;
      }
      if (out.length > 0) yield out;
    }
    if (cur !== undefined) yield [close()];
  } finally {
    // Not awaited, as mergeSortedBatches does not.
    it.return?.()?.catch(() => {});
  }
}

/** mergeSortedBatches over inputs yielding one series at a time, yielding one series at a time. */
export async function* mergeSortedSeries(inputs: AsyncIterable<Series>[]): AsyncGenerator<Series> {
  async function* one(x: AsyncIterable<Series>): AsyncGenerator<Series[]> {
    for await (const s of x) yield [s];
  }
  for await (const b of mergeSortedBatches(inputs.map(one))) yield* b;
}

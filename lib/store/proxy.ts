// The proxy: fans a StoreAPI request out to many stores, pruned by time range and external labels,
// and merges their sorted Series streams with a k-way heap merge (one series per store held at a
// time, never whole responses). Identical series from different stores are merged: chunks sorted
// by min time, exact duplicate chunks dropped. Partial response: WARN turns a failing store into a
// warning frame, ABORT fails the request. The proxy is itself a StoreServer, so queriers stack.
import { GrpcError, GrpcStatus } from '../sdk/mod.ts';
import { compareLabels, compareStrings, compileMatcher, labelsEqual, MatcherError, type CompiledMatcher, type Matcher } from '../labels/mod.ts';
import {
  effectiveStrategy, PartialResponseStrategy, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest,
  type LabelValuesResponse, type Series, type SeriesRequest, type SeriesResponse, type ShardInfo,
} from '../proto/store.ts';
import type { StoreServer, StoreTarget } from './api.ts';
import { shardMatcher } from './shard.ts';
import { mergeChunkLists, mergeSortedBatches } from './merge.ts';

export interface ProxyOptions {
  /**
   * --store.response-timeout: a store that sends nothing for this long (waiting for its next frame,
   * or for a label answer) is cancelled; WARN makes it a warning, ABORT fails the request. 0 = off.
   */
  responseTimeoutMs?: number;
}

export const NO_STORES_MATCHED = 'No StoreAPIs matched for this query';

/** Thanos LabelSetsMatch: a store matches if any label set has no conflicting matcher (no sets = match). */
export function labelSetsMatch(ms: readonly CompiledMatcher[], sets: StoreTarget['labelSets']): boolean {
  if (sets.length === 0) return true;
  outer: for (const ls of sets) {
    for (const m of ms) {
      for (const l of ls) {
        if (l.name === m.name) {
          if (!m.matches(l.value)) continue outer;
          break;
        }
      }
    }
    return true;
  }
  return false;
}

export function compileMatchers(ms: readonly Matcher[]): CompiledMatcher[] {
  try {
    return ms.map(compileMatcher);
  } catch (e) {
    if (e instanceof MatcherError) throw new GrpcError(GrpcStatus.InvalidArgument, e.message);
    throw e;
  }
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class ResponseTimeout extends Error {
  constructor(ms: number) {
    super(`no response within ${ms}ms (store response timeout)`);
    this.name = 'ResponseTimeout';
  }
}

/** Races p against a timer; on timeout aborts ctl and rejects. */
function withTimeout<T>(p: Promise<T>, ms: number, ctl: AbortController): Promise<T> {
  if (!(ms > 0)) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new ResponseTimeout(ms);
      ctl.abort(err);
      reject(err);
    }, ms);
  });
  p.catch(() => {}); // the loser's rejection is expected after a timeout
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * A child scope of parent: aborting ctl aborts only the child; parent aborts reach it as well.
 * AbortSignal.any keeps no listener on the parent, so fanning out to many stores does not pile
 * listeners onto one signal.
 */
function child(parent: AbortSignal): { ctl: AbortController; signal: AbortSignal } {
  const ctl = new AbortController();
  return { ctl, signal: AbortSignal.any([parent, ctl.signal]) };
}

async function* stripAndSort(src: AsyncIterable<readonly Series[]>, drop: readonly string[]): AsyncGenerator<readonly Series[]> {
  const names = new Set(drop);
  const all: Series[] = [];
  for await (const b of src) for (const s of b) all.push({ labels: s.labels.filter((l) => !names.has(l.name)), chunks: s.chunks });
  all.sort((a, b) => compareLabels(a.labels, b.labels));
  for (let i = 0; i < all.length; ) {
    let j = i + 1;
    while (j < all.length && labelsEqual(all[j]!.labels, all[i]!.labels)) j++;
    yield [j === i + 1 ? all[i]! : { labels: all[i]!.labels, chunks: mergeChunkLists(all.slice(i, j).map((x) => x.chunks)) }];
    i = j;
  }
}

export class ProxyStore implements StoreServer {
  constructor(
    private readonly targets: () => readonly StoreTarget[],
    private readonly opts: ProxyOptions = {},
  ) {}

  /** Stores whose advertised range intersects [mint, maxt] and whose external labels can match. */
  select(mint: number, maxt: number, ms: readonly CompiledMatcher[], checkTime = true): StoreTarget[] {
    return this.targets().filter((t) => (!checkTime || (t.maxTime >= mint && t.minTime <= maxt)) && labelSetsMatch(ms, t.labelSets));
  }

  async *series(req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
    const strategy = effectiveStrategy(req);
    const ms = compileMatchers(req.matchers);
    const targets = this.select(req.minTime, req.maxTime, ms);
    if (targets.length === 0) {
      if (strategy === PartialResponseStrategy.ABORT) throw new GrpcError(GrpcStatus.Unknown, NO_STORES_MATCHED);
      return;
    }
    const { ctl, signal: reqSignal } = child(signal);
    const warnings: string[] = [];
    const inputs = targets.map((t) => {
      let src = this.storeSeries(t, req, reqSignal, strategy, warnings);
      // Thanos's proxy applies shard_info itself for a store that does not advertise supports_sharding.
      if (req.shardInfo && t.supportsSharding !== true) src = shardBatches(src, req.shardInfo);
      // A store that cannot drop replica labels itself (older Thanos) streams in the wrong order for
      // the merge: its response is buffered, stripped and re-sorted here, as Thanos's eager response set does.
      return req.withoutReplicaLabels.length > 0 && t.supportsWithoutReplicaLabels === false ? stripAndSort(src, req.withoutReplicaLabels) : src;
    });
    let count = 0;
    try {
      for await (let b of mergeSortedBatches(inputs)) {
        signal.throwIfAborted();
        while (warnings.length > 0) yield { type: 'warning', warning: warnings.shift()! };
        if (req.limit > 0) {
          if (count >= req.limit) break;
          if (count + b.length > req.limit) b = b.slice(0, req.limit - count);
        }
        count += b.length;
        // merged series travel in batches; the gRPC server helper re-frames them per the client's response_batch_size
        yield b.length === 1 ? { type: 'series', series: b[0]! } : { type: 'batch', batch: b };
      }
      // stores end quietly when the request is cancelled: never pass a cut-off stream as complete
      signal.throwIfAborted();
      while (warnings.length > 0) yield { type: 'warning', warning: warnings.shift()! };
    } finally {
      ctl.abort(new Error('proxy series request finished'));
    }
  }

  private async *storeSeries(t: StoreTarget, req: SeriesRequest, parent: AbortSignal, strategy: number, warnings: string[]): AsyncGenerator<readonly Series[]> {
    const { ctl, signal: storeSignal } = child(parent);
    let it: AsyncIterator<SeriesResponse> | undefined;
    try {
      for (;;) {
        let r: IteratorResult<SeriesResponse>;
        try {
          // created here so that a store failing synchronously is handled like any other failure
          it ??= t.store.series(req, storeSignal)[Symbol.asyncIterator]();
          r = await withTimeout(it.next(), this.opts.responseTimeoutMs ?? 0, ctl);
        } catch (e) {
          if (parent.aborted) return; // the whole request ended; not this store's fault
          const msg = `fetch series for ${t.name}: ${errMessage(e)}`;
          if (strategy === PartialResponseStrategy.ABORT) {
            throw new GrpcError(e instanceof GrpcError ? e.code : e instanceof ResponseTimeout ? GrpcStatus.DeadlineExceeded : GrpcStatus.Aborted, msg);
          }
          warnings.push(msg);
          return;
        }
        if (r.done) return;
        const m = r.value;
        switch (m.type) {
          case 'series':
            yield [m.series];
            break;
          case 'batch':
            yield m.batch;
            break;
          case 'warning':
            if (strategy === PartialResponseStrategy.ABORT) throw new GrpcError(GrpcStatus.Aborted, `${t.name}: ${m.warning}`);
            warnings.push(m.warning);
            break;
          case 'hints':
            break; // per-store hints are not forwarded by the proxy
        }
      }
    } finally {
      ctl.abort(new Error('store stream closed'));
      it?.return?.()?.catch(() => {});
    }
  }

  private async fanOut<T>(
    what: string,
    targets: StoreTarget[],
    strategy: number,
    signal: AbortSignal,
    call: (t: StoreTarget, s: AbortSignal) => Promise<T>,
  ): Promise<{ results: T[]; warnings: string[] }> {
    const { ctl, signal: reqSignal } = child(signal);
    try {
      const settled = await Promise.allSettled(
        targets.map((t) => {
          const sub = child(reqSignal);
          return withTimeout(Promise.resolve().then(() => call(t, sub.signal)), this.opts.responseTimeoutMs ?? 0, sub.ctl);
        }),
      );
      signal.throwIfAborted();
      const results: T[] = [];
      const warnings: string[] = [];
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') results.push(s.value);
        else {
          const msg = `fetch ${what} for ${targets[i]!.name}: ${errMessage(s.reason)}`;
          if (strategy === PartialResponseStrategy.ABORT) {
            throw new GrpcError(s.reason instanceof GrpcError ? s.reason.code : GrpcStatus.Aborted, msg);
          }
          warnings.push(msg);
        }
      });
      return { results, warnings };
    } finally {
      ctl.abort();
    }
  }

  async labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse> {
    const strategy = effectiveStrategy(req);
    const ms = compileMatchers(req.matchers);
    const targets = this.select(req.start, req.end, ms, !(req.start === 0 && req.end === 0));
    if (targets.length === 0 && strategy === PartialResponseStrategy.ABORT) throw new GrpcError(GrpcStatus.Unknown, NO_STORES_MATCHED);
    const { results, warnings } = await this.fanOut('labels', targets, strategy, signal, (t, s) => t.store.labelNames(req, s));
    const set = new Set<string>();
    for (const r of results) {
      for (const n of r.names) set.add(n);
      warnings.push(...r.warnings);
    }
    let names = [...set].sort(compareStrings);
    if (req.limit > 0 && names.length > req.limit) names = names.slice(0, req.limit);
    return { names, warnings };
  }

  async labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse> {
    const strategy = effectiveStrategy(req);
    const ms = compileMatchers(req.matchers);
    const targets = this.select(req.start, req.end, ms, !(req.start === 0 && req.end === 0));
    if (targets.length === 0 && strategy === PartialResponseStrategy.ABORT) throw new GrpcError(GrpcStatus.Unknown, NO_STORES_MATCHED);
    const { results, warnings } = await this.fanOut('label values', targets, strategy, signal, (t, s) => t.store.labelValues(req, s));
    const set = new Set<string>();
    for (const r of results) {
      for (const v of r.values) set.add(v);
      warnings.push(...r.warnings);
    }
    let values = [...set].sort(compareStrings);
    if (req.limit > 0 && values.length > req.limit) values = values.slice(0, req.limit);
    return { values, warnings };
  }
}

async function* shardBatches(src: AsyncIterable<readonly Series[]>, info: ShardInfo): AsyncGenerator<readonly Series[]> {
  const matches = shardMatcher(info);
  if (!matches) return yield* src;
  for await (const b of src) {
    const kept = b.filter((s) => matches(s.labels));
    if (kept.length > 0) yield kept;
  }
}

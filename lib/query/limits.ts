// Thanos's limitedStoreServer (--store.limits.request-series, --store.limits.request-samples) for the
// querier: a Series stream is counted as it arrives and fails as soon as it goes over a limit, so a
// selection that matches too much stops before the querier has gathered it all in memory. As in
// Thanos the samples limit is a chunks limit, every chunk counted as 120 samples.
import { GrpcError, GrpcStatus, type Counter } from '../sdk/mod.ts';
import type { LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, SeriesRequest, SeriesResponse, StoreServer } from '../store/api.ts';

/** Thanos's store.MaxSamplesPerChunk. */
export const MAX_SAMPLES_PER_CHUNK = 120;

export interface SeriesSelectLimits {
  /** 0: no limit. */
  seriesPerRequest: number;
  /** 0: no limit. */
  samplesPerRequest: number;
}

export class LimitedStore implements StoreServer {
  /** `dropped`: thanos_store_selects_dropped_total{reason} (counted once per failed request and reason). */
  constructor(private readonly inner: StoreServer, private readonly limits: SeriesSelectLimits, private readonly dropped?: Counter) {}

  series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
    const { seriesPerRequest, samplesPerRequest } = this.limits;
    // No limits (the default): the inner stream as it is. A `yield*` layer here cost every frame of
    // every Series fan-out two more promise hops.
    if (seriesPerRequest <= 0 && samplesPerRequest <= 0) return this.inner.series(req, signal);
    return this.limitedSeries(req, signal);
  }

  private async *limitedSeries(req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
    const { seriesPerRequest, samplesPerRequest } = this.limits;
    let series = 0;
    let samples = 0;
    for await (const r of this.inner.series(req, signal)) {
      if (r.type === 'series' || r.type === 'batch') {
        const list = r.type === 'series' ? [r.series] : r.batch;
        series += list.length;
        for (const s of list) samples += s.chunks.length * MAX_SAMPLES_PER_CHUNK;
        if (seriesPerRequest > 0 && series > seriesPerRequest) {
          this.dropped?.inc({ reason: 'series' });
          throw new GrpcError(GrpcStatus.ResourceExhausted, `failed to send series: limit ${seriesPerRequest} violated (got ${series})`);
        }
        if (samplesPerRequest > 0 && samples > samplesPerRequest) {
          this.dropped?.inc({ reason: 'chunks' });
          throw new GrpcError(GrpcStatus.ResourceExhausted, `failed to send samples: limit ${samplesPerRequest} violated (got ${samples})`);
        }
      }
      yield r;
    }
  }

  labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse> {
    return this.inner.labelNames(req, signal);
  }

  labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse> {
    return this.inner.labelValues(req, signal);
  }
}

/**
 * A per-query memory budget (--query.max-memory, our extension: Thanos and Prometheus bound a
 * query only by counts, --query.max-samples and --store.limits.request-*). It counts, in bytes,
 * what a query holds: the series and chunks it has gathered from the stores (as they arrive, so a
 * selection that matches too much stops reading instead of growing) and the samples they decode to.
 * Going over fails the query with a ResourceExhausted error naming the flag.
 */
export class QueryMemoryBudget {
  /** Bytes counted so far. */
  used = 0;

  /** maxBytes > 0. */
  constructor(readonly maxBytes: number) {}

  /** Counts bytes; throws once the query holds more than the budget. */
  add(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.maxBytes) {
      throw new GrpcError(GrpcStatus.ResourceExhausted, `query exceeds its memory budget (--query.max-memory=${this.maxBytes} bytes) while ${what}: ${this.used} bytes held`);
    }
  }

  /** Uncounts bytes the query no longer holds (e.g. chunks once decoded). */
  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** Approximate bytes a selected series holds in the querier: its label strings, chunk bytes and objects. */
export function seriesBytes(labels: ReadonlyArray<{ name: string; value: string }>, chunks: ReadonlyArray<{ raw?: { data: Uint8Array }; count?: { data: Uint8Array }; sum?: { data: Uint8Array }; min?: { data: Uint8Array }; max?: { data: Uint8Array }; counter?: { data: Uint8Array } }>): number {
  let n = 64;
  for (const l of labels) n += 48 + 2 * (l.name.length + l.value.length);
  for (const c of chunks) {
    n += 64;
    for (const d of [c.raw, c.count, c.sum, c.min, c.max, c.counter]) if (d) n += 48 + d.data.length;
  }
  return n;
}

/**
 * Approximate bytes decoded samples hold: 16 a sample (t, v), plus each native histogram object
 * (its fields, bucket counts and spans), which is much larger than a float sample.
 */
export function samplesBytes(s: { n: number; h?: ReadonlyArray<{ positiveBuckets: readonly number[]; negativeBuckets: readonly number[]; positiveSpans: readonly unknown[]; negativeSpans: readonly unknown[]; customValues: readonly number[] } | undefined> }): number {
  let n = s.n * 16;
  if (s.h) {
    for (const h of s.h) {
      if (!h) continue;
      n += 160 + 8 * (h.positiveBuckets.length + h.negativeBuckets.length + h.customValues.length) + 40 * (h.positiveSpans.length + h.negativeSpans.length);
    }
  }
  return n;
}

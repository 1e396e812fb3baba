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

  async *series(req: SeriesRequest, signal: AbortSignal): AsyncGenerator<SeriesResponse> {
    const { seriesPerRequest, samplesPerRequest } = this.limits;
    if (seriesPerRequest <= 0 && samplesPerRequest <= 0) {
      yield* this.inner.series(req, signal);
      return;
    }
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

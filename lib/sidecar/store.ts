// The sidecar's StoreAPI: Series over Prometheus remote read (STREAMED_XOR_CHUNKS; chunks are passed
// through as Prometheus encoded them, XOR and native histogram chunks alike, with Prometheus's chunk
// encoding numbers turned into thanos.Chunk's), label names/values over the HTTP API, external labels attached to
// every series (and overriding same-named series labels), as Thanos's pkg/store/prometheus.go does.
//
// Matchers on external labels are answered locally: one that does not match the external value
// gives an empty result; one that does is dropped before asking Prometheus. A request whose only
// matchers were on external labels is InvalidArgument (Prometheus needs at least one).
//
// Ordering: Prometheus sorts series by their own labels and appends the external labels after
// sorting, which can break the label order the StoreAPI promises (e.g. {a="1"} < {a="1",b="1"} but
// with external label c: {a="1",b="1",c} < {a="1",c}). The series of one response are therefore
// collected (chunks stay as views into the received frames) and sorted before they are streamed out;
// a series Prometheus split across frames is joined again.
import { GrpcError, GrpcStatus, type Core } from '../sdk/mod.ts';
import { compareLabels, compareStrings, compileMatcher, type Label, type Matcher } from '../labels/mod.ts';
import type { StoreServer } from '../store/api.ts';
import {
  ChunkEncoding, type AggrChunk, type LabelNamesRequest, type LabelNamesResponse, type LabelValuesRequest, type LabelValuesResponse,
  type Series, type SeriesRequest, type SeriesResponse,
} from '../proto/store.ts';
import { PromChunkEncoding, type ReadHints, type TimeSeries } from '../proto/prompb.ts';
import { ENC_FLOAT_HISTOGRAM } from '../tsdb/chunks.ts';
import { encodeHistogramRun, headHistogramFromPrompb, type HeadHistogram } from '../tsdb/head/histogram.ts';
import { PromClient, PromError } from './promclient.ts';

/** Thanos re-chunks SAMPLES responses at this many samples per XOR chunk. */
export const MAX_SAMPLES_PER_CHUNK = 120;

export interface PromStoreOptions {
  client: PromClient;
  core: Core;
  /** Current external labels (refreshed by the heartbeat). */
  externalLabels: () => Record<string, string>;
  /** --store.limits.request-series / request-samples (0 = no limit). */
  seriesLimit?: number;
  samplesLimit?: number;
  /** The advertised min time (max of --min-time and Prometheus's oldest sample): Series never asks for less. */
  minTime?: () => number;
}

/** Splits matchers into those Prometheus must see; null when one on an external label fails. */
export function matchersWithoutExternal(ms: readonly Matcher[], ext: Record<string, string>): Matcher[] | null {
  const out: Matcher[] = [];
  for (const m of ms) {
    if (Object.prototype.hasOwnProperty.call(ext, m.name)) {
      if (!compileMatcher(m).matches(ext[m.name]!)) return null;
      continue;
    }
    out.push(m);
  }
  return out;
}

/**
 * Series labels with the external labels added (overriding same-named ones), sorted by name.
 * `allExt` are all external label names (Prometheus's remote read already appends them, so they are
 * removed from the series first); `ext` is what to add back (allExt minus without_replica_labels).
 */
export function withExternalLabels(ls: readonly Label[], allExt: Record<string, string>, ext: Record<string, string> = allExt): Label[] {
  const out: Label[] = [];
  for (const l of ls) if (!Object.prototype.hasOwnProperty.call(allExt, l.name)) out.push({ name: l.name, value: l.value });
  for (const [name, value] of Object.entries(ext)) out.push({ name, value });
  return out.sort((a, b) => compareStrings(a.name, b.name));
}

function thanosChunkType(promType: number): number {
  switch (promType) {
    case PromChunkEncoding.XOR:
      return ChunkEncoding.XOR;
    case PromChunkEncoding.HISTOGRAM:
      return ChunkEncoding.HISTOGRAM;
    case PromChunkEncoding.FLOAT_HISTOGRAM:
      return ChunkEncoding.FLOAT_HISTOGRAM;
    default:
      throw new GrpcError(GrpcStatus.Internal, `remote read: unsupported chunk encoding ${promType} from Prometheus`);
  }
}

function promFailure(e: unknown): unknown {
  if (e instanceof GrpcError) return e;
  if (e instanceof PromError) {
    const code = e.status === 400 || e.status === 422 ? GrpcStatus.InvalidArgument : GrpcStatus.Unavailable;
    return new GrpcError(code, e.message);
  }
  return e;
}

export class PromStore implements StoreServer {
  constructor(private readonly o: PromStoreOptions) {}

  private ext(without: readonly string[] = [], all = this.o.externalLabels()): Record<string, string> {
    const e = { ...all };
    for (const n of without) delete e[n];
    return e;
  }

  async *series(req: SeriesRequest, signal: AbortSignal): AsyncIterable<SeriesResponse> {
    const allExt = this.o.externalLabels();
    const ms = matchersWithoutExternal(req.matchers, allExt);
    if (ms === null) return;
    if (ms.length === 0) throw new GrpcError(GrpcStatus.InvalidArgument, 'no matchers specified (excluding external labels)');
    const ext = this.ext(req.withoutReplicaLabels, allExt);
    const avail = this.o.minTime?.();
    if (avail !== undefined && Number.isFinite(avail) && req.minTime < avail) {
      // as Thanos: aligned down to the query step so the engine's first step still sees its lookback
      const step = req.queryHints?.stepMillis ?? 0;
      req = { ...req, minTime: step > 0 ? avail - (((avail % step) + step) % step) : avail };
      if (req.minTime > req.maxTime) return;
    }
    let out: Series[];
    try {
      out = req.skipChunks ? await this.seriesOnly(ms, req, allExt, ext, signal) : await this.remoteRead(ms, req, allExt, ext, signal);
    } catch (e) {
      throw promFailure(e);
    }
    const limit = req.limit > 0 ? req.limit : Infinity;
    let n = 0;
    for (const s of out) {
      if (n++ >= limit) break;
      yield { type: 'series', series: s };
    }
  }

  private checkLimits(series: number, chunks: number): void {
    const { seriesLimit = 0, samplesLimit = 0 } = this.o;
    if (seriesLimit > 0 && series > seriesLimit) {
      throw new GrpcError(GrpcStatus.ResourceExhausted, `exceeded series limit: limit ${seriesLimit} violated (got ${series})`);
    }
    // Like Thanos, the samples limit is applied as a chunks limit assuming 120 samples per chunk.
    if (samplesLimit > 0 && chunks * MAX_SAMPLES_PER_CHUNK > samplesLimit) {
      throw new GrpcError(GrpcStatus.ResourceExhausted, `exceeded samples limit: limit ${samplesLimit} violated (got ${chunks * MAX_SAMPLES_PER_CHUNK}, estimated as chunks x ${MAX_SAMPLES_PER_CHUNK})`);
    }
  }

  private async seriesOnly(ms: Matcher[], req: SeriesRequest, allExt: Record<string, string>, ext: Record<string, string>, signal: AbortSignal): Promise<Series[]> {
    const sets = await this.o.client.series(ms, req.minTime, req.maxTime, signal);
    const out = sets.map((rec) => ({ labels: withExternalLabels(Object.entries(rec).map(([name, value]) => ({ name, value })), allExt, ext), chunks: [] as AggrChunk[] }));
    this.checkLimits(out.length, 0);
    return sortSeries(out);
  }

  private async remoteRead(ms: Matcher[], req: SeriesRequest, allExt: Record<string, string>, ext: Record<string, string>, signal: AbortSignal): Promise<Series[]> {
    const qh = req.queryHints;
    const hints: ReadHints = {
      stepMs: qh?.stepMillis ?? 0,
      func: qh?.func?.name ?? '',
      startMs: req.minTime,
      endMs: req.maxTime,
      grouping: qh?.grouping?.labels ?? [],
      by: qh?.grouping?.by ?? false,
      rangeMs: qh?.range?.millis ?? 0,
    };
    const res = await this.o.client.read(ms, req.minTime, req.maxTime, hints, signal);
    const out: Series[] = [];
    let chunks = 0;
    if (res.type === 'streamed') {
      let prevRaw: readonly Label[] | undefined;
      for await (const frame of res.frames) {
        if (signal.aborted) throw new GrpcError(GrpcStatus.Cancelled, 'series request cancelled');
        for (const cs of frame.chunkedSeries) {
          const cks: AggrChunk[] = cs.chunks.map((c) => ({ minTime: c.minTimeMs, maxTime: c.maxTimeMs, raw: { type: thanosChunkType(c.type), data: c.data } }));
          chunks += cks.length;
          // A series continued from the previous frame: same labels, appended chunks.
          if (prevRaw && out.length > 0 && compareLabels(prevRaw, cs.labels) === 0) {
            out[out.length - 1]!.chunks.push(...cks);
          } else {
            out.push({ labels: withExternalLabels(cs.labels, allExt, ext), chunks: cks });
            prevRaw = cs.labels;
          }
          this.checkLimits(out.length, chunks);
        }
      }
    } else {
      for (const r of res.response.results) {
        for (const ts of r.timeseries) {
          const cks = this.chunkSamples(ts);
          chunks += cks.length;
          out.push({ labels: withExternalLabels(ts.labels, allExt, ext), chunks: cks });
          this.checkLimits(out.length, chunks);
        }
      }
    }
    return sortSeries(out);
  }

  /**
   * SAMPLES responses (Prometheus without streamed read): XOR chunks of at most 120 samples; native
   * histograms (the series' `histograms`) as EncHistogram / EncFloatHistogram chunks of at most 120,
   * cut as Prometheus's head cuts them. A series that switched between floats and histograms gives
   * chunks of each kind in time order.
   */
  private chunkSamples(ts: TimeSeries): AggrChunk[] {
    const out: AggrChunk[] = [];
    const hs = ts.histograms ?? [];
    const n = ts.samples.length;
    let i = 0;
    let k = 0;
    while (i < n || k < hs.length) {
      if (k >= hs.length || (i < n && ts.samples[i]!.timestamp < hs[k]!.timestamp)) {
        let j = i;
        const end = k < hs.length ? hs[k]!.timestamp : Infinity;
        while (j < n && j - i < MAX_SAMPLES_PER_CHUNK && ts.samples[j]!.timestamp < end) j++;
        const m = j - i;
        const t = new Float64Array(m);
        const v = new Float64Array(m);
        for (let q = 0; q < m; q++) {
          t[q] = ts.samples[i + q]!.timestamp;
          v[q] = ts.samples[i + q]!.value;
        }
        out.push({ minTime: t[0]!, maxTime: t[m - 1]!, raw: { type: ChunkEncoding.XOR, data: this.o.core.xorEncode(t, v, m) } });
        i = j;
        continue;
      }
      const run: HeadHistogram[] = [];
      const end = i < n ? ts.samples[i]!.timestamp : Infinity;
      while (k < hs.length && run.length < MAX_SAMPLES_PER_CHUNK && (run.length === 0 || hs[k]!.timestamp < end)) {
        const h = headHistogramFromPrompb(hs[k]!);
        if (typeof h === 'string') throw new GrpcError(GrpcStatus.Internal, `remote read: invalid native histogram from Prometheus at ${hs[k]!.timestamp}: ${h}`);
        run.push(h);
        k++;
      }
      for (const c of encodeHistogramRun(this.o.core, run).chunks) {
        out.push({ minTime: c.minTime, maxTime: c.maxTime, raw: { type: c.encoding === ENC_FLOAT_HISTOGRAM ? ChunkEncoding.FLOAT_HISTOGRAM : ChunkEncoding.HISTOGRAM, data: c.data } });
      }
    }
    return out;
  }

  async labelNames(req: LabelNamesRequest, signal: AbortSignal): Promise<LabelNamesResponse> {
    const allExt = this.o.externalLabels();
    const ms = matchersWithoutExternal(req.matchers, allExt);
    if (ms === null) return { names: [], warnings: [] };
    let names: string[];
    try {
      names = await this.o.client.labelNames(ms, req.start, req.end, signal);
    } catch (e) {
      throw promFailure(e);
    }
    if (names.length > 0) {
      const set = new Set(names);
      for (const n of Object.keys(this.ext(req.withoutReplicaLabels, allExt))) set.add(n);
      names = [...set].sort(compareStrings);
    }
    if (req.limit > 0) names = names.slice(0, req.limit);
    return { names, warnings: [] };
  }

  async labelValues(req: LabelValuesRequest, signal: AbortSignal): Promise<LabelValuesResponse> {
    const allExt = this.o.externalLabels();
    const ms = matchersWithoutExternal(req.matchers, allExt);
    if (ms === null) return { values: [], warnings: [] };
    const ext = this.ext(req.withoutReplicaLabels, allExt);
    // External labels win over series labels of the same name.
    if (Object.prototype.hasOwnProperty.call(ext, req.label)) return { values: [ext[req.label]!], warnings: [] };
    if (Object.prototype.hasOwnProperty.call(allExt, req.label)) return { values: [], warnings: [] };
    let values: string[];
    try {
      values = await this.o.client.labelValues(req.label, ms, req.start, req.end, signal);
    } catch (e) {
      throw promFailure(e);
    }
    if (req.limit > 0) values = values.slice(0, req.limit);
    return { values, warnings: [] };
  }
}

function sortSeries(out: Series[]): Series[] {
  for (let i = 1; i < out.length; i++) {
    if (compareLabels(out[i - 1]!.labels, out[i]!.labels) > 0) {
      out.sort((a, b) => compareLabels(a.labels, b.labels));
      break;
    }
  }
  return out;
}

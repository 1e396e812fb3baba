// Where a query's time goes, per request: what the querier waited on the stores' Series streams,
// spent decoding chunks, evaluating and encoding JSON. Asked for with the X-Thanos-Stage-Timings
// request header and answered as a W3C Server-Timing header (our extension, used by
// `npm run bench -- query`; Thanos has neither). Collecting costs a few performance.now() calls.

/** The request header that asks for the stage timings. */
export const STAGE_TIMINGS_HEADER = 'x-thanos-stage-timings';

export class StageTimings {
  /** When the query started (performance.now()). */
  readonly start = performance.now();
  /** Waiting on the Series streams (store work, gRPC, proxy merge), summed over selects. */
  series = 0;
  /** Decoding chunks into samples, trimming, dedup. */
  decode = 0;
  /** PromQL evaluation (the engine's time less the selects'). */
  engine = 0;
  /** Writing the JSON answer (not counted when the answer is streamed). */
  encode = 0;

  /** The Server-Timing header value (ms). */
  serverTiming(): string {
    const f = (n: number) => n.toFixed(2);
    return `series;dur=${f(this.series)}, decode;dur=${f(this.decode)}, engine;dur=${f(this.engine)}, encode;dur=${f(this.encode)}`;
  }
}

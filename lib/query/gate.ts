// A counting semaphore: at most `limit` functions run at once; the rest wait in FIFO order
// (Thanos --query.max-concurrent / --query.max-concurrent-select). Waiting stops when the signal aborts.
// gateMetrics() registers Thanos's pkg/gate instrumentation under a prefix, so one concept (the
// gate and its metric names) has one owner here.
import type { Counter, Gauge, Histogram, Metrics } from '../sdk/mod.ts';
import { doInSpan } from '../tracing/mod.ts';

/** Thanos's pkg/gate OperationName. */
export type GateOperation = 'queries' | 'selects' | 'gets' | 'sets' | 'write_requests';

/** pkg/gate's duration buckets (seconds spent waiting at the gate). */
export const GATE_DURATION_BUCKETS = [0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720];

export interface GateMetrics {
  /** <prefix>gate_<op>_total: every Start, admitted or not. */
  total: Counter;
  /** <prefix>gate_<op>_in_flight: runs holding a slot. */
  inFlight: Gauge;
  /** <prefix>gate_<op>_duration_seconds: time spent waiting for a slot (also when the wait was canceled). */
  duration: Histogram;
}

/**
 * Thanos's gate.New / gate.NewGateFactory metrics: <prefix>gate_<op>_{max,in_flight,total,duration_seconds},
 * e.g. prefix `thanos_query_concurrent_` and op `queries`. Several gates may share them (a factory:
 * the querier's per-query select gates); registering twice returns the same families.
 */
export function gateMetrics(metrics: Metrics, prefix: string, op: GateOperation, limit: number): GateMetrics {
  metrics.gauge(`${prefix}gate_${op}_max`, `Maximum number of concurrent ${op}.`).set(limit);
  return {
    total: metrics.counter(`${prefix}gate_${op}_total`, `Total number of ${op}.`),
    inFlight: metrics.gauge(`${prefix}gate_${op}_in_flight`, `Number of ${op} that are currently in flight.`),
    duration: metrics.histogram(`${prefix}gate_${op}_duration_seconds`, `How many seconds it took for ${op} to wait at the gate.`, [], GATE_DURATION_BUCKETS),
  };
}

export class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * `waitSpan`: the name of a span around the wait for a slot (upstream's tracing.DoInSpan around
   * gate.Start, e.g. the querier's query_gate_ismyturn), so a trace shows time spent queued.
   */
  constructor(readonly limit: number, private readonly metrics?: GateMetrics, private readonly opts: { waitSpan?: string } = {}) {
    if (!(limit >= 1)) throw new RangeError(`gate limit must be >= 1, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  async run<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const span = this.opts.waitSpan;
    if (span) await doInSpan(span, undefined, async () => this.admit(signal));
    else {
      // A free slot is taken and f started synchronously (no await on that path).
      const waiting = this.admit(signal);
      if (waiting) await waiting;
    }
    return this.finish(f);
  }

  /**
   * Takes a slot: at once (undefined) when one is free, else a promise settled in FIFO order when a
   * finishing run hands its slot over (which stays counted in `active`); it rejects, holding no
   * slot, when the signal aborts first.
   */
  private admit(signal?: AbortSignal): Promise<void> | undefined {
    const m = this.metrics;
    m?.total.inc();
    const waitStart = performance.now();
    if (this.active >= this.limit) {
      return new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal!.reason instanceof Error ? signal!.reason : new Error('canceled while waiting for a query slot'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(go);
      }).finally(() => m?.duration.observe((performance.now() - waitStart) / 1000));
    }
    m?.duration.observe((performance.now() - waitStart) / 1000);
    this.active++;
    return undefined;
  }

  private async finish<T>(f: () => Promise<T>): Promise<T> {
    const m = this.metrics;
    m?.inFlight.inc();
    try {
      return await f();
    } finally {
      m?.inFlight.dec();
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

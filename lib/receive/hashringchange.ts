// What an ingesting receiver does with its storage when its hashring is (re)loaded, as upstream's
// startTSDBAndUpload (cmd/thanos/receive.go): the first load, and every change unless
// --receive.hashrings-algorithm is ketama, makes the receiver not ready, flushes every tenant's
// head into blocks up to its newest timestamp (excluded, as upstream's flushHead: that scrape can
// still be completed), uploads them when a bucket is configured, and makes it ready again. A
// hashmod ring moves most series to other nodes when it changes, so the head is cut where the
// ownership changed; a ketama ring moves only the series of added/removed nodes (no churn), so it
// keeps its head. A router-only receiver has no storage: it is just ready.
// Counted in thanos_receive_multi_db_updates_{attempted,completed}_total. Flushes and the periodic
// block cutting run one at a time (`serial`), so a change never races the tick.
import type { Logger, Metrics } from '../sdk/mod.ts';
import type { HashringAlgorithm } from './hashring.ts';

export interface HashringChangeOptions {
  /** --receive.hashrings-algorithm (the global one, as upstream checks). */
  algorithm: HashringAlgorithm;
  /** Whether this receiver stores series (RouterIngestor or IngestorOnly). */
  ingesting: boolean;
  /** Cuts every head into blocks (up to its newest timestamp) and uploads them. */
  flush(): Promise<unknown>;
  setReady(ready: boolean): void;
  /** Runs storage work one at a time (shared with the periodic block cutting). */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  log: Logger;
  metrics: Metrics;
}

/** A queue running its jobs one after another (a failed job does not stop the next). */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

export class HashringChangeHandler {
  private initialized = false;
  private readonly attempted;
  private readonly completed;

  constructor(private readonly o: HashringChangeOptions) {
    this.attempted = o.metrics.counter('thanos_receive_multi_db_updates_attempted_total', 'Number of Multi DB attempted reloads with flush and potential upload due to hashring changes');
    this.completed = o.metrics.counter('thanos_receive_multi_db_updates_completed_total', 'Number of Multi DB completed reloads with flush and potential upload due to hashring changes');
  }

  /** Whether the head is flushed on this change (upstream: always the first time; later unless ketama). */
  private get flushesHead(): boolean {
    return !this.initialized || this.o.algorithm !== 'ketama';
  }

  /**
   * A hashring was loaded (at start) or changed. Resolves when the storage is updated and the
   * receiver ready again; changes are handled one at a time, in order. A failed flush is logged
   * (upstream stops the receiver; here the next tick cuts the head again) and readiness restored.
   */
  changed(): Promise<void> {
    return this.queue(() => this.update());
  }

  private readonly queue = serialQueue();

  private async update(): Promise<void> {
    const { log } = this.o;
    if (!this.o.ingesting) {
      this.o.setReady(true);
      return;
    }
    if (this.flushesHead) {
      const msg = 'hashring has changed; server is not ready to receive requests';
      this.o.setReady(false);
      log.info(msg);
      log.info('updating storage');
      this.attempted.inc();
      try {
        await this.o.serial(() => this.o.flush());
        this.completed.inc();
        log.info('storage started, and server is ready to receive requests');
      } catch (e) {
        log.error('updating storage failed', { err: (e as Error).message });
      } finally {
        this.o.setReady(true);
      }
    }
    this.initialized = true;
  }
}

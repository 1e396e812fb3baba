// The sidecar's view of its Prometheus (Thanos's cmd/thanos/sidecar.go promMetadata): the external
// labels and lowest timestamp it loads and refreshes, the flag check uploads need, and the Info it
// advertises from them.
import { GrpcError, GrpcStatus, type ComponentInfo, type Logger } from '../sdk/mod.ts';
import { MAX_TIME, MIN_TIME } from '../store/api.ts';
import { parseModelDurationFlag, timeOrDurationClock } from '../store/blocksync/timeflags.ts';
import type { PromClient } from './promclient.ts';

export const NO_EXTERNAL_LABELS =
  'no external labels configured on Prometheus server, uniquely identifying external labels must be configured; see https://thanos.io/tip/thanos/storage.md#external-labels for details.';

const TWO_HOURS = 2 * 3600_000;

export interface PromPeerOptions {
  client: PromClient;
  log: Logger;
  /** --min-time: an RFC 3339 time or a duration before now (re-evaluated on every use). */
  minTime: string;
  /** --shipper.ignore-unequal-block-size. */
  ignoreUnequalBlockSize: boolean;
}

export class PromPeer {
  private ext: Record<string, string> = {};
  private labelsLoaded = false;
  private lowest: number | undefined;
  private minTimeAt: ((now?: number) => number) | undefined;

  constructor(private readonly o: PromPeerOptions) {}

  /** Current external labels, a copy (empty until loaded). */
  externalLabels(): Record<string, string> {
    return { ...this.ext };
  }

  /** The loaded external labels (the shipper's and the APIs'); empty until loaded. */
  currentExternalLabels(): Record<string, string> {
    return this.ext;
  }

  /** The external labels, or Unavailable while they are not loaded yet (what the gRPC APIs use). */
  requireExternalLabels(): Record<string, string> {
    if (!this.labelsLoaded) throw new GrpcError(GrpcStatus.Unavailable, 'sidecar is not ready: Prometheus external labels are not loaded yet');
    return this.ext;
  }

  /** --min-time now. */
  minTimeFlag(): number {
    this.minTimeAt ??= timeOrDurationClock(this.o.minTime); // parsed once: asked on every Info and Series
    return this.minTimeAt();
  }

  /** The later of --min-time and Prometheus's lowest timestamp (when known). */
  advertisedMinTime(): number {
    return Math.max(this.minTimeFlag(), this.lowest ?? -Infinity);
  }

  /**
   * Uploads need min-block-duration = max-block-duration (unless ignoreUnequalBlockSize: a
   * warning); a block duration other than 2h is a warning.
   */
  async checkFlags(signal: AbortSignal): Promise<void> {
    const { log } = this.o;
    const flags = await this.o.client.flags(signal);
    const minS = flags['storage.tsdb.min-block-duration'];
    const maxS = flags['storage.tsdb.max-block-duration'];
    if (minS === undefined || maxS === undefined) throw new Error('Prometheus flags do not include storage.tsdb.min-block-duration / max-block-duration');
    const min = parseModelDurationFlag(minS);
    const max = parseModelDurationFlag(maxS);
    if (min !== max) {
      if (!this.o.ignoreUnequalBlockSize) {
        throw new Error(`found that TSDB Max time is ${maxS} and Min time is ${minS}. Compaction needs to be disabled (storage.tsdb.min-block-duration = storage.tsdb.max-block-duration)`);
      }
      log.warn('flag to ignore Prometheus min/max block duration flags differing is being used. If the upload of a 2h block fails and a Prometheus compaction happens that block may be missing from your Thanos bucket storage.');
    }
    if (min !== TWO_HOURS) log.warn('found that TSDB block time is not 2h. Only 2h block time is recommended.', { 'block-time': minS });
  }

  /** Loads external labels and the lowest timestamp; throws when Prometheus cannot be reached. */
  async refresh(signal: AbortSignal): Promise<void> {
    const labels = await this.o.client.externalLabels(signal);
    try {
      this.lowest = await this.o.client.lowestTimestamp(signal);
    } catch (e) {
      this.o.log.warn('failed to get the lowest timestamp from Prometheus; advertising --min-time', { err: (e as Error).message });
    }
    this.ext = labels;
    this.labelsLoaded = true;
  }

  info(): ComponentInfo {
    const minTime = this.advertisedMinTime();
    const labelSets = this.labelsLoaded && Object.keys(this.ext).length > 0 ? [{ ...this.ext }] : [];
    return {
      componentType: 'sidecar',
      labelSets,
      store: {
        minTime, maxTime: MAX_TIME, supportsSharding: true, supportsWithoutReplicaLabels: true,
        tsdbInfos: labelSets.map((labels) => ({ labels, minTime, maxTime: MAX_TIME })),
      },
      // As Thanos's sidecar: the Metadata, Targets, Rules and Exemplars APIs are served from Prometheus's HTTP API.
      metricMetadata: {},
      targets: {},
      rules: {},
      exemplars: { minTime: MIN_TIME, maxTime: MAX_TIME },
    };
  }
}

// The store gateway as a component: the sync loop (initial sync retried until it succeeds, then
// every interval), readiness, cleanup of stale local block state, Info, HTTP and gRPC surfaces over
// a BucketStore. plugins/component/store wires the parts from its config.
import { GrpcError, GrpcStatus, type Bucket, type Component, type FsCapability, type GrpcServices, type Logger } from '../../sdk/mod.ts';
import type {
  LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, SeriesRequest, SeriesResponse,
} from '../../proto/store.ts';
import { markTransient, type SeriesStreamOptions, type StoreServer } from '../api.ts';
import { storeServices } from '../server.ts';
import { sleep } from '../../sdk/time.ts';
import { isULID } from '../../tsdb/ulid.ts';
import type { BucketStore } from './bucketstore.ts';
import { storeHttp } from './http.ts';
import { removeLocal, type IndexHeaderStats } from './openblock.ts';

export interface StoreComponent extends Component {
  store: BucketStore;
  /** Resolves after the first successful sync. */
  ready: Promise<void>;
  /** Index-headers built from the bucket vs reused from --data-dir. */
  headerStats: IndexHeaderStats;
}

/** The BucketStore as a StoreServer (lib/store's contract; its server helper applies response_batch_size). */
export function storeServer(store: BucketStore): StoreServer {
  return {
    // Blocks that cannot be read come back as warnings (partial response) or as the call's error
    // (partial response disabled); see BucketStore.series.
    async *series(req: SeriesRequest, signal: AbortSignal, opts?: SeriesStreamOptions): AsyncIterable<SeriesResponse> {
      const warnings: string[] = [];
      const transient = opts?.transient === true;
      // A chunk-fetch batch at a time (the server's batchSeries cuts it into response frames).
      // transient: its chunks view pooled read buffers, reused once the next batch is asked for.
      for await (const batch of store.seriesBatches(req, signal, (w) => warnings.push(w), { transient })) {
        while (warnings.length) yield { type: 'warning', warning: warnings.shift()! };
        yield transient ? markTransient({ type: 'batch', batch }) : { type: 'batch', batch };
      }
      while (warnings.length) yield { type: 'warning', warning: warnings.shift()! };
    },
    async labelNames(req: LabelNamesRequest): Promise<LabelNamesResponse> {
      const warnings: string[] = [];
      return { names: await store.labelNames(req, (w) => warnings.push(w)), warnings };
    },
    async labelValues(req: LabelValuesRequest): Promise<LabelValuesResponse> {
      const warnings: string[] = [];
      return { values: await store.labelValues(req, (w) => warnings.push(w)), warnings };
    },
  };
}

/** The StoreAPI gRPC methods over a BucketStore (Info is served by the host from info()). */
export function storeGrpc(store: BucketStore): GrpcServices {
  return storeServices(storeServer(store));
}

export interface StoreGatewayOptions {
  store: BucketStore;
  bucket: Bucket;
  fs: FsCapability;
  log: Logger;
  setReady(ready: boolean): void;
  /** Where index-headers live (undefined: in memory only); stale block directories are removed after the first sync. */
  headerDir?: string;
  headerStats: IndexHeaderStats;
  /** Interval between syncs after the first. */
  syncIntervalMs: number;
  webDisable: boolean;
  /** true: --disable-admin-operations; false: --no-disable-admin-operations (enables them); undefined: not given (disabled, see http.ts). */
  disableAdminOperations?: boolean;
  /** The prefix of the block viewer's links per request (--web.external-prefix / --web.prefix-header). */
  prefixFor?: (req: Request) => string;
}

/** The store gateway component over a BucketStore. */
export function storeGatewayComponent(o: StoreGatewayOptions): StoreComponent {
  const { store, fs, log, headerDir } = o;
  let resolveReady!: () => void;
  let synced = false;
  const ready = new Promise<void>((r) => (resolveReady = r));

  async function syncOnce(): Promise<boolean> {
    try {
      await store.sync();
      const r = store.lastSync!;
      log.info('synced blocks', { loaded: store.blocks.size, partial: r.partial.size, corrupted: r.corrupted.size, filtered: r.filtered.size, failed: store.loadFailures.size });
      return true;
    } catch (e) {
      log.error('block sync failed', { err: (e as Error).message });
      return false;
    }
  }

  /** Removes local state of blocks that are no longer served (after the first sync). */
  async function cleanDataDir(): Promise<void> {
    if (!headerDir || !(await fs.exists(headerDir))) return;
    for (const f of await fs.readDir(headerDir)) {
      if (f.isDirectory && isULID(f.name) && !store.blocks.has(f.name)) {
        await removeLocal(fs, headerDir, f.name).catch((e) => log.warn('removing stale local block state failed', { id: f.name, err: (e as Error).message }));
      }
    }
  }

  return {
    store,
    ready,
    headerStats: o.headerStats,
    info: () => {
      // As upstream's store Info: an error until the first sync has loaded the blocks. An answer
      // from before it would advertise no label sets and an empty range, and a querier would
      // prune this store until its next endpoint refresh.
      if (!synced) throw new GrpcError(GrpcStatus.Unknown, 'Not ready');
      const tr = store.timeRange();
      return {
        componentType: 'store',
        labelSets: store.labelSets(),
        store: { minTime: tr.minTime, maxTime: tr.maxTime, supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos: store.tsdbInfos() },
      };
    },
    fetch: storeHttp(store, { webDisable: o.webDisable, bucket: o.bucket, disableAdminOperations: o.disableAdminOperations, prefixFor: o.prefixFor }),
    grpc: storeGrpc(store),
    async run(signal: AbortSignal) {
      // Initial sync: retried until it succeeds; /-/ready stays false until then.
      while (!signal.aborted && !(await syncOnce())) await sleep(5000, signal);
      if (signal.aborted) return store.close();
      await cleanDataDir();
      synced = true;
      o.setReady(true);
      resolveReady();
      while (!signal.aborted) {
        await sleep(o.syncIntervalMs, signal);
        if (signal.aborted) break;
        await syncOnce();
      }
      o.setReady(false);
      await store.close();
    },
    async reload() {
      await syncOnce();
    },
  };
}

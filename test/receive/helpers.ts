// Test helpers for the receiver: an in-process ComponentContext (real listen on loopback, node fs,
// optional FILESYSTEM bucket), remote write bodies, and sample extraction from Series responses.
import type { Bucket, ComponentContext, Core } from '../../host/index.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { serveFetch } from '../../host/server/listen.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import type { TimeSeries } from '../../lib/proto/prompb.ts';
import type { Series, SeriesResponse } from '../../lib/proto/store.ts';
import { encodeRemoteWriteBody, REMOTE_WRITE_HEADERS } from '../../lib/remote/write.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { NoObjectStorageError } from '../../lib/objstore/kit/errors.ts';
import fsPlugin from '../../plugins/objstore/filesystem/mod.ts';

export const core: Core = createJsCore();

export interface TestCtx extends ComponentContext {
  ready: boolean;
  logs: string[];
}

export function receiveCtx(bucket?: Bucket): TestCtx {
  const logs: string[] = [];
  const ctx: TestCtx = {
    pluginId: 'component:receive',
    fetch: (input, init) => fetch(input, init),
    listen: (o, h) => serveFetch(o.hostname, o.port, h),
    connect: async () => {
      throw new Error('connect not available in tests');
    },
    grpcDial: () => {
      throw new Error('grpcDial not available in tests');
    },
    fs: nodeFs(),
    env: { get: (n) => process.env[n] },
    log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
    metrics: new Registry(),
    bucket: async () => {
      if (!bucket) throw new NoObjectStorageError('receive', 'pass --objstore.config-file or --objstore.config');
      return bucket;
    },
    core,
    setReady: (r) => {
      ctx.ready = r;
    },
    ready: false,
    logs,
  };
  return ctx;
}

export async function fsBucket(dir: string): Promise<Bucket> {
  return fsPlugin.create(receiveCtx(), { directory: dir });
}

export function ts(labels: Record<string, string>, samples: Array<[number, number]>): TimeSeries {
  return {
    labels: Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value })),
    samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
  };
}

export function rwRequest(series: TimeSeries[], headers: Record<string, string> = {}, body?: Uint8Array): Request {
  return new Request('http://receiver/api/v1/receive', {
    method: 'POST',
    headers: { ...REMOTE_WRITE_HEADERS, ...headers },
    body: body ?? encodeRemoteWriteBody({ timeseries: series }),
  });
}

export async function collect(it: AsyncIterable<SeriesResponse>): Promise<Series[]> {
  const out: Series[] = [];
  for await (const r of it) {
    if (r.type === 'series') out.push(r.series);
    else if (r.type === 'batch') out.push(...r.batch);
  }
  return out;
}

export function samplesOf(s: Series): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const c of s.chunks) {
    const d = core.xorDecode(c.raw!.data);
    for (let i = 0; i < d.n; i++) out.push([d.t[i]!, d.v[i]!]);
  }
  return out;
}

export function labelsRec(s: { labels: ReadonlyArray<{ name: string; value: string }> }): Record<string, string> {
  return Object.fromEntries(s.labels.map((l) => [l.name, l.value]));
}

export function range(from: number, n: number, step: number, f: (t: number, i: number) => number): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [from + i * step, f(from + i * step, i)] as [number, number]);
}

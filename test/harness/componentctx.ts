// A ComponentContext for driving a component in-process without the host: no listeners, no
// outbound connections, real files, a quiet logger, its own metrics registry. Suites override what
// they exercise (fetch towards a fake, a bucket, readiness, addresses).
import type { ComponentContext } from '../../host/index.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { NoObjectStorageError } from '../../lib/objstore/kit/errors.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';

export function stubComponentCtx(o: Partial<ComponentContext> & { pluginId: string }): ComponentContext {
  return {
    fetch: async () => new Response('no outbound HTTP in this test', { status: 503 }),
    listen: async () => { throw new Error('no listen'); },
    connect: async () => { throw new Error('no connect'); },
    grpcDial: () => { throw new Error('no grpcDial'); },
    fs: nodeFs(),
    env: { get: () => undefined },
    log: createLogger({ level: 'error', write: () => {} }),
    metrics: new Registry(),
    bucket: async () => { throw new NoObjectStorageError(o.pluginId, 'none in this test'); },
    core: createJsCore(),
    setReady: () => {},
    ...o,
  };
}

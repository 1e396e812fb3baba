// The querier reaches its StoreAPI endpoints only through ctx.grpcDial, so the operator's net grant
// decides: with the grant it connects and queries a real gRPC StoreAPI on loopback; without it,
// setup fails with PermissionDenied naming the plugin, the endpoint and the manifest key; an endpoint
// discovered later outside the grant stays unhealthy with that error instead of being dialled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { startGrpc, type GrpcListener } from '../../host/server/grpc.ts';
import { BUILD_INFO } from '../../host/version.ts';
import { PermissionDenied, type ComponentContext, type Need } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { MemoryStore } from '../../lib/store/memory.ts';
import { infoServices, storeServices } from '../../lib/store/server.ts';
import queryPlugin from '../../plugins/component/query/mod.ts';

const core = createJsCore();
const T0 = 1_700_000_000_000;
const store = MemoryStore.fromSamples([{ labels: [{ name: '__name__', value: 'up' }, { name: 'job', value: 'x' }], t: [T0, T0 + 15_000], v: [1, 1] }], core.xorEncode);
let srv: GrpcListener;
let addr = '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc-dial-'));

test.before(async () => {
  srv = await startGrpc('127.0.0.1:0', { ...storeServices(store), ...infoServices(() => ({ ...store.info(), componentType: 'store' })) });
  addr = `127.0.0.1:${srv.port}`;
});
test.after(async () => {
  await srv.close(100);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function ctxFor(net: Need, logs: string[] = []): ComponentContext {
  const permissions = new Permissions({ pluginId: queryPlugin.manifest.id, request: queryPlugin.manifest.permissions, grant: { net, read: true }, grantKey: 'components[0].permissions', grantBaseDir: tmp });
  const log = createLogger({ level: 'debug', write: (l) => void logs.push(l) });
  return { ...createCapabilities({ permissions, log, metrics: new Registry(), baseDir: tmp }), core, build: BUILD_INFO, setReady: () => {}, bucket: async () => { throw new Error('no bucket'); } };
}

test('without a net grant for the endpoint, setup fails naming plugin, endpoint and manifest key', async () => {
  for (const net of [false, ['10.0.0.1'], [`127.0.0.1:${srv.port + 1}`]] as Need[]) {
    const err = await queryPlugin.setup(ctxFor(net), queryPlugin.parseConfig({ endpoints: [addr] })).then(() => null, (e) => e);
    assert.instance(err, PermissionDenied, String(err));
    const e = err as PermissionDenied;
    assert.equal([e.pluginId, e.api, e.descriptor, e.manifestKey], ['component:query', 'grpcDial', addr, 'components[0].permissions.net']);
    assert.is(e.message, `permission denied: plugin component:query called grpcDial(${addr}); grant it with components[0].permissions.net in plugins.yaml`);
  }
});

test('with the grant, the querier connects and answers from the endpoint', async () => {
  for (const net of [['127.0.0.1'], [addr], true] as Need[]) {
    const comp = await queryPlugin.setup(ctxFor(net), queryPlugin.parseConfig({ endpoints: [addr] })) as Awaited<ReturnType<typeof queryPlugin.setup>> & { ready: Promise<void> };
    const ac = new AbortController();
    const run = comp.run(ac.signal);
    try {
      await comp.ready;
      const res = await comp.fetch!(new Request(`http://q/api/v1/query?query=up&time=${(T0 + 15_000) / 1000}`));
      const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      assert.is(body.status, 'success', JSON.stringify(body));
      assert.equal(body.data.result.map((r) => [r.metric.job, r.value[1]]), [['x', '1']]);
    } finally {
      ac.abort();
      await run;
    }
  }
});

test('an endpoint discovered after setup outside the grant is unhealthy with the denial, not dialled', async () => {
  const sd = path.join(tmp, 'sd.yaml');
  fs.writeFileSync(sd, `endpoints: [{ address: "${addr}" }]\n`);
  const logs: string[] = [];
  const comp = await queryPlugin.setup(ctxFor(['127.0.0.1'], logs), queryPlugin.parseConfig({ endpointSdConfigFile: sd })) as Awaited<ReturnType<typeof queryPlugin.setup>> & { reload(): Promise<void>; endpoints: { close(): void } };
  fs.writeFileSync(sd, `endpoints: [{ address: "${addr}" }, { address: "10.255.255.1:10901" }]\n`);
  await comp.reload();
  const res = await comp.fetch!(new Request('http://q/api/v1/stores'));
  const text = await res.text();
  assert.ok(text.includes('permission denied: plugin component:query called grpcDial(10.255.255.1:10901); grant it with components[0].permissions.net in plugins.yaml'), text);
  assert.ok(logs.some((l) => l.includes('10.255.255.1:10901') && l.includes('permission denied')), logs.join('\n'));
  comp.endpoints.close();
});

test.run();

// `thanos run` with one object store bound to several components: each component's /metrics
// counts the bucket operations that component made (upstream runs one process per component, so
// dashboards summing by job must not see another component's operations, nor the same operation
// twice), and what the provider registered itself is shown on one component only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { objstoreHandle, runGroup, type UnitSpec } from '../../host/lifecycle.ts';
import { Registry } from '../../host/metrics.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import type { ComponentPlugin } from '../../lib/sdk/mod.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { freePort } from '../harness/ports.ts';

/** A component that does `work` on its bucket during setup, then idles until stopped. */
function worker(id: string, work: (b: Bucket) => Promise<void>): ComponentPlugin<unknown> {
  return {
    manifest: { id: `component:${id}`, apiVersion: 1, permissions: { net: true } },
    parseConfig: (raw) => raw,
    async setup(ctx) {
      await work(await ctx.bucket());
      return {
        info: () => ({ componentType: id }),
        async run(signal) {
          ctx.setReady(true);
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        },
      };
    },
  };
}

const enc = new TextEncoder();

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('one shared bucket: each component counts its own operations, the provider\'s metrics once', async () => {
  const providerReg = new Registry();
  providerReg.counter('provider_probe_total', 'Registered by the object-store provider itself.').inc();
  let created = 0;
  const handle = objstoreHandle('primary', providerReg, async () => { created++; return new MemoryBucket(); });
  const [writerPort, readerPort] = [await freePort(), await freePort()];
  const unit = (id: string, http: number, work: (b: Bucket) => Promise<void>): UnitSpec => ({
    id, key: id, plugin: worker(id, work), config: {}, permissions: Permissions.all(`component:${id}`, { net: true }),
    http: `127.0.0.1:${http}`, objstore: handle,
  });
  const units = [
    unit('writer', writerPort, async (b) => {
      await b.upload('a', enc.encode('hello'));
      await b.upload('b', enc.encode('world'));
    }),
    unit('reader', readerPort, async (b) => {
      await readAll(await b.get('a'));
      await b.exists('b');
    }),
  ];
  const ac = new AbortController();
  const done = runGroup(units, { log: createLogger({ level: 'error' }), core: async () => createJsCore(), gracePeriodMs: 10_000, handleSignals: false, signal: ac.signal });
  try {
    const scrape = async (port: number) => {
      for (let i = 0; i < 600; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
          await r.text();
          if (r.status === 200) return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch { /* starting */ }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`127.0.0.1:${port} never became ready`);
    };
    const w = await scrape(writerPort);
    const r = await scrape(readerPort);
    const op = (text: string, operation: string) => value(text, `thanos_objstore_bucket_operations_total{bucket="primary",operation="${operation}"}`);
    assert.is(op(w, 'upload'), 2);
    assert.is(op(w, 'get'), 0);
    assert.is(op(r, 'upload'), 0, 'the reader shows only its own operations');
    assert.is(op(r, 'get'), 1);
    assert.is(op(r, 'exists'), 1);
    assert.ok(value(w, 'thanos_objstore_bucket_last_successful_upload_time{bucket="primary"}')! > 0);
    assert.is(value(r, 'thanos_objstore_bucket_last_successful_upload_time{bucket="primary"}'), 0);
    // One bucket client for both (one provider instance), its own metrics on the first component only.
    assert.is(created, 1);
    assert.is(value(w, 'provider_probe_total'), 1);
    assert.is(value(r, 'provider_probe_total'), undefined);
    // Each family once per component.
    for (const text of [w, r]) {
      const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
      assert.equal(types.filter((t, i) => types.indexOf(t) !== i), []);
    }
  } finally {
    ac.abort();
    assert.is((await done).code, 0);
  }
});

test.run();

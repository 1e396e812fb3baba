import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
import memory, { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { InvalidObjectNameError } from '../../lib/objstore/util.ts';

registerAcceptance(test, async () => new MemoryBucket(), { name: 'memory: ' });

test('memory: config is strict', () => {
  assert.equal(memory.parseConfig({}), {});
  assert.equal(memory.parseConfig(undefined), {});
  assert.throws(() => memory.parseConfig({ directory: '/x' }), /config\.directory: unknown field/);
});

test('memory: bad names are clear errors, not not-found', async () => {
  const b = new MemoryBucket();
  for (const n of ['../x', '/abs', 'a/../b', 'nul\0', 'a//b', 'dir/']) {
    try {
      await b.upload(n, new Uint8Array(1));
      assert.unreachable(`upload(${JSON.stringify(n)}) should fail`);
    } catch (err) {
      assert.instance(err, InvalidObjectNameError, String(err));
      assert.is(b.isObjNotFoundErr(err), false);
    }
  }
});

test.run();

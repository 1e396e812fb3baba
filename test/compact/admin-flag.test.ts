// thanos compact takes Thanos's --disable-admin-operations (#21 item 9): its block viewer has no
// admin operations, so only the value that asks for none is accepted; asking to enable them
// (--no-disable-admin-operations) is refused with a message naming the flag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import plugin from '../../plugins/component/compact/mod.ts';
import { parseFlags } from '../../lib/sdk/flags.ts';
import { compactFlags } from '../../plugins/component/compact/config.ts';

test('compact --disable-admin-operations: accepted; --no-disable-admin-operations refused naming the flag', () => {
  const on = parseFlags(['--disable-admin-operations'], compactFlags, { context: 'thanos compact' });
  plugin.parseConfig(on.values);
  assert.throws(() => parseFlags(['--no-disable-admin-operations'], compactFlags, { context: 'thanos compact' }), /--disable-admin-operations=false is not implemented/);
  assert.throws(() => plugin.parseConfig({ disableAdminOperations: false }), /--disable-admin-operations=false is not implemented/);
  plugin.parseConfig({});
});

test.run();

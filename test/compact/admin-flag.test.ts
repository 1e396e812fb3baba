// thanos compact takes Thanos's --disable-admin-operations: its block viewer's mark endpoint
// (POST /api/v1/blocks/mark) is off unless --no-disable-admin-operations is given (this server has
// no HTTP authentication); both values parse. The endpoint and the page: test/web/block-mark.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import plugin from '../../plugins/component/compact/mod.ts';
import { parseFlags } from '../../lib/sdk/flags.ts';
import { compactFlags } from '../../plugins/component/compact/config.ts';

test('compact --disable-admin-operations / --no-disable-admin-operations / not given', () => {
  const on = parseFlags(['--disable-admin-operations'], compactFlags, { context: 'thanos compact' });
  assert.is((plugin.parseConfig(on.values) as { disableAdminOperations?: boolean }).disableAdminOperations, true);
  const off = parseFlags(['--no-disable-admin-operations'], compactFlags, { context: 'thanos compact' });
  assert.is((plugin.parseConfig(off.values) as { disableAdminOperations?: boolean }).disableAdminOperations, false);
  assert.is((plugin.parseConfig({}) as { disableAdminOperations?: boolean }).disableAdminOperations, undefined);
});

test.run();

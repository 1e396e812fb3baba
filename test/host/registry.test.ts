// The registry names only plugins that exist: every built-in entry's module is on disk and loads as a
// plugin of its kind; a Thanos provider we have not built is "not implemented yet", not an entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_COMPONENTS, BUILTIN_OBJSTORES, THANOS_OBJSTORES_NOT_BUILT } from '../../host/registry.ts';
import { loadBuiltinComponent, loadBuiltinObjstore } from '../../host/loader.ts';

const repo = new URL('../../', import.meta.url).pathname;

test('every registry entry points at a module that exists and loads', async () => {
  for (const [name, rel] of Object.entries(BUILTIN_COMPONENTS)) {
    assert.ok(fs.existsSync(path.join(repo, rel)), `component ${name}: ${rel} does not exist`);
    const p = await loadBuiltinComponent(name);
    assert.type(p.manifest, 'object', name);
  }
  for (const [type, rel] of Object.entries(BUILTIN_OBJSTORES)) {
    assert.ok(fs.existsSync(path.join(repo, rel)), `objstore ${type}: ${rel} does not exist`);
    const p = await loadBuiltinObjstore(type);
    assert.type(p.parseConfig, 'function', type);
  }
});

test('a Thanos provider we do not have is refused as not implemented yet, naming the type', async () => {
  for (const t of THANOS_OBJSTORES_NOT_BUILT) {
    assert.not.ok(t in BUILTIN_OBJSTORES, `${t} is both built and not built`);
    const err = await loadBuiltinObjstore(t.toLowerCase()).then(() => undefined, (e: Error) => e);
    assert.ok(err, `${t} loaded`);
    assert.match(err!.message, new RegExp(`^objstore type ${t}: not implemented yet`));
  }
  const unknown = await loadBuiltinObjstore('FLOPPY').then(() => undefined, (e: Error) => e);
  assert.match(unknown!.message, /unknown object storage type "FLOPPY"/);
});

test.run();

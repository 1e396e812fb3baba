// `isolation:` and `trust:` of a plugins.yaml entry -> how its plugin is loaded (issue #22).
//
// Object stores: a built-in runs inline unless `isolation: process`; a path or npm package runs in
// its own process unless `isolation: inline`, which needs `trust: true`. In process mode the host
// never imports the plugin's module: it resolves the file and hands it to the plugin's process.
// Components: out-of-process components are not implemented yet, so `isolation: process` is refused;
// a third-party component with no `isolation:` still runs inline (as before #22) with a warning,
// and an explicit `isolation: inline` needs `trust: true` like an object store's.
import type { Logger, ObjstorePlugin } from '../../lib/sdk/mod.ts';
import { builtinModuleFile, loadUse, resolveUseFile } from '../loader.ts';
import type { ComponentEntry, Manifest, ObjstoreEntry } from '../manifest.ts';
import { BUILTIN_COMPONENTS, BUILTIN_OBJSTORES } from '../registry.ts';
import { IsolationError, loadIsolatedObjstore } from './host.ts';

export interface LoadedObjstore {
  plugin: ObjstorePlugin;
  isolation: 'process' | 'inline';
  /** The plugin's parseConfig (in its process when isolated). */
  checkConfig(config: unknown): Promise<void>;
}

const untrusted = (key: string, what: string) => new IsolationError(`${key}.isolation`,
  `isolation: inline runs ${what} in the host's process, where no grant is enforced; add trust: true to allow it, or drop isolation: to run it in its own process`);

/** Loads an objstore entry's plugin inline or in its own process. */
export async function loadObjstoreEntry(m: Manifest, e: ObjstoreEntry, log: Logger): Promise<LoadedObjstore> {
  const builtinRel = BUILTIN_OBJSTORES[e.use.toUpperCase()];
  const mode = e.isolation ?? (builtinRel ? 'inline' : 'process');
  if (mode === 'inline') {
    if (!builtinRel && !e.trust) throw untrusted(e.key, `the third-party plugin "${e.use}"`);
    const plugin = (await loadUse(e.use, m.dir, 'objstore')).plugin;
    return { plugin, isolation: 'inline', checkConfig: async (c) => { plugin.parseConfig(c); } };
  }
  const file = builtinRel ? builtinModuleFile(builtinRel) : resolveUseFile(e.use, m.dir);
  const iso = await loadIsolatedObjstore({
    file, label: e.use, grant: e.permissions, grantKey: `${e.key}.permissions`, grantBaseDir: m.dir, baseDir: m.dir, log: log.with({ objstore: e.id }),
  });
  return { plugin: iso.plugin, isolation: 'process', checkConfig: (c) => iso.checkConfig(c) };
}

/** Refuses what components cannot do yet; warns when a third-party component runs inline by default. */
export function checkComponentIsolation(c: ComponentEntry, log: Logger): void {
  if (c.isolation === 'process') {
    throw new IsolationError(`${c.key}.isolation`, 'isolation: process is not implemented yet for component plugins (object-store plugins only); set isolation: inline (with trust: true for a plugin that is not built in)');
  }
  if (BUILTIN_COMPONENTS[c.use]) return;
  if (c.isolation === 'inline' && !c.trust) throw untrusted(c.key, `the third-party component "${c.use}"`);
  if (c.isolation === undefined) {
    // Named by its manifest key: `component=<id>` fields belong to a component that runs.
    log.warn('third-party component will run in the host\'s process: component process isolation is not implemented yet; set isolation: inline and trust: true to acknowledge', { entry: c.key, use: c.use });
  }
}

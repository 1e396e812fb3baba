// `isolation:` and `trust:` of a plugins.yaml entry -> how its plugin is loaded (issue #22).
//
// Object stores: a built-in runs inline unless `isolation: process`; a path or npm package runs in
// its own process unless `isolation: inline`, which needs `trust: true`. In process mode the host
// never imports the plugin's module: it resolves the file and hands it to the plugin's process.
// Components: the same rules. In process mode the component's setup, run, HTTP handlers and calls
// back (ctx.listen, ctx.bucket, ctx.grpcDial) and its gRPC services cross the channel
// (lib/isolate/plugin.ts componentStandIn); what cannot cross (HTTP instrumentation) is refused by name.
import type { ComponentPlugin, Logger, ObjstorePlugin } from '../../lib/sdk/mod.ts';
import { builtinModuleFile, loadUse, resolveUseFile } from '../loader.ts';
import type { ComponentEntry, Manifest, ObjstoreEntry } from '../manifest.ts';
import { BUILTIN_COMPONENTS, BUILTIN_OBJSTORES } from '../registry.ts';
import { IsolationError } from './errors.ts';

// host.ts (child_process, the wire protocol, the proxies) loads with the first isolated plugin: a
// profile whose plugins all run inline (the edge profile) never pays for it.
const isolationHost = () => import('./host.ts');

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
  const iso = await (await isolationHost()).loadIsolatedObjstore({
    file, label: e.use, grant: e.permissions, grantKey: `${e.key}.permissions`, grantBaseDir: m.dir, baseDir: m.dir, log: log.with({ objstore: e.id }),
  });
  return { plugin: iso.plugin, isolation: 'process', checkConfig: (c) => iso.checkConfig(c) };
}

export interface LoadedComponent {
  plugin: ComponentPlugin;
  isolation: 'process' | 'inline';
  /** The plugin's parseConfig (in its process when isolated). */
  checkConfig(config: unknown): Promise<void>;
}

/**
 * Loads a component entry's plugin inline or in its own process. Decided before any module is
 * imported: an inline module's top-level code already runs in the host.
 */
export async function loadComponentEntry(m: Manifest, c: ComponentEntry, log: Logger): Promise<LoadedComponent> {
  const builtinRel = BUILTIN_COMPONENTS[c.use];
  const mode = c.isolation ?? (builtinRel ? 'inline' : 'process');
  if (mode === 'inline') {
    if (!builtinRel && !c.trust) throw untrusted(c.key, `the third-party component "${c.use}"`);
    const plugin = (await loadUse(c.use, m.dir, 'component')).plugin;
    return { plugin, isolation: 'inline', checkConfig: async (x) => { plugin.parseConfig(x); } };
  }
  const file = builtinRel ? builtinModuleFile(builtinRel) : resolveUseFile(c.use, m.dir);
  const iso = await (await isolationHost()).loadIsolatedComponent({
    file, label: c.use, grant: c.permissions, grantKey: `${c.key}.permissions`, grantBaseDir: m.dir, baseDir: m.dir, log: log.with({ component: c.id }),
  });
  return { plugin: iso.plugin, isolation: 'process', checkConfig: (x) => iso.checkConfig(x) };
}

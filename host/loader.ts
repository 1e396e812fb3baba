// `use:` -> a plugin: a built-in name (registry.ts), a relative path (to the manifest's directory),
// or an npm package resolved from the manifest's directory. Checks the plugin's shape.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { AnyPlugin, ComponentPlugin, ObjstorePlugin } from './index.ts';
import { BUILTIN_COMPONENTS, BUILTIN_OBJSTORES, THANOS_OBJSTORES_NOT_BUILT } from './registry.ts';

export type PluginKind = 'component' | 'objstore';

/** The repository root (module paths in registry.ts are relative to it). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

// Set to true by scripts/build.mjs (esbuild `define`) in the built artifact under dist/.
declare const __THANOS_DIST__: boolean | undefined;
/** Whether this process runs the built JavaScript (dist/) rather than the TypeScript sources. */
export const RUNNING_DIST = typeof __THANOS_DIST__ !== 'undefined' && __THANOS_DIST__ === true;

/**
 * A built-in module path (registry.ts, relative to the repository root) -> the file to import:
 * the source itself, or its build under dist/ when the host runs from dist/ (Node has no
 * TypeScript loader there, and the plugin must share the host's module instances).
 */
export function builtinModuleFile(rel: string): string {
  return RUNNING_DIST ? path.join(REPO_ROOT, 'dist', rel.replace(/\.ts$/, '.js')) : path.join(REPO_ROOT, rel);
}

/** A built-in whose module file does not exist yet. */
export class NotImplementedError extends Error {
  constructor(readonly kind: PluginKind, readonly pluginName: string, readonly modulePath: string) {
    super(kind === 'component' ? `thanos ${pluginName}: not implemented yet` : `objstore type ${pluginName}: not implemented yet (${modulePath} does not exist)`);
    this.name = 'NotImplementedError';
  }
}

export class PluginLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PluginLoadError';
  }
}

function isNotFoundOf(err: unknown, file: string): boolean {
  const e = err as { code?: string; url?: string; message?: string };
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  return e.url === pathToFileURL(file).href || (e.message ?? '').includes(`'${file}'`);
}

let tsPlugins: Promise<unknown> | undefined;

/**
 * A TypeScript module file to import while running from dist/ (a third-party plugin): Deno and Bun
 * run it natively; Node gets tsx plus a hook sending the plugin's imports of our sources to dist/
 * (bin/ts-plugins.mjs), registered once, only then, so built-ins start without a TypeScript loader.
 */
async function ensureTsPlugins(file: string): Promise<void> {
  if (!RUNNING_DIST || !/\.[cm]?ts$/.test(file)) return;
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined || g.Bun !== undefined) return;
  tsPlugins ??= import(pathToFileURL(path.join(REPO_ROOT, 'bin/ts-plugins.mjs')).href);
  await tsPlugins;
}

/** Imports a module file; `onMissing` decides what a missing *file itself* means. */
async function importFile(file: string, onMissing: () => Error): Promise<Record<string, unknown>> {
  await ensureTsPlugins(file);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    if (isNotFoundOf(err, file)) throw onMissing();
    throw err;
  }
}

/** Checks a module's default export (or `plugin` export) is a plugin of `kind`. */
export function validatePlugin(mod: Record<string, unknown>, kind: PluginKind, label: string): AnyPlugin {
  const p = (mod.default ?? mod.plugin) as Record<string, unknown> | undefined;
  const bad = (why: string) => new PluginLoadError(`${label}: not a ${kind} plugin: ${why}`);
  if (!p || typeof p !== 'object') throw bad('the module has no default export (export default definePlugin({...}))');
  const m = p.manifest as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object') throw bad('missing manifest');
  if (typeof m.id !== 'string' || !m.id.startsWith(`${kind}:`)) throw bad(`manifest.id must start with "${kind}:" (got ${JSON.stringify(m.id)})`);
  if (m.apiVersion !== 1) throw bad(`manifest.apiVersion must be 1 (got ${JSON.stringify(m.apiVersion)})`);
  if (!m.permissions || typeof m.permissions !== 'object') throw bad('manifest.permissions must be an object ({} if it needs nothing)');
  if (typeof p.parseConfig !== 'function') throw bad('parseConfig(raw) is missing');
  if (kind === 'objstore') {
    if (typeof p.provider !== 'string' || p.provider === '') throw bad('provider (the Thanos type name) is missing');
    if (typeof p.create !== 'function') throw bad('create(ctx, config) is missing');
  } else if (typeof p.setup !== 'function' && !Array.isArray(p.commands)) {
    throw bad('setup(ctx, config) is missing');
  }
  return p as unknown as AnyPlugin;
}

/** A built-in component by name; NotImplementedError when its module does not exist yet. */
export async function loadBuiltinComponent(name: string): Promise<ComponentPlugin> {
  const rel = BUILTIN_COMPONENTS[name];
  if (!rel) throw new PluginLoadError(`unknown component "${name}" (built-in: ${Object.keys(BUILTIN_COMPONENTS).join(', ')})`);
  const file = builtinModuleFile(rel);
  const mod = await importFile(file, () => new NotImplementedError('component', name, rel));
  return validatePlugin(mod, 'component', rel) as ComponentPlugin;
}

/** A built-in object store by its Thanos type (case-insensitive). */
export async function loadBuiltinObjstore(type: string): Promise<ObjstorePlugin> {
  const t = type.toUpperCase();
  const rel = BUILTIN_OBJSTORES[t];
  if (!rel && (THANOS_OBJSTORES_NOT_BUILT as readonly string[]).includes(t)) {
    throw new PluginLoadError(`objstore type ${t}: not implemented yet (built in: ${Object.keys(BUILTIN_OBJSTORES).join(', ')}; or name a plugin module with use: in plugins.yaml)`);
  }
  if (!rel) {
    throw new PluginLoadError(`unknown object storage type "${type}" (supported: ${Object.keys(BUILTIN_OBJSTORES).join(', ')}; or name a plugin module with use: in plugins.yaml)`);
  }
  const file = builtinModuleFile(rel);
  const mod = await importFile(file, () => new NotImplementedError('objstore', t, rel));
  return validatePlugin(mod, 'objstore', rel) as ObjstorePlugin;
}

const PKG_RE = /^(@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*(\/.+)?$/i;

function packageEntry(pkgDir: string, sub: string | undefined): string {
  const pj = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  if (sub) return path.join(pkgDir, sub);
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      if ('.' in o) return pick(o['.']);
      return pick(o.import ?? o.node ?? o.default);
    }
    return undefined;
  };
  const entry = pick(pj.exports) ?? (typeof pj.module === 'string' ? pj.module : undefined) ?? (typeof pj.main === 'string' ? pj.main : undefined);
  if (entry) return path.join(pkgDir, entry);
  for (const f of ['mod.ts', 'mod.js', 'index.ts', 'index.js']) if (fs.existsSync(path.join(pkgDir, f))) return path.join(pkgDir, f);
  throw new PluginLoadError(`package ${pkgDir}: no entry point (set "exports" or "main" in package.json, or add mod.ts)`);
}

/** Resolves a `use:` value to a module file (not for built-in names). */
export function resolveUseFile(use: string, baseDir: string): string {
  if (use.startsWith('./') || use.startsWith('../') || path.isAbsolute(use)) {
    const p = path.resolve(baseDir, use);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
      if (fs.existsSync(path.join(p, 'package.json'))) return packageEntry(p, undefined);
      for (const f of ['mod.ts', 'mod.js', 'index.ts', 'index.js']) if (fs.existsSync(path.join(p, f))) return path.join(p, f);
      throw new PluginLoadError(`plugin directory ${p} has no mod.ts, mod.js or package.json`);
    }
    if (!fs.existsSync(p)) throw new PluginLoadError(`cannot find plugin "${use}" (resolved to ${p})`);
    return p;
  }
  if (!PKG_RE.test(use)) throw new PluginLoadError(`"${use}" is neither a built-in plugin, a relative path (./…) nor an npm package name`);
  const parts = use.split('/');
  const pkgName = use.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const sub = use.slice(pkgName.length + 1) || undefined;
  for (let dir = path.resolve(baseDir); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', pkgName);
    if (fs.existsSync(path.join(pkgDir, 'package.json'))) return packageEntry(pkgDir, sub);
    if (path.dirname(dir) === dir) break;
  }
  throw new PluginLoadError(`cannot find plugin "${use}": not a built-in name and no package "${pkgName}" in node_modules above ${baseDir} (install it with npm install ${pkgName})`);
}

export interface LoadedPlugin<P> {
  plugin: P;
  /** Where it came from: 'builtin:store', a file path. */
  from: string;
}

/** Loads the plugin named by `use:` (built-in name, relative path, npm package). */
export async function loadUse(use: string, baseDir: string, kind: 'component'): Promise<LoadedPlugin<ComponentPlugin>>;
export async function loadUse(use: string, baseDir: string, kind: 'objstore'): Promise<LoadedPlugin<ObjstorePlugin>>;
export async function loadUse(use: string, baseDir: string, kind: PluginKind): Promise<LoadedPlugin<AnyPlugin>> {
  if (kind === 'component' && BUILTIN_COMPONENTS[use]) return { plugin: await loadBuiltinComponent(use), from: `builtin:${use}` };
  if (kind === 'objstore' && BUILTIN_OBJSTORES[use.toUpperCase()]) return { plugin: await loadBuiltinObjstore(use), from: `builtin:${use.toLowerCase()}` };
  const file = resolveUseFile(use, baseDir);
  const mod = await importFile(file, () => new PluginLoadError(`cannot find plugin "${use}" (resolved to ${file})`));
  return { plugin: validatePlugin(mod, kind, use), from: file };
}

// Module resolve hook of bin/ts-plugins.mjs: <package>/{host,lib,plugins}/**/*.ts -> the same module
// built under dist/ (.js), for imports made by third-party TypeScript plugins. dist/ is bundled
// (scripts/build.mjs): what exists there is host/index.ts, the built-in plugins' mod.ts and, for every
// lib/ module, a facade re-exporting it from the bundle's one instance; other host/ and plugins/
// modules are inside chunks and cannot be imported on their own.
import * as fs from 'node:fs';

let root = '';
let sources = [];

export function initialize(data) {
  root = data.root;
  sources = ['host/', 'lib/', 'plugins/'].map((d) => root + d);
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.endsWith('.ts') && sources.some((s) => r.url.startsWith(s))) {
    const rel = r.url.slice(root.length, -3);
    const url = `${root}dist/${rel}.js`;
    if (!fs.existsSync(new URL(url))) {
      throw new Error(`${rel}.ts (imported by ${context.parentURL ?? 'a plugin'}) is not importable from the built artifact: a plugin imports host/index.ts and lib/ modules`);
    }
    return { ...r, url, format: 'module', shortCircuit: true };
  }
  return r;
}

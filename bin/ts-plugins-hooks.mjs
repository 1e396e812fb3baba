// Module resolve hook of bin/ts-plugins.mjs: <package>/{host,lib,plugins}/**/*.ts -> the same module
// built under dist/ (.js), for imports made by third-party TypeScript plugins.
let root = '';
let sources = [];

export function initialize(data) {
  root = data.root;
  sources = ['host/', 'lib/', 'plugins/'].map((d) => root + d);
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.endsWith('.ts') && sources.some((s) => r.url.startsWith(s))) {
    return { ...r, url: `${root}dist/${r.url.slice(root.length, -3)}.js`, format: 'module', shortCircuit: true };
  }
  return r;
}

// CommonJS packages are loaded with require (createRequire), not `import`, on the paths every process
// runs: Node 20 finds the exports of a CommonJS module imported from an ES module by scanning its
// source with cjs-module-lexer, a WebAssembly module compiled and instantiated on the first such
// import; it stays resident for the life of the process (about 0.6 MiB of an idle edge node's
// 64 MiB, measured A/B: docs/operator-guide.md §5). require needs no scan. A single remaining
// import of a CommonJS package brings the lexer back, so each package has one module here that the
// rest of the code imports it from (lib/cjs/yaml.ts, lib/cjs/otel-api.ts; @grpc/grpc-js only in
// host/server/grpc.ts). Node, Deno and Bun all provide createRequire.
//
// In the built artifact, yaml is a single file, dist/vendor/yaml.cjs (scripts/build.mjs says why
// that package and not the others): requiring it resolves one module instead of 72.
import { createRequire } from 'node:module';

// Set by scripts/build.mjs (esbuild `define`) in dist/: package -> its bundle, relative to the repository root.
declare const __THANOS_VENDORED__: Record<string, string> | undefined;
const VENDORED: Record<string, string> = typeof __THANOS_VENDORED__ !== 'undefined' ? __THANOS_VENDORED__ : {};

const require = createRequire(import.meta.url);

/** `require(id)` resolved from this package (node_modules beside lib/, or its bundle in dist/), typed as the caller says. */
export function requireCjs<T>(id: string): T {
  return require(Object.hasOwn(VENDORED, id) ? `../../${VENDORED[id]}` : id) as T;
}

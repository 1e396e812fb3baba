// CommonJS packages are loaded with require (createRequire), not `import`, on the paths every process
// runs: Node 20 finds the exports of a CommonJS module imported from an ES module by scanning its
// source with cjs-module-lexer, a WebAssembly module compiled and instantiated on the first such
// import; it stays resident for the life of the process (about 0.6 MiB of an idle edge node's
// 64 MiB, measured A/B: docs/operator-guide.md §5). require needs no scan. A single remaining
// import of a CommonJS package brings the lexer back, so each package has one module here that the
// rest of the code imports it from (lib/cjs/yaml.ts, lib/cjs/otel-api.ts; @grpc/grpc-js only in
// host/server/grpc.ts). Node, Deno and Bun all provide createRequire.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `require(id)` resolved from this package (node_modules beside lib/), typed as the caller says. */
export function requireCjs<T>(id: string): T {
  return require(id) as T;
}

#!/usr/bin/env node
// Entry point of the `thanos` binary, for Node >= 20, Deno 2 and Bun.
//
// It runs the built artifact (dist/, `npm run build`: plain JavaScript, no TypeScript loader) when
// that is up to date with the sources, and the TypeScript sources otherwise: through tsx's loader
// on Node, natively on Deno and Bun. "Up to date" means no input listed in dist/.build.json is
// newer than that stamp, so a checkout being edited never runs a stale build (and needs no rebuild
// to try a change), while an installed package or image without sources always runs dist/.
// THANOS_RUN_FROM=dist|sources forces one (dist: an error if there is no build).
import * as fs from 'node:fs';
import { distIsCurrent, STAMP_URL } from './dist.mjs';
import { applyHeapDefaults } from './heap.mjs';

/** An environment variable, or undefined where reading it is not permitted (Deno without --allow-env). */
function envVar(name) {
  try { return process.env[name]; } catch { return undefined; }
}

// Collect when the heap has doubled, as Go's runtime does by default (bin/heap.mjs says why).
await applyHeapDefaults();

const want = envVar('THANOS_RUN_FROM');
if (want !== undefined && want !== 'dist' && want !== 'sources') {
  process.stderr.write(`thanos: THANOS_RUN_FROM must be dist or sources (got ${JSON.stringify(want)})\n`);
  process.exit(2);
}
if (want === 'dist' && !fs.existsSync(STAMP_URL)) {
  process.stderr.write('thanos: THANOS_RUN_FROM=dist but there is no build (run npm run build)\n');
  process.exit(2);
}
const fromDist = want === 'dist' || (want !== 'sources' && distIsCurrent());

let main;
if (fromDist) {
  // Stack traces (and the logger's caller=file:line, taken from one) name the TypeScript sources,
  // as when running them: the artifact carries source maps. Deno applies them by itself; on Node
  // only dist/'s frames are mapped, lazily (bin/dist-stack-traces.mjs says why).
  if (typeof globalThis.Bun !== 'undefined') process.setSourceMapsEnabled?.(true);
  else if (typeof globalThis.Deno === 'undefined') (await import('./dist-stack-traces.mjs')).mapDistStackTraces(new URL('../dist/', import.meta.url));
  ({ main } = await import('../dist/host/main.js'));
} else {
  const nativeTs = typeof globalThis.Deno !== 'undefined' || typeof globalThis.Bun !== 'undefined';
  if (!nativeTs) (await import('tsx/esm/api')).register();
  ({ main } = await import('../host/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
// main() has returned: everything should be closed. If a leaked handle keeps the process alive,
// do not hang forever (the timer itself does not keep the process alive).
setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();

#!/usr/bin/env node
// `npm run build` step that emits the runnable artifact: every TypeScript module of host/, lib/ and
// plugins/ as a plain JavaScript ES module (with a source map) under dist/, same relative path,
// `.js` instead of `.ts`. Node >= 20, Deno 2 and Bun run it with no TypeScript loader.
//
// Why one output file per source file instead of one bundle: the host loads built-in plugins
// lazily by module path (host/registry.ts), the isolated-plugin child (host/isolate/child.ts) is its
// own entry run under Deno, and third-party plugins import the same lib/ modules; keeping the module
// graph as it is keeps all of those working unchanged.
//
// Assets are not copied: a module that finds a file next to itself (`new URL('./ui/',
// import.meta.url)`: the web UI, the WASM core in wasm/build/, package.json and .git for the build
// info) sees its *source* location, so dist/ reads the same files as the sources do and the
// permission grants in plugins.yaml (e.g. the query UI's read grant) name the same paths either way.
// The artifact is therefore dist/ inside the package: package.json, node_modules, wasm/build and the
// UI directories beside it (the Dockerfile copies exactly that).
//
// dist/.build.json lists the inputs; bin/thanos.mjs runs dist/ only while no input is newer than it.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from '../bin/dist.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
const SOURCE_DIRS = ['host', 'lib', 'plugins'];

function listSources(dir) {
  const out = [];
  for (const ent of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${ent.name}`;
    if (ent.isDirectory()) {
      if (ent.name === 'node_modules') continue;
      out.push(...listSources(rel));
    } else if (ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) {
      out.push(rel);
    }
  }
  return out;
}

// A relative specifier of a TypeScript module -> the same module built (`./x.ts` -> `./x.js`).
// Same length, so the source maps stay exact. esbuild prints specifiers in double quotes.
const TS_SPECIFIER = /((?:\bfrom|\bimport|\bexport\s*\*\s*from)\s*\(?\s*)"(\.{1,2}\/[^"\n]*?)\.ts"/g;

/** `import.meta.url` in a module at repo-relative path `rel` -> the URL of its source file. */
function sourceUrlExpr(rel) {
  const depth = rel.split('/').length - 1; // directories between dist/ and the output file
  return `new URL(${JSON.stringify('../'.repeat(depth + 1) + rel)}, import.meta.url).href`;
}

export async function build({ log = true } = {}) {
  const started = Date.now();
  const sources = SOURCE_DIRS.flatMap(listSources).sort();
  // Built beside dist/ and swapped in with renames, so a process starting meanwhile (or a second
  // build: test files build on demand, two at a time) never sees a half-written dist/.
  const out = `${DIST}.tmp-${process.pid}-${Date.now()}`;
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: sources,
    outbase: '.',
    outdir: out,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    sourcemap: 'linked',
    sourcesContent: false,
    // host/loader.ts: built-in plugins and the isolated-plugin child load from dist/ too.
    define: { __THANOS_DIST__: 'true' },
    write: false,
    logLevel: 'warning',
    plugins: [{
      name: 'source-relative-import-meta-url',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          const rel = path.relative(ROOT, args.path).split(path.sep).join('/');
          let text = await fs.promises.readFile(args.path, 'utf8');
          if (text.includes('import.meta.url')) text = text.replaceAll('import.meta.url', sourceUrlExpr(rel));
          return { contents: text, loader: 'ts' };
        });
      },
    }],
  });
  let files = 0;
  for (const f of result.outputFiles) {
    let text = f.text;
    if (f.path.endsWith('.js')) {
      text = text.replace(TS_SPECIFIER, (_m, lead, spec) => `${lead}"${spec}.js"`);
      const left = /\bimport\s*\(\s*["'`]\.{1,2}\/[^"'`\n]*\.ts["'`]/.exec(text);
      if (left) throw new Error(`${path.relative(ROOT, f.path)}: a relative import of a .ts module was not rewritten: ${left[0]}`);
    }
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, text);
    files++;
  }
  // The stamp bin/thanos.mjs compares the sources against (written last: a half-written dist/ has none).
  fs.writeFileSync(path.join(out, '.build.json'), JSON.stringify({ builtAt: new Date().toISOString(), esbuild: esbuild.version, inputs: sources }, null, 1) + '\n');
  const old = `${DIST}.old-${process.pid}-${Date.now()}`;
  try { fs.renameSync(DIST, old); } catch (err) { if (err.code !== 'ENOENT') throw err; }
  fs.renameSync(out, DIST);
  fs.rmSync(old, { recursive: true, force: true });
  if (log) console.log(`dist/: ${sources.length} modules -> ${files} files with esbuild ${esbuild.version} in ${Date.now() - started} ms`);
}

/** Builds dist/ unless it is current (tests that run the artifact call this). */
export async function ensureBuilt() {
  if (!distIsCurrent()) await build({ log: false });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await build();
}

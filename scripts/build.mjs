#!/usr/bin/env node
// `npm run build` step that emits the runnable artifact dist/: the TypeScript of host/, lib/ and
// plugins/ as plain JavaScript ES modules with linked source maps. Node >= 20, Deno 2 and Bun run it
// with no TypeScript loader.
//
// Bundled (esbuild, `splitting`), not one file per module: startup resolved ~600 module specifiers
// for the ~235 modules the edge profile loads, enough path normalization for TurboFan to compile
// Node's `path` code in some install directories (1.3 MiB resident; docs/operator-guide.md, "Edge
// profile"). The layout keeps what the rest relies on:
// - Entries, at their source path with `.js`: host/main.ts (bin/thanos.mjs), every built-in plugin
//   plugins/<kind>/<name>/mod.ts (host/registry.ts names them; host/loader.ts imports them lazily by
//   that path), host/isolate/child.ts (the isolated-plugin process's own entry, run under Deno),
//   host/index.ts (what external plugins import), host/manifest.ts and host/isolate/host.ts
//   (bin/deno-flags.mjs). Code shared between entries goes to dist/chunks/, each module in exactly
//   one output (checked below: a second copy would be a second instance of its state, e.g. a
//   metrics registry or an error class).
// - Every lib/ module also exists at dist/lib/<path>.js, as a facade re-exporting it from its one
//   instance (through the generated entry dist/lib/_modules.js): third-party plugins import lib/
//   modules, sent to dist/ by bin/ts-plugins-hooks.mjs. A lib/ module needing a development package
//   (lib/objstore/acceptance.ts: uvu) has none. Other host/ and plugins/ modules exist only in chunks.
// - npm packages stay external, in node_modules (CommonJS ones are required through lib/cjs), but
//   for yaml, bundled into dist/vendor/yaml.cjs (VENDOR below says why).
//
// Assets are not copied: a module that finds a file next to itself (`new URL('./ui/',
// import.meta.url)`: the web UI, the WASM core in wasm/build/, package.json and .git for the build
// info) sees its *source* location — `import.meta.url` is rewritten to the source file's URL relative
// to the output that holds the module (a first esbuild pass finds which) — so dist/ reads the same
// files as the sources do and the permission grants in plugins.yaml (e.g. the query UI's read grant)
// name the same paths either way. The artifact is therefore dist/ inside the package: package.json,
// node_modules, wasm/build and the UI directories beside it (the Dockerfile copies exactly that).
//
// Source maps carry a line index (bin/dist-stack-traces.mjs: a frame is mapped without decoding a
// chunk's whole map). dist/.build.json lists the inputs; bin/thanos.mjs runs dist/ only while no
// input is newer than it.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from '../bin/dist.mjs';
import { withLineIndex } from '../bin/dist-stack-traces.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
const SOURCE_DIRS = ['host', 'lib', 'plugins'];
/** Inputs besides the sources: a change to the build makes dist/ stale too. */
const BUILD_INPUTS = ['scripts/build.mjs', 'package-lock.json']; // not shipped, unlike bin/ and package.json (an installed copy's mtimes are not the build's)
/** Entries besides the built-in plugins (every plugins/<kind>/<name>/mod.ts): see the header. */
const HOST_ENTRIES = ['host/main.ts', 'host/index.ts', 'host/isolate/child.ts', 'host/manifest.ts', 'host/isolate/host.ts'];
/**
 * CommonJS packages the startup path requires (through lib/cjs/require.ts) that are bundled, each
 * into one file dist/vendor/<name>.cjs, which lib/cjs/require.ts loads in the artifact: yaml, one
 * module to resolve instead of 72. Bundling our own modules alone left the edge profile's startup
 * running Node's path normalization hot enough for TurboFan to compile it from some install
 * directories (1.3 MiB; docs/operator-guide.md, "Edge profile"); this brings it under.
 * Not @opentelemetry/api (44 modules): with a tracing config the SDK in node_modules loads its own
 * copy, and the query -> store trace of test/tracing/e2e.test.ts lost its StoreAPI client span.
 * Not @grpc/grpc-js (65 modules): one 600 KB file (not minified) measured about 1.5 MiB more
 * malloc'd memory settled (V8 parsing it whole), more than its resolutions cost.
 */
const VENDOR = ['yaml'];
const vendorFile = (id) => `dist/vendor/${id.replace('/', '+')}.cjs`;
/** The generated entry holding every lib/ module (the dist/lib/**.js facades import it). */
const LIB_ENTRY = 'lib/_modules';
const LIB_ENTRY_SPEC = 'thanos-build:lib-modules';

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

const toPosix = (p) => p.split(path.sep).join('/');

/** The packages the artifact may load at run time (package.json dependencies; dev packages are pruned from the image). */
function runtimePackages() {
  const pj = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return new Set(Object.keys(pj.dependencies ?? {}));
}
/** `@scope/name/sub` or `name/sub` -> the package name. */
const packageOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

/**
 * Export names of each lib/ module, star re-exports included: one throwaway bundle with every module
 * an entry, whose metafile lists each entry's exports.
 */
async function exportNames(modules, runtime) {
  const outdir = path.join(ROOT, '.exports-scan');
  const r = await esbuild.build({
    absWorkingDir: ROOT, entryPoints: modules, outbase: '.', outdir, bundle: true, splitting: true, packages: 'external',
    format: 'esm', platform: 'node', target: 'es2022', write: false, metafile: true, logLevel: 'warning',
  });
  const names = new Map();
  for (const o of Object.values(r.metafile.outputs)) if (o.entryPoint) names.set(o.entryPoint, o.exports);
  const devOnly = new Set();
  for (const [input, o] of Object.entries(r.metafile.inputs)) {
    if (o.imports.some((i) => i.external && !i.path.startsWith('node:') && !runtime.has(packageOf(i.path)))) devOnly.add(input);
  }
  // ... and what imports such a module.
  for (let grew = true; grew;) {
    grew = false;
    for (const [input, o] of Object.entries(r.metafile.inputs)) {
      if (!devOnly.has(input) && o.imports.some((i) => devOnly.has(i.path))) { devOnly.add(input); grew = true; }
    }
  }
  return { names, devOnly };
}

/** `name` exported by lib/ module number i, as the generated entry re-exports it. */
const facadeName = (i, name) => `m${i}$${name}`;

/** One esbuild run over the entries; `metaUrl(rel)` is what `import.meta.url` becomes in the module at `rel`. */
function bundle(entries, libModules, names, outdir, metaUrl) {
  return esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entries.map((rel) => ({ in: rel, out: rel.replace(/\.ts$/, '') })).concat([{ in: LIB_ENTRY_SPEC, out: LIB_ENTRY }]),
    outdir,
    bundle: true,
    splitting: true,
    // npm packages stay in node_modules (CommonJS ones are required through lib/cjs on purpose).
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    sourcemap: 'linked',
    sourcesContent: false,
    // host/loader.ts: built-in plugins and the isolated-plugin child load from dist/ too.
    // lib/cjs/require.ts: the vendored packages (repository-relative files).
    define: { __THANOS_DIST__: 'true', __THANOS_VENDORED__: JSON.stringify(Object.fromEntries(VENDOR.map((id) => [id, vendorFile(id)]))) },
    write: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [{
      name: 'thanos-dist',
      setup(b) {
        b.onResolve({ filter: /^thanos-build:lib-modules$/ }, (args) => ({ path: args.path, namespace: 'thanos-build' }));
        b.onLoad({ filter: /.*/, namespace: 'thanos-build' }, () => ({
          // Named re-exports, not `export * as`: a namespace object would be built (a getter per
          // export) in every chunk holding a lib/ module, at every start, loaded or not.
          contents: libModules.map((rel, i) => `export { ${names.get(rel).map((n) => `${n} as ${facadeName(i, n)}`).join(', ')} } from ${JSON.stringify(`./${rel}`)};`).join('\n'),
          resolveDir: ROOT,
          loader: 'js',
        }));
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          const rel = toPosix(path.relative(ROOT, args.path));
          let text = await fs.promises.readFile(args.path, 'utf8');
          if (text.includes('import.meta.url')) text = text.replaceAll('import.meta.url', metaUrl(rel));
          return { contents: text, loader: 'ts' };
        });
      },
    }],
  });
}

/** The VENDOR packages, each one CommonJS file (with its map) under out/vendor/. */
async function vendor(out) {
  const req = createRequire(path.join(ROOT, 'package.json'));
  const files = [];
  for (const id of VENDOR) {
    const r = await esbuild.build({
      absWorkingDir: ROOT, entryPoints: [req.resolve(id)], outfile: path.join(out, path.relative('dist', vendorFile(id))), bundle: true,
      format: 'cjs', platform: 'node', target: 'es2022', sourcemap: 'linked', sourcesContent: false, write: false, logLevel: 'warning',
      // Minified (names kept; its map names the package's own files): V8 parsing one 262 KB script
      // left about 1 MiB more malloc'd memory settled than the 162 KB it is minified.
      minifyWhitespace: true, minifySyntax: true,
    });
    for (const f of r.outputFiles) {
      // A package that finds files beside its modules would look in dist/vendor/ instead.
      if (f.path.endsWith('.cjs') && /\b__(dirname|filename)\b/.test(f.text)) throw new Error(`${id}: uses __dirname/__filename, which would name dist/vendor/ once bundled`);
      files.push(f);
    }
  }
  return files;
}

/** Output file (relative to the out dir) -> the source modules it holds; each module must be in exactly one. */
function placement(metafile, outdir) {
  const where = new Map();
  for (const [out, o] of Object.entries(metafile.outputs)) {
    if (!out.endsWith('.js')) continue;
    const file = toPosix(path.relative(outdir, path.resolve(ROOT, out)));
    for (const input of Object.keys(o.inputs)) {
      if (!input.endsWith('.ts')) continue;
      // Two copies of a module would be two instances of its state (metrics registries, classes).
      if (where.has(input)) throw new Error(`${input} is in both ${where.get(input)} and ${file}`);
      where.set(input, file);
    }
  }
  return where;
}

export async function build({ log = true } = {}) {
  const started = Date.now();
  const sources = SOURCE_DIRS.flatMap(listSources).sort();
  const entries = [...HOST_ENTRIES, ...sources.filter((rel) => /^plugins\/[^/]+\/[^/]+\/mod\.ts$/.test(rel))];
  // Built beside dist/ and swapped in with renames, so a process starting meanwhile (or a second
  // build: test files build on demand, two at a time) never sees a half-written dist/.
  const out = `${DIST}.tmp-${process.pid}-${Date.now()}`;
  // A lib/ module that needs a development package (lib/objstore/acceptance.ts: uvu) is for tests,
  // not for the artifact: left out of the facades, whose entry would load it.
  const { names, devOnly } = await exportNames(sources.filter((rel) => rel.startsWith('lib/')), runtimePackages());
  const libModules = [...names.keys()].filter((rel) => !devOnly.has(rel)).sort();
  // Pass 1 places the modules (which output holds each); its import.meta.url text is irrelevant.
  const placed = placement((await bundle(entries, libModules, names, out, () => 'import.meta.url')).metafile, out);
  // Pass 2: `import.meta.url` in a module -> its source file's URL, relative to the output file that holds it.
  const metaUrl = (rel) => {
    const file = placed.get(rel);
    if (!file) throw new Error(`${rel}: not placed in pass 1`);
    const up = '../'.repeat(file.split('/').length); // dist/ and the output's directories
    return `new URL(${JSON.stringify(up + rel)}, import.meta.url).href`;
  };
  const result = await bundle(entries, libModules, names, out, metaUrl);
  const again = placement(result.metafile, out);
  for (const [rel, file] of again) {
    if (placed.get(rel)?.split('/').slice(0, -1).join('/') !== file.split('/').slice(0, -1).join('/')) throw new Error(`${rel}: placed in ${placed.get(rel)}, then ${file}`);
  }
  let files = 0;
  for (const f of [...result.outputFiles, ...await vendor(out)]) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    // Maps carry a line index, so mapping a stack frame decodes a few lines, not a whole chunk's map.
    fs.writeFileSync(f.path, f.path.endsWith('.map') ? JSON.stringify(withLineIndex(JSON.parse(f.text))) : f.contents);
    if (f.path.endsWith('.js')) files++;
  }
  // Facades: dist/lib/<path>.js for every lib/ module (third-party plugins import them, from dist/
  // through bin/ts-plugins-hooks.mjs): the module's exports, re-exported from its one instance.
  libModules.forEach((rel, i) => {
    const js = `${rel.replace(/\.ts$/, '')}.js`;
    const file = path.join(out, js);
    if (fs.existsSync(file)) throw new Error(`${js}: a facade would replace a built output`);
    let spec = path.posix.relative(path.posix.dirname(js), `${LIB_ENTRY}.js`);
    if (!spec.startsWith('.')) spec = `./${spec}`;
    const list = names.get(rel).map((n) => `${facadeName(i, n)} as ${n}`).join(', ');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `// ${rel} (scripts/build.mjs: a facade of the bundle)\nexport { ${list} } from ${JSON.stringify(spec)};\n`);
  });
  // The stamp bin/thanos.mjs compares the sources against (written last: a half-written dist/ has none).
  fs.writeFileSync(path.join(out, '.build.json'), JSON.stringify({ builtAt: new Date().toISOString(), esbuild: esbuild.version, inputs: [...sources, ...BUILD_INPUTS] }, null, 1) + '\n');
  const old = `${DIST}.old-${process.pid}-${Date.now()}`;
  try { fs.renameSync(DIST, old); } catch (err) { if (err.code !== 'ENOENT') throw err; }
  fs.renameSync(out, DIST);
  fs.rmSync(old, { recursive: true, force: true });
  if (log) console.log(`dist/: ${sources.length} modules -> ${files} files (${entries.length} entries) + ${libModules.length} lib/ facades, ${VENDOR.length} packages vendored, with esbuild ${esbuild.version} in ${Date.now() - started} ms`);
}

/** Builds dist/ unless it is current (tests that run the artifact call this). */
export async function ensureBuilt() {
  if (!distIsCurrent()) await build({ log: false });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await build();
}

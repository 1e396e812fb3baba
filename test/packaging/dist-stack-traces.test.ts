// bin/dist-stack-traces.mjs: frames of modules under the given dist/ directory name their
// TypeScript source position (from the module's linked source map); other frames are untouched.
// Built with esbuild as scripts/build.mjs does, in a temporary directory, and run by a plain Node
// child (as bin/thanos.mjs runs dist/: this test's own process has tsx's loader, which would
// rewrite the built module).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SourceMap } from 'node:module';

const MODULE = new URL('../../bin/dist-stack-traces.mjs', import.meta.url).href;
type Entry = { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
const { LazySourceMap, withLineIndex } = (await import(MODULE)) as {
  LazySourceMap: new (json: object) => { find(line: number, column: number): Entry };
  withLineIndex(json: object, every?: number): object;
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-dist-stacks-'));
fs.writeFileSync(path.join(work, 'package.json'), '{"type":"module"}\n');
const distUrl = pathToFileURL(path.join(work, 'dist') + path.sep).href;

// Type-only lines before the throw, so the built line differs from the source line.
const SOURCE = `interface Options {
  reason: string;
  code?: number;
}

type Reason = Options['reason'];

export function fail(o: Options): never {
  const r: Reason = o.reason;
  throw new Error(\`failed: \${r}\`);
}
`;
const THROW_LINE = SOURCE.split('\n').findIndex((l) => l.includes('throw new Error')) + 1;

/** The stack of the error `call` (a function of the imported module `mod`) throws, in a plain Node child with dist/ mapped. */
function stackOf(file: string, call: string): string {
  const script = `import { mapDistStackTraces } from ${JSON.stringify(MODULE)};
mapDistStackTraces(new URL(${JSON.stringify(distUrl)}));
const mod = await import(${JSON.stringify(pathToFileURL(file).href)});
try { ${call}; } catch (err) { process.stdout.write(err.stack); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test.after(() => fs.rmSync(work, { recursive: true, force: true }));

test('a dist/ frame names the TypeScript source line; other frames are untouched', async () => {
  fs.writeFileSync(path.join(work, 'fail.ts'), SOURCE);
  await esbuild.build({
    absWorkingDir: work, entryPoints: ['fail.ts'], outbase: '.', outdir: path.join(work, 'dist'),
    bundle: false, format: 'esm', platform: 'node', target: 'es2022', sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
  });
  const built = fs.readFileSync(path.join(work, 'dist/fail.js'), 'utf8');
  const builtLine = built.split('\n').findIndex((l) => l.includes('throw new Error')) + 1;
  assert.ok(builtLine > 0 && builtLine !== THROW_LINE, `the build must move the line (built ${builtLine}, source ${THROW_LINE})`);

  const stack = stackOf(path.join(work, 'dist/fail.js'), 'mod.fail({ reason: "x" })');
  const lines = stack.split('\n');
  assert.is(lines[0], 'Error: failed: x');
  assert.match(lines[1]!, new RegExp(`^    at (?:Module\\.)?fail \\(${escape(pathToFileURL(path.join(work, 'fail.ts')).href)}:${THROW_LINE}:\\d+\\)$`), stack);
  // The calling script is not under dist/: its frame stays as V8 wrote it.
  assert.match(lines[2]!, /^    at file:\/\/\S+\[eval1\]:\d+:\d+$/, stack);
  assert.not.ok(stack.includes('dist/fail.js'), stack);
});

test('a dist/ module without a map keeps its built position', () => {
  const file = path.join(work, 'dist/nomap.js');
  fs.writeFileSync(file, 'export function boom() {\n  throw new Error("no map");\n}\n');
  const stack = stackOf(file, 'mod.boom()');
  assert.match(stack.split('\n')[1]!, new RegExp(`^    at (?:Module\\.)?boom \\(${escape(pathToFileURL(file).href)}:2:9\\)$`), stack);
});

// dist/ is bundled: a chunk holds several modules, its map several sources.
const HELPER = `// a comment line
export function helper(n: number): number {
  if (n > 1) throw new RangeError('too big');
  return n;
}
`;
const ENTRY = `import { helper } from './helper.ts';

type T = { n: number };
export function run(t: T): number {
  return helper(t.n) + 1;
}
`;

test('bundled: each frame names its own module\'s source line', async () => {
  fs.writeFileSync(path.join(work, 'helper.ts'), HELPER);
  fs.writeFileSync(path.join(work, 'entry.ts'), ENTRY);
  await esbuild.build({
    absWorkingDir: work, entryPoints: ['entry.ts'], outdir: path.join(work, 'dist/bundled'), bundle: true,
    format: 'esm', platform: 'node', target: 'es2022', sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
  });
  const stack = stackOf(path.join(work, 'dist/bundled/entry.js'), 'mod.run({ n: 2 })');
  const lines = stack.split('\n');
  assert.is(lines[0], 'RangeError: too big');
  assert.match(lines[1]!, new RegExp(`^    at helper \\(${escape(pathToFileURL(path.join(work, 'helper.ts')).href)}:3:\\d+\\)$`), stack);
  assert.match(lines[2]!, new RegExp(`^    at (?:Module\\.)?run \\(${escape(pathToFileURL(path.join(work, 'entry.ts')).href)}:5:\\d+\\)$`), stack);
});

test('LazySourceMap, with or without the build\'s line index, answers as node:module SourceMap.findEntry at every position', async () => {
  // A bundle of this repository's host/index.ts (several modules, lines with and without mappings).
  const r = await esbuild.build({
    absWorkingDir: path.resolve(import.meta.dirname, '../..'), entryPoints: ['host/index.ts'], outdir: path.join(work, 'cmp'), bundle: true,
    packages: 'external', format: 'esm', platform: 'node', target: 'es2022', sourcemap: 'external', sourcesContent: false, write: false, logLevel: 'silent',
  });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const json = JSON.parse(r.outputFiles.find((f) => f.path.endsWith('.map'))!.text);
  const node = new SourceMap(json);
  const maps = [new LazySourceMap(json), new LazySourceMap(JSON.parse(JSON.stringify(withLineIndex(json)))), new LazySourceMap(withLineIndex(json, 3))];
  const text = (e: Entry) => (e?.originalSource ? `${e.originalSource}:${e.originalLine}:${e.originalColumn}` : '-');
  const lines = js.split('\n');
  let n = 0;
  for (let line = 0; line < lines.length + 2; line++) {
    for (let col = 0; col <= (lines[line] ?? '').length + 1; col += 3) {
      const want = text(node.findEntry(line, col));
      for (const m of maps) {
        const got = text(m.find(line, col));
        if (got !== want) assert.unreachable(`line ${line} column ${col}: ${got}, node:module ${want}`);
      }
      n++;
    }
  }
  assert.ok(n > 5_000, `positions ${n}`);
});

test.run();

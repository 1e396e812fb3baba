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

const MODULE = new URL('../../bin/dist-stack-traces.mjs', import.meta.url).href;
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

test.run();

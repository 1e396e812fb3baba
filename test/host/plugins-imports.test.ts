// Plugins get files, network and env only through their Capabilities: no `node:` imports in plugins/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '../../plugins');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(p);
    return /\.(m|c)?[jt]sx?$/.test(e.name) ? [p] : [];
  });
}

// static imports/exports, dynamic import(), require(), with either quote style
const NODE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"`]node:[^'"`]+['"`]/;

test('the scanner recognises every spelling', () => {
  for (const s of [`import fs from 'node:fs';`, `import * as p from "node:path"`, `export { x } from 'node:os'`, `await import('node:net')`, `const c = require("node:child_process")`, `import 'node:crypto'`]) {
    assert.ok(NODE_IMPORT.test(s), s);
  }
  assert.not.ok(NODE_IMPORT.test(`// plugins use ctx.fs, never node:fs`));
});

test('no file under plugins/ imports a node: module', () => {
  const files = walk(root);
  assert.ok(files.length >= 2, `found plugin files (${files.length})`);
  const bad = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').map((line, i) => ({ f, i, line }))
    .filter(({ line }) => NODE_IMPORT.test(line))
    .map(({ f, i, line }) => `${path.relative(root, f)}:${i + 1}: ${line.trim()}`));
  assert.equal(bad, [], `plugins must use their Capabilities instead:\n${bad.join('\n')}`);
});

test.run();

// The layering rules (ARCHITECTURE.md) as tests: (a) lib/ never imports host/ or plugins/; (b) a
// plugin folder imports only lib/ and its own folder, so object-store providers and components never
// import each other or the host; (c) plugins reach the outside only through their capabilities (no
// host/server, no node: or network-client imports, no global fetch). Each rule runs on the real tree
// and, to prove it can fail, on synthetic file sets that break it. The checkers are in rules.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkCapabilitiesOnly, checkLibLayering, checkPluginIsolation, format, importsOf, loadTree, type FileSet, type Violation } from './rules.ts';

const tree = loadTree(['lib', 'host', 'plugins']);

function expectViolations(vs: Violation[], want: Array<[file: string, line: number, detail: RegExp]>) {
  assert.is(vs.length, want.length, `got:\n${format(vs)}`);
  for (const [file, line, detail] of want) {
    assert.ok(vs.some((v) => v.file === file && v.line === line && detail.test(v.detail)), `expected ${file}:${line} ${detail} in:\n${format(vs)}`);
  }
}

test('the import scanner sees every spelling, and only code', () => {
  const src = [
    `import a from '../x/a.ts';`,
    `import type { B } from "../x/b.ts";`,
    `export { c } from '../x/c.ts';`,
    `export * from '../x/d.ts';`,
    `const e = await import('../x/e.ts');`,
    `const f = require("../x/f.ts");`,
    'const g = await import(`../x/g.ts`);',
    `type H = import('../x/h.ts').H;`,
    `import i = require('../x/i.ts');`,
    `const j = await import(name);`,
    `// import k from '../x/k.ts'`,
    `const l = "import m from '../x/m.ts'";`,
  ].join('\n');
  const got = importsOf('lib/q/file.ts', src).map((i) => [i.line, i.spec, i.resolved ?? null]);
  assert.equal(got, [
    [1, '../x/a.ts', 'lib/x/a.ts'], [2, '../x/b.ts', 'lib/x/b.ts'], [3, '../x/c.ts', 'lib/x/c.ts'], [4, '../x/d.ts', 'lib/x/d.ts'],
    [5, '../x/e.ts', 'lib/x/e.ts'], [6, '../x/f.ts', 'lib/x/f.ts'], [7, '../x/g.ts', 'lib/x/g.ts'], [8, '../x/h.ts', 'lib/x/h.ts'],
    [9, '../x/i.ts', 'lib/x/i.ts'], [10, null, null],
  ]);
});

test('(a) lib/ never imports host/ or plugins/', () => {
  const bad: FileSet = {
    'lib/store/client.ts': `import { RawGrpcClient } from '../../host/server/grpc.ts';\nimport { x } from '../sdk/mod.ts';`,
    'lib/query/apis.ts': `import type { BuildInfo } from '../../host/index.ts';`,
    'lib/tsdb/x.ts': `\n\nconst p = await import('../../plugins/objstore/s3/mod.ts');`,
    'lib/ok.ts': `import { y } from './sdk/plugin.ts';\nimport YAML from 'yaml';\n// '../host/index.ts' in a comment is fine`,
    'host/main.ts': `import { x } from '../lib/sdk/mod.ts';\nimport { p } from '../plugins/component/query/mod.ts';`,
  };
  expectViolations(checkLibLayering(bad), [
    ['lib/store/client.ts', 1, /host\/server\/grpc\.ts/],
    ['lib/query/apis.ts', 1, /host\/index\.ts/],
    ['lib/tsdb/x.ts', 3, /plugins\/objstore\/s3\/mod\.ts/],
  ]);
  const vs = checkLibLayering(tree);
  assert.equal(vs, [], format(vs));
});

test('(b) a plugin folder imports only lib/ and its own folder', () => {
  const bad: FileSet = {
    'plugins/objstore/swift/mod.ts': `import { sign } from '../s3/sign.ts';\nimport { Bucket } from '../../../lib/objstore/bucket.ts';\nimport { own } from './own.ts';`,
    'plugins/component/store/mod.ts': `import { setupQuery } from '../query/mod.ts';`,
    'plugins/component/query/mod.ts': `import { BUILD_INFO } from '../../../host/index.ts';\nimport { Hono } from 'hono';`,
    'plugins/component/rule/sub/deep.ts': `import { a } from '../config.ts';\nimport { b } from '../../../objstore/memory/mod.ts';`,
    'plugins/objstore/memory/mod.ts': `import { x } from '../../../test/harness/ports.ts';`,
  };
  expectViolations(checkPluginIsolation(bad), [
    ['plugins/objstore/swift/mod.ts', 1, /another plugin \(plugins\/objstore\/s3\)/],
    ['plugins/component/store/mod.ts', 1, /another plugin \(plugins\/component\/query\)/],
    ['plugins/component/query/mod.ts', 1, /the host \(use lib\/sdk\)/],
    ['plugins/component/rule/sub/deep.ts', 2, /another plugin \(plugins\/objstore\/memory\)/],
    ['plugins/objstore/memory/mod.ts', 1, /test\/harness\/ports\.ts/],
  ]);
  const vs = checkPluginIsolation(tree);
  assert.equal(vs, [], format(vs));
});

test('(c) plugins reach the outside only through capabilities', () => {
  const bad: FileSet = {
    'plugins/component/a/mod.ts': [
      `import { startGrpc } from '../../../host/server/grpc.ts';`,
      `import * as net from 'node:net';`,
      `import fs from 'fs';`,
      `import * as grpc from '@grpc/grpc-js';`,
      `const cp = await import('node:child_process');`,
      `const m = await import(someName);`,
    ].join('\n'),
    'plugins/objstore/b/mod.ts': [
      `export async function get(u: string) {`,
      `  const r = await fetch(u);`,
      `  const g = await globalThis.fetch(u);`,
      `  const h = globalThis['fetch'];`,
      `  const opts = { fetch };`,
      `  return [r, g, h, opts];`,
      `}`,
    ].join('\n'),
    // what plugins do instead: ctx.fetch, their own fetch handlers, a parameter named fetch
    'plugins/component/c/mod.ts': [
      `// fetch('http://x') in a comment, and "fetch(" in a string`,
      `const s = "globalThis.fetch(";`,
      `export function mk(ctx: { fetch(u: string): Promise<Response> }) {`,
      `  return { async fetch(req: Request) { return ctx.fetch(req.url); }, fetch2: ctx.fetch };`,
      `}`,
      `class C { fetch(req: Request) { return new Response(req.url); } }`,
      `import { Hono } from 'hono';`,
    ].join('\n'),
    'plugins/component/d/mod.ts': [
      `export const run = (fetch: (u: string) => Promise<Response>) => fetch('http://x');`,
      `export function other(ctx: { fetch: typeof globalThis.fetch }) {`,
      `  const { fetch } = ctx;`,
      `  return fetch('http://y');`,
      `}`,
      `export const leak = () => fetch('http://z');`,
    ].join('\n'),
    // a plugin's web UI runs in the browser
    'plugins/component/e/ui/page.js': `fetch('/api/v1/query').then((r) => r.json());`,
  };
  expectViolations(checkCapabilitiesOnly(bad), [
    ['plugins/component/a/mod.ts', 1, /host\/server is the host's/],
    ['plugins/component/a/mod.ts', 2, /imports node:net/],
    ['plugins/component/a/mod.ts', 3, /imports fs/],
    ['plugins/component/a/mod.ts', 4, /@grpc\/grpc-js, a network client/],
    ['plugins/component/a/mod.ts', 5, /imports node:child_process/],
    ['plugins/component/a/mod.ts', 6, /computed specifier/],
    ['plugins/objstore/b/mod.ts', 2, /^fetch\(\.\.\.\) is the global fetch/],
    ['plugins/objstore/b/mod.ts', 3, /^globalThis\.fetch: /],
    ['plugins/objstore/b/mod.ts', 4, /^globalThis\['fetch'\]: /],
    ['plugins/objstore/b/mod.ts', 5, /^fetch is the global fetch/],
    // a local `fetch` elsewhere in the file does not excuse the global one here
    ['plugins/component/d/mod.ts', 6, /^fetch\(\.\.\.\) is the global fetch/],
  ]);
  const vs = checkCapabilitiesOnly(tree);
  assert.equal(vs, [], format(vs));
});

test('the real tree is what the rules scan', () => {
  const files = Object.keys(tree);
  for (const f of ['lib/sdk/plugin.ts', 'lib/store/client.ts', 'host/capabilities.ts', 'plugins/component/query/mod.ts']) assert.ok(files.includes(f), f);
  assert.ok(files.filter((f) => f.startsWith('plugins/objstore/')).length >= 4);
});

test.run();

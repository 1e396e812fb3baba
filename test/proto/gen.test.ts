// lib/proto/gen/ is generated from proto/ (`npm run gen:proto`) and committed. This regenerates it
// into a temporary folder with the pinned buf + protoc-gen-es from node_modules (no network) and
// fails on any difference, so a .proto edit without a regeneration (or a hand edit of gen/) is caught.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out.sort();
}

test('lib/proto/gen is what `npm run gen:proto` produces from proto/', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gen-proto-'));
  try {
    const bin = join(root, 'node_modules/.bin');
    execFileSync(join(bin, 'buf'), ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '--output', tmp], {
      cwd: root,
      env: { ...process.env, PATH: bin + delimiter + process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const committed = join(root, 'lib/proto/gen');
    const fresh = join(tmp, 'gen');
    const names = (d: string) => files(d).map((f) => relative(d, f));
    assert.equal(names(committed), names(fresh), 'file list differs: run `npm run gen:proto`');
    for (const f of names(fresh)) {
      assert.ok(readFileSync(join(committed, f), 'utf8') === readFileSync(join(fresh, f), 'utf8'), `${f} differs: run \`npm run gen:proto\``);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();

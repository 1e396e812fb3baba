// Issue #22: a hostile object-store plugin (test/fixtures/host/escape), and a hostile component
// (test/fixtures/host/escape-component) in process mode at the end, granted one directory and
// one port tries every way past its grant. With isolation: process (the default for a path or npm
// package) each attempt fails with an error naming what is missing, and a neighbour in the host
// keeps its requests to itself. The same attempts with isolation: inline + trust: true document
// what the host's process does not prevent (README "Security model"); the table there is this test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseManifest } from '../../host/manifest.ts';
import { buildObjstore } from '../../host/main.ts';
import { createLogger } from '../../host/log.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { Permissions } from '../../host/permissions.ts';
import { Registry } from '../../host/metrics.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import { startEscapeComponent } from '../fixtures/host/escape-component/start.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'escape-')));
const granted = path.join(tmp, 'granted');
fs.mkdirSync(granted);
fs.mkdirSync(path.join(tmp, 'outside'));
const secretFile = path.join(tmp, 'outside', 'secret.txt');
fs.writeFileSync(secretFile, 'TOP SECRET FILE');
fs.symlinkSync(secretFile, path.join(granted, 'link'));
process.env.ESCAPE_SECRET = 'TOP SECRET ENV';
const log = createLogger({ level: 'error' });

interface Srv { port: number; hits: Array<{ url: string; auth?: string }>; close(): Promise<void> }
async function server(): Promise<Srv> {
  const hits: Srv['hits'] = [];
  const s = http.createServer((req, res) => { hits.push({ url: req.url!, auth: req.headers.authorization }); res.end('ok'); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as { port: number }).port, hits, close: () => new Promise((r) => s.close(() => r())) };
}
const granted_srv = await server();
const ungranted = await server();

const fixture = path.relative(tmp, path.join(repo, 'test/fixtures/host/escape'));
async function evil(mode: 'process' | 'inline'): Promise<Bucket> {
  const text = `apiVersion: 1
objstore:
  - id: evil
    use: ./${fixture}
    config: { dir: ${granted}, secretFile: ${secretFile}, secretEnv: ESCAPE_SECRET, ungrantedPort: ${ungranted.port} }
    permissions: { read: [./granted], write: [./granted], net: ["127.0.0.1:${granted_srv.port}"] }
${mode === 'inline' ? '    isolation: inline\n    trust: true\n' : ''}`;
  const file = path.join(tmp, `plugins-${mode}.yaml`);
  fs.writeFileSync(file, text);
  const m = parseManifest(text, file);
  return (await buildObjstore(m, m.objstore[0]!, log)).get();
}

// The neighbour: a plugin in the host's process signing its requests (as S3 does).
const neighbour = createCapabilities({
  permissions: new Permissions({ pluginId: 'objstore:s3', request: { net: true }, grant: { net: [`127.0.0.1:${granted_srv.port}`] }, grantKey: 'objstore[1].permissions', grantBaseDir: tmp }),
  log, metrics: new Registry(),
});
const AUTH = 'AWS4-HMAC-SHA256 Credential=AKIDNEIGHBOUR/20260101/us-east-1/s3/aws4_request, Signature=abc';
async function neighbourRequest(): Promise<void> {
  const res = await neighbour.fetch(`http://127.0.0.1:${granted_srv.port}/bucket/object`, { headers: { authorization: AUTH } });
  await res.text();
}

async function attempt(b: Bucket, name: string): Promise<{ ok: true; value: string } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: new TextDecoder().decode(await readAll(await b.get(`attempt/${name}`))) };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

/** In process mode: what each attempt's error must say (the missing grant, as the runtime or the host names it). */
const PROCESS_DENIALS: Record<string, RegExp> = {
  'fs-import': /Requires read access to ".*secret\.txt"/,
  'env-secret': /Requires env access to "ESCAPE_SECRET"/,
  // Deno's node:child_process reads NODE_V8_COVERAGE first; Deno.Command would say run access
  'child-process': /Requires (run access to "cat"|env access to "NODE_V8_COVERAGE")/,
  'global-fetch': new RegExp(`Requires net access to "127\\.0\\.0\\.1:${ungranted.port}"`),
  'worker': /Requires read access to ".*secret\.txt"/,
  // the import itself works (the module is in the plugin process's graph already), its use does not
  'host-internals': /Requires read access to ".*secret\.txt"/,
  'process-exit': /permission denied: plugin objstore:escape called process\.exit\(3\): an isolated plugin cannot end its process/,
  'symlink-ctx': /permission denied: plugin objstore:escape called fs\.readFile\(.*secret\.txt\); grant it with objstore\[0\]\.permissions\.read in plugins\.yaml/,
  'symlink-create': /symlinkSync\(\) requires unscoped --allow-read and --allow-write/,
  'process-binding': /process\.binding\('fs'\) has no open: no file access through it/,
  'get-builtin-module': /Requires read access to ".*secret\.txt"/,
  'eval': /Requires env access to "ESCAPE_SECRET"/,
  'function': /Requires read access to ".*secret\.txt"/,
  'webassembly': /Requires read access to ".*secret\.txt"/,
  'patch-globals': /no undici dispatcher in this process: nothing shared to patch/,
};

test('process mode: every attempt fails naming the missing grant; the neighbour is untouched', async () => {
  const b = await evil('process');
  for (const [name, re] of Object.entries(PROCESS_DENIALS)) {
    const r = await attempt(b, name);
    assert.ok(!r.ok, `${name} must fail, got ${r.ok ? JSON.stringify(r.value) : ''}`);
    if (!r.ok) assert.match(r.error.message, re, `${name}: ${r.error.message}`);
  }
  assert.equal(ungranted.hits, [], 'the ungranted port was never reached');
  // Replacing fetch in its own process changes nothing for the host's plugins.
  const installed = await attempt(b, 'replace-fetch');
  assert.ok(installed.ok);
  await neighbourRequest();
  assert.equal(await attempt(b, 'captured'), { ok: true, value: '[]' });
  assert.is(granted_srv.hits.at(-1)!.auth, AUTH, 'the neighbour\'s request went out intact');
  // Still answering: process.exit was refused, not obeyed.
  assert.ok((await attempt(b, 'captured')).ok);
  await b.close();
});

test('process mode, known gap: a symlink someone else placed in a granted directory is followed by the runtime\'s own file API', async () => {
  // Deno checks the path it is given, not where a symlink leads (ctx.fs checks both: symlink-ctx
  // above). The plugin cannot make such a link itself (symlink-create). README "Security model".
  const b = await evil('process');
  assert.equal(await attempt(b, 'symlink-node'), { ok: true, value: 'TOP SECRET FILE' });
  await b.close();
});

/** Inline: what the host's process prevents (true) and what it does not (false). */
const INLINE_PREVENTED: Record<string, boolean> = {
  'fs-import': false, 'env-secret': false, 'child-process': false, 'global-fetch': false, 'worker': false,
  'host-internals': false, 'symlink-ctx': true, 'symlink-create': false, 'symlink-node': false, 'process-binding': false,
  'get-builtin-module': false, 'eval': false, 'function': false, 'webassembly': false,
};

test('inline mode (trust: true): documents which attempts the host\'s process does not prevent', async () => {
  const b = await evil('inline');
  const dispatcher = (globalThis as Record<symbol, object>)[Symbol.for('undici.globalDispatcher.1')]!;
  const proto = Object.getPrototypeOf(dispatcher) as { dispatch: unknown };
  const origDispatch = proto.dispatch;
  const origFetch = globalThis.fetch;
  try {
    for (const [name, prevented] of Object.entries(INLINE_PREVENTED)) {
      const r = await attempt(b, name);
      assert.is(!r.ok, prevented, `${name}: ${r.ok ? r.value.slice(0, 40) : r.error.message}`);
      if (r.ok && name !== 'process-binding') assert.match(r.value, /TOP SECRET|^ok$/, name);
    }
    assert.is(ungranted.hits.length, 1, 'inline, the global fetch reached the ungranted port');
    // process.exit is not run here (it would end the test): inline, nothing stops it.
    // Replacing globalThis.fetch: the neighbour's ctx.fetch was captured before plugins loaded.
    assert.ok((await attempt(b, 'replace-fetch')).ok);
    await neighbourRequest();
    assert.equal(await attempt(b, 'captured'), { ok: true, value: '[]' }, 'replacing globalThis.fetch sees nothing of ctx.fetch');
    // Patching the shared HTTP machinery's prototype: not prevented inline.
    assert.ok((await attempt(b, 'patch-globals')).ok);
    await neighbourRequest();
    const seen = await attempt(b, 'captured');
    assert.ok(seen.ok && seen.value.includes('AKIDNEIGHBOUR'), 'inline, a patched prototype sees the neighbour\'s Authorization');
  } finally {
    proto.dispatch = origDispatch;
    globalThis.fetch = origFetch;
  }
  await b.close();
});

test('inline for a third-party plugin needs trust: true; trust without inline is refused', async () => {
  const file = path.join(tmp, 'p.yaml');
  let text = `apiVersion: 1\nobjstore:\n  - id: evil\n    use: ./${fixture}\n    isolation: inline\n`;
  let m = parseManifest(text, file);
  await buildObjstore(m, m.objstore[0]!, log).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /p\.yaml:5: objstore\[0\]\.isolation: isolation: inline runs the third-party plugin ".*escape" in the host's process, where no grant is enforced; add trust: true/);
  });
  text = `apiVersion: 1\nobjstore:\n  - id: evil\n    use: memory\n    trust: true\n`;
  assert.throws(() => parseManifest(text, file), /objstore\[0\]\.trust: trust: true only applies with isolation: inline/);
  text = `apiVersion: 1\nobjstore:\n  - id: evil\n    use: memory\n    isolation: sandbox\n`;
  assert.throws(() => parseManifest(text, file), /objstore\[0\]\.isolation: expected process or inline/);
  text = `apiVersion: 1\nobjstore:\n  - id: evil\n    use: ./${fixture}\n    permissions: { net: ["*:9000"] }\n`;
  m = parseManifest(text, file);
  await buildObjstore(m, m.objstore[0]!, log).then(() => assert.unreachable(), (err) => {
    assert.match(err.message, /objstore\[0\]\.permissions\.net: "\*:9000": a wildcard host or port cannot be enforced in an isolated process/);
  });
});

/** A component in process mode (the default for a path or npm package): what each attempt's error says. */
const COMPONENT_DENIALS: Record<string, RegExp> = {
  'fs-import': /Requires read access to ".*secret\.txt"/,
  'ctx-fs': /permission denied: plugin component:escape called fs\.readFile\(.*secret\.txt\); grant it with components\[0\]\.permissions\.read in plugins\.yaml/,
  'env-secret': /Requires env access to "ESCAPE_SECRET"/,
  'child-process': /Requires (run access to "cat"|env access to "NODE_V8_COVERAGE")/,
  'global-fetch': new RegExp(`Requires net access to "127\\.0\\.0\\.1:${ungranted.port}"`),
  'ctx-fetch': new RegExp(`permission denied: plugin component:escape called fetch\\(127\\.0\\.0\\.1:${ungranted.port}\\); grant it with components\\[0\\]\\.permissions\\.net`),
  'ctx-connect': new RegExp(`permission denied: plugin component:escape called connect\\(127\\.0\\.0\\.1:${ungranted.port}\\); grant it with components\\[0\\]\\.permissions\\.net`),
  'ctx-listen': /permission denied: plugin component:escape called listen\(127\.0\.0\.1:\d+\); grant it with components\[0\]\.permissions\.net/,
  'net-listen': /Requires net access to "127\.0\.0\.1:\d+"/,
  'grpc-dial': new RegExp(`permission denied: plugin component:escape called grpcDial\\(127\\.0\\.0\\.1:${ungranted.port}\\); grant it with components\\[0\\]\\.permissions\\.net`),
  'process-exit': /permission denied: plugin component:escape called process\.exit\(3\): an isolated plugin cannot end its process/,
};

test('component in process mode: every attempt fails naming the missing grant, while its granted port serves', async () => {
  const dir = path.join(tmp, 'component');
  fs.mkdirSync(dir);
  const c = await startEscapeComponent({ dir, secretFile, secretEnv: 'ESCAPE_SECRET', ungrantedPort: ungranted.port });
  const hitsBefore = ungranted.hits.length;
  try {
    for (const [name, re] of Object.entries(COMPONENT_DENIALS)) {
      const r = await fetch(`http://127.0.0.1:${c.port}/attempt/${name}`);
      const text = await r.text();
      assert.is(r.status, 403, `${name} must fail, got ${text}`);
      assert.match(text, re, `${name}: ${text}`);
    }
    assert.is(ungranted.hits.length, hitsBefore, 'the ungranted port was never reached');
    // Still serving on its granted port: process.exit was refused, not obeyed.
    const ok = await fetch(`http://127.0.0.1:${c.port}/attempt/granted-fs`);
    assert.is(ok.status, 200);
    assert.is(await ok.text(), 'mine');
  } finally {
    assert.is((await c.stop()).code, 0, c.lines.join(''));
  }
});

test.after(async () => {
  await granted_srv.close();
  await ungranted.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();

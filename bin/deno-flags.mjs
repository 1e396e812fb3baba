#!/usr/bin/env node
// Deno's permission flags for running a plugins.yaml under `deno run`, generated from the manifest's
// grants so that the runtime's own sandbox is no wider than what the operator granted:
//
//   deno run $(node bin/deno-flags.mjs -c plugins.yaml) bin/thanos.mjs run -c plugins.yaml
//
// (also runs under Deno or Bun itself). Flags, each a union over the manifest:
//   --allow-read   the package (its code, node_modules, the WASM core, the UI assets, package.json
//                  and .git for the build info), the manifest, every read and write grant, every
//                  dataDir, httpConfig, grpcTls and requestLoggingConfigFile path
//   --allow-write  every write grant and dataDir
//   --allow-net    every net grant and every http/grpc listen address
//   --allow-env    every env grant, and the settings the runtime and libraries read at load time
//                  (LIBRARY_ENV below: grpc-js's GRPC_*, proxies, OTEL_*, TMPDIR/HOME, THANOS_*)
//   --allow-sys    what Node's process metrics read (process_* gauges: memory, CPU, load)
//   --allow-run    the Deno binary, only if an objstore entry runs isolated (isolation: process),
//                  and then the temp directory its entry files and sockets live in
// A grant of `true` for a kind becomes the bare `--allow-<kind>`; deny lists become --deny-<kind>.
// Paths resolve against the manifest's directory, as the host resolves them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Variables the host and its libraries read whatever the manifest says (none is a plugin secret). */
export const LIBRARY_ENV = ['GRPC_*', 'grpc_proxy', 'no_grpc_proxy', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY',
  'OTEL_*', 'NODE_*', 'LOG_TOKENS', 'LOG_STREAM', 'TMPDIR', 'TMP', 'TEMP', 'HOME', 'THANOS_*'];

async function hostModules() {
  // The built artifact when there is one; the sources otherwise (natively on Deno/Bun, tsx on Node).
  if (fs.existsSync(path.join(ROOT, 'dist/.build.json')) && process.env.THANOS_RUN_FROM !== 'sources') {
    return { manifest: await import('../dist/host/manifest.js'), isolate: await import('../dist/host/isolate/host.js') };
  }
  if (typeof globalThis.Deno === 'undefined' && typeof globalThis.Bun === 'undefined') (await import('tsx/esm/api')).register();
  return { manifest: await import('../host/manifest.ts'), isolate: await import('../host/isolate/host.ts') };
}

/** Parses `-c file` / `--config file` / `--config=file`. */
function manifestArg(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-c' || a === '--config') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
    if (a === '-h' || a === '--help') return undefined;
    throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  return 'plugins.yaml';
}

/** The flags for a parsed manifest (host/manifest.ts Manifest); `denoFlags` is host/isolate/host.ts's. */
export function manifestDenoFlags(m, denoFlags, opts = {}) {
  const root = opts.root ?? ROOT;
  const kinds = { read: new Set([root, m.file]), write: new Set(), net: new Set(), env: new Set(LIBRARY_ENV) };
  const all = { read: false, write: false, net: false, env: false };
  const deny = { read: new Set(), write: new Set(), net: new Set(), env: new Set() };
  const entries = [...m.objstore, ...m.components.filter((c) => c.enabled)];
  for (const e of entries) {
    // The one owner of "grant -> Deno flags" is the isolate's denoFlags; union its output here.
    for (const flag of denoFlags(e.permissions, m.dir, `${e.key}.permissions`)) {
      const mt = /^--(allow|deny)-(read|write|net|env)(?:=(.*))?$/.exec(flag);
      if (!mt) continue;
      const [, mode, kind, list] = mt;
      if (mode === 'allow' && list === undefined) all[kind] = true;
      for (const v of list ? list.split(',') : []) (mode === 'allow' ? kinds : deny)[kind].add(v);
    }
    // A write grant without read would let the plugin create files it cannot read back.
    for (const w of denoFlags({ write: e.permissions.write }, m.dir, `${e.key}.permissions`)) {
      const list = /^--allow-write=(.*)$/.exec(w)?.[1];
      for (const v of list ? list.split(',') : []) kinds.read.add(v);
      if (w === '--allow-write') all.read = true;
    }
  }
  for (const c of m.components.filter((c) => c.enabled)) {
    for (const addr of [c.http, c.grpc]) if (addr) kinds.net.add(addr.startsWith(':') ? `0.0.0.0${addr}` : addr);
    if (c.dataDir) { const d = path.resolve(m.dir, c.dataDir); kinds.read.add(d); kinds.write.add(d); }
    for (const f of [c.httpConfig, c.requestLoggingConfigFile, c.grpcTls?.certFile, c.grpcTls?.keyFile, c.grpcTls?.clientCaFile]) {
      if (f) kinds.read.add(path.resolve(m.dir, f));
    }
  }
  const out = [];
  const isolated = m.objstore.some((o) => o.isolation === 'process');
  if (isolated) {
    const tmp = os.tmpdir();
    kinds.read.add(tmp); kinds.write.add(tmp);
    out.push(`--allow-run=${opts.denoBinary ?? path.join(root, 'node_modules/.bin/deno')}`);
  }
  for (const kind of ['read', 'write', 'net', 'env']) {
    if (all[kind]) out.push(`--allow-${kind}`);
    else if (kinds[kind].size) out.push(`--allow-${kind}=${[...kinds[kind]].sort().join(',')}`);
    if (deny[kind].size) out.push(`--deny-${kind}=${[...deny[kind]].sort().join(',')}`);
  }
  // process_* metrics and os.tmpdir()/homedir(): Deno asks for these sys/env reads.
  out.push('--allow-sys=osRelease,loadavg,uid,gid,hostname,homedir,cpus');
  return out;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  let file;
  try {
    file = manifestArg(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`deno-flags: ${err.message}\nusage: deno-flags.mjs [-c plugins.yaml]\n`);
    process.exit(2);
  }
  if (file === undefined) {
    process.stdout.write('usage: deno-flags.mjs [-c plugins.yaml]\nPrints the `deno run` permission flags for the manifest, one per line.\n');
    process.exit(0);
  }
  try {
    const { manifest, isolate } = await hostModules();
    const m = manifest.readManifest(path.resolve(file));
    process.stdout.write(manifestDenoFlags(m, isolate.denoFlags).join('\n') + '\n');
  } catch (err) {
    process.stderr.write(`deno-flags: ${err.message}\n`);
    process.exit(2);
  }
}

// Runs what the command line asked for (host/cli.ts parses it): a component, a tool, or a whole
// plugins.yaml. Nothing Thanos-specific happens here: the component plugins declare their flags
// and do the work; the host handles the common flags, the manifest, grants and lifecycle.
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import * as path from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import { BucketConfigError, bucketConfigFromObject, createBucket, parseBucketConfig, type BucketConfig } from '../lib/objstore/factory.ts';
import { NoObjectStorageError } from '../lib/objstore/kit/errors.ts';
import { MetricsBucket } from '../lib/objstore/metrics.ts';
import type { Bucket, ComponentContext, ComponentPlugin, Core, ListenOptions, Logger, ObjstorePlugin, PermissionRequest } from './index.ts';
import { ConfigError } from './index.ts';
import { createCapabilities } from './capabilities.ts';
import { loadServerTls } from './server/tls.ts';
import { FlagError, formatFlagsHelp, hostFlagSpecs, parseFlagDuration } from '../lib/sdk/flags.ts';
import { loadBuiltinObjstore, loadUse, NotImplementedError } from './loader.ts';
import { loadComponentEntry, loadObjstoreEntry, type LoadedComponent, type LoadedObjstore } from './isolate/entry.ts';
import { IsolationError } from './isolate/errors.ts';
import { objstoreHandle, runGroup, type ObjstoreHandle, type UnitSpec } from './lifecycle.ts';
import { createLogger } from './log.ts';
import { loadTracingYaml, setupTracing, type TracingHandle } from './tracing.ts';
import { expandEnv, parseRequestLoggingConfig, RequestLoggingConfigError, requestLoggingFromObject, type RequestLogging } from '../lib/web/reqlog.ts';
import { ManifestError, readManifest, startOrder, type Manifest, type ObjstoreEntry } from './manifest.ts';
import { Registry, processMetrics, renderAll } from './metrics.ts';
import { Permissions } from './permissions.ts';
import { resolveSecrets, SecretError } from './secrets.ts';
import { BUILD_INFO } from './version.ts';
import { componentFlags, componentHelp, parseCommandLine, toolsHelp, usage, UsageError, type HostSettings, type Invocation } from './cli.ts';

// The command line is parsed in host/cli.ts; tests and bin import it from here too.
export { parseCommandLine, UsageError, usage, type HostSettings, type Invocation, type ParseCommandLineOptions } from './cli.ts';

function loadObjstoreYaml(host: HostSettings): BucketConfig | undefined {
  if (host.objstoreConfigFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(host.objstoreConfigFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--objstore.config-file: cannot read ${host.objstoreConfigFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseBucketConfig(text, host.objstoreConfigFile);
  }
  if (host.objstoreConfig !== undefined) return parseBucketConfig(host.objstoreConfig, '--objstore.config');
  return undefined;
}

/**
 * --request.logging-config-file / --request.logging-config (extflag PathOrContent with environment
 * substitution, as upstream): checked before anything starts; a bad one is a usage error.
 */
function loadRequestLogging(host: HostSettings): RequestLogging | undefined {
  const file = host.requestLoggingConfigFile;
  let text = host.requestLoggingConfig;
  let source = '--request.logging-config';
  if (file !== undefined && file !== '') {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--request.logging-config-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    source = file;
  }
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return parseRequestLoggingConfig(expandEnv(text, (n) => process.env[n]), source);
  } catch (err) {
    if (err instanceof RequestLoggingConfigError) throw new UsageError(`request logging config: ${err.message}`);
    throw err;
  }
}

/** Loads the provider and checks its config before anything starts (clear errors, exit 2). */
async function checkCliObjstore(cfg: BucketConfig): Promise<void> {
  const p = await loadBuiltinObjstore(cfg.type);
  try {
    p.parseConfig(resolveSecrets(cfg.config, Permissions.all(p.manifest.id, p.manifest.permissions), 'config'));
  } catch (err) {
    throw new BucketConfigError(`${cfg.source}: type ${cfg.type}: ${(err as Error).message}`);
  }
}

/** An objstore handle for the command line (all permissions the provider asks for). */
function cliObjstore(cfg: BucketConfig, log: Logger): ObjstoreHandle {
  const reg = new Registry();
  // No metrics wrapper here: each component wraps the bucket with its own (lifecycle.ts).
  return objstoreHandle(cfg.type.toLowerCase(), reg, () =>
    createBucket(cfg, {
      loadProvider: loadBuiltinObjstore,
      capabilities: (p: ObjstorePlugin) =>
        createCapabilities({ permissions: Permissions.all(p.manifest.id, p.manifest.permissions), log: log.with({ objstore: cfg.type }), metrics: reg }),
      transformConfig: (raw, p) => resolveSecrets(raw, Permissions.all(p.manifest.id, p.manifest.permissions), 'objstore config'),
    }));
}

async function makeCore(backend: 'wasm' | 'js' = 'wasm'): Promise<Core> {
  return createCore({ backend });
}

async function runComponent(inv: Extract<Invocation, { kind: 'component' }>): Promise<number> {
  const h = inv.host;
  const log = createLogger({ level: h.logLevel, format: h.logFormat });
  const cfg = loadObjstoreYaml(h);
  if (cfg) await checkCliObjstore(cfg);
  const unit: UnitSpec = {
    id: inv.name,
    key: `thanos ${inv.name}`,
    plugin: inv.plugin,
    config: inv.config,
    permissions: Permissions.all(inv.plugin.manifest.id, inv.plugin.manifest.permissions),
    http: h.http,
    httpConfig: h.httpConfig ? path.resolve(h.httpConfig) : undefined,
    grpc: h.grpc,
    grpcOnlyIfServices: !h.grpcGiven,
    grpcTls: h.grpcTls,
    // Absent when the component refuses the flag (it has no gRPC listener to age).
    grpcMaxConnectionAgeMs: h.grpcMaxConnectionAge ? parseFlagDuration(h.grpcMaxConnectionAge) : 0,
    dataDir: h.dataDir ? path.resolve(h.dataDir) : undefined,
    objstore: cfg ? cliObjstore(cfg, log) : undefined,
    objstoreHint: 'pass --objstore.config-file or --objstore.config',
    requestLogging: loadRequestLogging(h),
  };
  const grace = Math.max(parseFlagDuration(h.httpGracePeriod), parseFlagDuration(h.grpcGracePeriod));
  const tracingCfg = loadTracingYaml(h);
  log.info(`starting ${inv.name}`, { version: BUILD_INFO.version, revision: BUILD_INFO.revision });
  const tracing = tracingCfg ? await setupTracing(tracingCfg, { defaultServiceName: `thanos-${inv.name}`, log }) : undefined;
  const res = await runGroup([unit], { log, core: () => makeCore(), gracePeriodMs: grace });
  // Spans still buffered go out before the process ends (bounded by the exporter's timeout).
  await tracing?.shutdown();
  if (res.timedOut) process.exit(res.code);
  return res.code;
}

async function runTool(inv: Extract<Invocation, { kind: 'tool' }>): Promise<number> {
  const h = inv.host;
  const log = createLogger({ level: h.logLevel, format: h.logFormat });
  const cfg = loadObjstoreYaml(h);
  if (cfg) await checkCliObjstore(cfg);
  const os = cfg ? cliObjstore(cfg, log) : undefined;
  // Buckets a tool opened from its own flags (ctx.openBucket), closed with the tool.
  const extraHandles: ObjstoreHandle[] = [];
  const tracingCfg = loadTracingYaml(h);
  let tracing: TracingHandle | undefined;
  const ac = new AbortController();
  // Every component, server and in-flight request listens on the one process signal.
  setMaxListeners(0, ac.signal);
  const onSig = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    log.info('caught signal, stopping', { signal: sig });
    ac.abort(new Error(`signal ${sig}`));
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    if (tracingCfg) tracing = await setupTracing(tracingCfg, { defaultServiceName: 'thanos-tools', log });
    const reg = new Registry();
    const procReg = new Registry();
    procReg.addCollector(processMetrics);
    let toolBucket: Promise<Bucket> | undefined;
    let ready = true;
    const caps = createCapabilities({ permissions: Permissions.all(inv.plugin.manifest.id, inv.plugin.manifest.permissions), log, metrics: reg });
    // --http.config (accepted only by tools that serve HTTP: bucket web, bucket replicate) applies to the tool's listener.
    const webConfigFile = h.httpConfig ? path.resolve(h.httpConfig) : undefined;
    // A tool's HTTP server is Thanos's http.New too: probes and /metrics before the tool's own routes.
    const toolRoutes = (handler: (req: Request) => Response | Promise<Response>) => (req: Request): Response | Promise<Response> => {
      const p = new URL(req.url).pathname;
      if (req.method === 'GET' || req.method === 'HEAD') {
        if (p === '/-/healthy') return new Response('OK', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
        if (p === '/-/ready') return ready ? new Response('OK', { headers: { 'content-type': 'text/plain; charset=utf-8' } }) : new Response('NOT READY', { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } });
        if (p === '/metrics') return new Response(renderAll([procReg, reg]), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
      }
      return handler(req);
    };
    const ctx: ComponentContext = {
      ...caps,
      listen: (o: ListenOptions, handler: (req: Request) => Response | Promise<Response>) => caps.listen(webConfigFile ? { ...o, webConfigFile } : o, toolRoutes(handler)),
      openBucket: async ({ yaml, source, metricLabels }) => {
        let handle = os;
        if (yaml !== undefined) {
          let c: BucketConfig;
          try {
            c = parseBucketConfig(yaml, source ?? 'objstore config');
            await checkCliObjstore(c);
          } catch (err) {
            // A bad or unknown configuration is a usage error (exit 2), as for --objstore.config.
            throw new FlagError((err as Error).message);
          }
          handle = cliObjstore(c, log);
          extraHandles.push(handle);
        }
        if (!handle) throw new NoObjectStorageError(`thanos tools ${inv.command.name}`, 'pass --objstore.config-file or --objstore.config');
        const b = await handle.get();
        return new MetricsBucket(b, reg, handle.bucketName, metricLabels);
      },
      core: await makeCore(),
      dataDir: h.dataDir ? path.resolve(h.dataDir) : undefined,
      signal: ac.signal,
      addresses: { http: h.http, grpc: h.grpc },
      build: BUILD_INFO,
      stdout: { write: (t) => new Promise<void>((r) => { process.stdout.write(t) ? r() : process.stdout.once('drain', r); }) },
      stderr: { write: (t) => void process.stderr.write(t) },
      setReady: (r) => { ready = r; },
      bucket: async () => {
        if (!os) throw new NoObjectStorageError(`thanos tools ${inv.command.name}`, 'pass --objstore.config-file or --objstore.config');
        return (toolBucket ??= os.get().then((b) => new MetricsBucket(b, reg, os.bucketName)));
      },
    };
    return await inv.command.run(ctx, inv.argv);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await os?.close().catch(() => {});
    for (const x of extraHandles) await x.close().catch(() => {});
    await tracing?.shutdown();
  }
}

function configFail(fail: (key: string, detail: string) => never, base: string, err: unknown): never {
  if (err instanceof SecretError) return fail(err.key, err.detail);
  const k = configErrorKey(err);
  const msg = (err as Error).message;
  const detail = err instanceof ConfigError && err.key && msg.startsWith(`${err.key}: `) ? msg.slice(err.key.length + 2) : msg;
  return fail(k ? `${base}.config.${k}` : `${base}.config`, detail);
}

function configErrorKey(err: unknown): string | undefined {
  return err instanceof ConfigError && err.key ? err.key.replace(/^config\./, '') : undefined;
}

/** Says at load time which kinds a plugin asks for but the manifest does not grant at all. */
function noteUngranted(log: Logger, pluginId: string, request: PermissionRequest, grant: PermissionRequest, key: string): void {
  for (const kind of ['net', 'read', 'write', 'env'] as const) {
    const asked = request[kind];
    const g = grant[kind];
    const granted = g !== undefined && g !== false && !(Array.isArray(g) && g.length === 0);
    if (asked !== undefined && asked !== false && !granted) {
      log.info('plugin asks for a permission the manifest does not grant; such calls will be denied', { plugin: pluginId, kind, grant_with: `${key}.${kind}` });
    }
  }
}

/** Loads an objstore entry's plugin, checks its config, and returns a lazily created bucket. */
export async function buildObjstore(m: Manifest, e: ObjstoreEntry, log: Logger): Promise<ObjstoreHandle> {
  const fail = (key: string, detail: string): never => {
    throw new ManifestError(m.file, m.lineOf(key), key, detail);
  };
  let loaded: LoadedObjstore;
  try {
    loaded = await loadObjstoreEntry(m, e, log);
  } catch (err) {
    if (err instanceof IsolationError) return fail(err.key, err.detail);
    return fail(`${e.key}.use`, (err as Error).message);
  }
  const plugin = loaded.plugin;
  const perms = new Permissions({ pluginId: plugin.manifest.id, request: plugin.manifest.permissions, grant: e.permissions, grantKey: `${e.key}.permissions`, grantBaseDir: m.dir });
  noteUngranted(log, plugin.manifest.id, plugin.manifest.permissions, e.permissions, `${e.key}.permissions`);
  const cfg = bucketConfigFromObject({ type: plugin.provider, config: e.config, prefix: e.prefix }, `${m.file}: ${e.key}`);
  try {
    await loaded.checkConfig(resolveSecrets(e.config, perms, `${e.key}.config`));
  } catch (err) {
    configFail(fail, e.key, err);
  }
  const reg = new Registry();
  const olog = log.with({ objstore: e.id });
  // No metrics wrapper here: each component wraps the shared bucket with its own (lifecycle.ts).
  return objstoreHandle(e.id, reg, () => createBucket(cfg, {
    loadProvider: async () => plugin,
    capabilities: () => createCapabilities({ permissions: perms, log: olog, metrics: reg, baseDir: m.dir }),
    transformConfig: (raw) => resolveSecrets(raw, perms, `${e.key}.config`),
  }));
}

/** Component entry keys of plugins.yaml that are the manifest's spelling of a host flag. */
const ENTRY_FLAGS: ReadonlyArray<readonly ['http' | 'httpConfig' | 'grpc' | 'dataDir' | 'objstore' | 'requestLoggingConfigFile' | 'requestLoggingConfig', string]> = [
  ['http', 'http-address'], ['httpConfig', 'http.config'], ['grpc', 'grpc-address'], ['dataDir', 'data-dir'], ['objstore', 'objstore.config-file'],
  ['requestLoggingConfigFile', 'request.logging-config-file'], ['requestLoggingConfig', 'request.logging-config'],
];

/** A component entry's requestLoggingConfigFile (relative to the manifest) or inline requestLoggingConfig, checked now. */
function manifestRequestLogging(m: Manifest, c: Manifest['components'][number], fail: (key: string, detail: string) => never): RequestLogging | undefined {
  if (c.requestLoggingConfigFile !== undefined && c.requestLoggingConfig !== undefined) fail(`${c.key}.requestLoggingConfig`, 'give only one of requestLoggingConfigFile and requestLoggingConfig');
  try {
    if (c.requestLoggingConfig !== undefined) return requestLoggingFromObject(c.requestLoggingConfig, 'requestLoggingConfig');
    if (c.requestLoggingConfigFile === undefined) return undefined;
    const file = path.resolve(m.dir, c.requestLoggingConfigFile);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      return fail(`${c.key}.requestLoggingConfigFile`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseRequestLoggingConfig(expandEnv(text, (n) => process.env[n]), file);
  } catch (err) {
    if (err instanceof RequestLoggingConfigError) fail(`${c.key}.${c.requestLoggingConfig !== undefined ? 'requestLoggingConfig' : 'requestLoggingConfigFile'}`, err.message);
    throw err;
  }
}

/** A host setting the component refuses as a flag (e.g. objstore for the ruler) is refused in the manifest too. */
function refuseEntrySettings(plugin: ComponentPlugin, c: Manifest['components'][number], fail: (key: string, detail: string) => never): void {
  for (const [k, flag] of ENTRY_FLAGS) {
    if (c[k] === undefined) continue;
    const spec = plugin.flags?.find((f) => f.name === flag && f.refused !== undefined);
    if (spec) fail(`${c.key}.${k}`, `${k} is the manifest's --${flag}, which ${spec.refused}`);
  }
}

/**
 * A component entry's grpcTls (paths relative to the manifest) and grpcMaxConnectionAge (Thanos's
 * default 60m). The files are loaded once here, so a missing file or a key not matching its
 * certificate is an error naming the entry's line before anything starts.
 */
function manifestGrpcServer(m: Manifest, c: Manifest['components'][number], fail: (key: string, detail: string) => never): Pick<UnitSpec, 'grpcTls' | 'grpcMaxConnectionAgeMs'> {
  const t = c.grpcTls;
  const abs = (p: string | undefined) => (p ? path.resolve(m.dir, p) : undefined);
  const grpcTls = t ? { ...t, certFile: abs(t.certFile), keyFile: abs(t.keyFile), clientCaFile: abs(t.clientCaFile) } : undefined;
  if (grpcTls) {
    try {
      loadServerTls({ ...grpcTls, reloadIntervalMs: 0 })?.close();
    } catch (err) {
      fail(`${c.key}.grpcTls`, (err as Error).message);
    }
  }
  return { grpcTls, grpcMaxConnectionAgeMs: parseFlagDuration(c.grpcMaxConnectionAge ?? '60m') };
}

/** Loads plugins and builds the units of a manifest; every error names file, line and key. */
export async function planManifest(m: Manifest, log: Logger): Promise<UnitSpec[]> {
  const fail = (key: string, detail: string): never => {
    throw new ManifestError(m.file, m.lineOf(key), key, detail);
  };
  const order = (() => {
    try {
      return startOrder(m.components);
    } catch (err) {
      const key = /^(components\[\d+\]\.dependsOn)/.exec((err as Error).message)?.[1] ?? '';
      return fail(key, (err as Error).message.replace(/^components\[\d+\]\.dependsOn: /, ''));
    }
  })();
  const handles = new Map<string, ObjstoreHandle>();
  for (const e of m.objstore) {
    if (order.some((c) => c.objstore === e.id)) handles.set(e.id, await buildObjstore(m, e, log));
  }
  const units: UnitSpec[] = [];
  for (const c of order) {
    let loaded: LoadedComponent;
    try {
      loaded = await loadComponentEntry(m, c, log);
    } catch (err) {
      if (err instanceof IsolationError) fail(err.key, err.detail);
      if (err instanceof NotImplementedError) fail(`${c.key}.use`, `${err.message} (set enabled: false on "${c.id}" to run the rest)`);
      return fail(`${c.key}.use`, (err as Error).message);
    }
    const plugin = loaded.plugin;
    if (typeof plugin.setup !== 'function') fail(`${c.key}.use`, `${plugin.manifest.id} has no long-running component (only one-shot commands)`);
    refuseEntrySettings(plugin, c, fail);
    if ((c.httpConfig !== undefined || c.httpLimits !== undefined) && c.http === undefined) fail(`${c.key}.${c.httpConfig !== undefined ? 'httpConfig' : 'httpLimits'}`, 'applies to the HTTP listener: set http (the listen address) too');
    const perms = new Permissions({ pluginId: plugin.manifest.id, request: plugin.manifest.permissions, grant: c.permissions, grantKey: `${c.key}.permissions`, grantBaseDir: m.dir });
    noteUngranted(log, plugin.manifest.id, plugin.manifest.permissions, c.permissions, `${c.key}.permissions`);
    try {
      await loaded.checkConfig(resolveSecrets(c.config, perms, `${c.key}.config`));
    } catch (err) {
      configFail(fail, c.key, err);
    }
    units.push({
      id: c.id, key: c.key, plugin, config: c.config, permissions: perms, http: c.http, grpc: c.grpc,
      ...manifestGrpcServer(m, c, fail),
      requestLogging: manifestRequestLogging(m, c, fail),
      httpConfig: c.httpConfig ? path.resolve(m.dir, c.httpConfig) : undefined, httpLimits: c.httpLimits,
      dataDir: c.dataDir ? path.resolve(m.dir, c.dataDir) : undefined,
      baseDir: m.dir,
      objstore: c.objstore ? handles.get(c.objstore) : undefined,
      objstoreHint: `set ${c.key}.objstore in ${m.file}`,
    });
  }
  return units;
}

async function runManifest(inv: Extract<Invocation, { kind: 'run' }>): Promise<number> {
  const m = readManifest(inv.manifestFile);
  const log = createLogger({ level: inv.logLevel ?? m.log.level, format: inv.logFormat ?? m.log.format });
  const units = await planManifest(m, log);
  if (units.length === 0) throw new UsageError(`${m.file}: no enabled components`);
  log.info('starting', { manifest: m.file, components: units.map((u) => u.id).join(','), version: BUILD_INFO.version, revision: BUILD_INFO.revision });
  // One exporter for the process; each component's spans under its own service name (thanos-<id>).
  const tracing = m.tracing ? await setupTracing(m.tracing, { defaultServiceName: 'thanos', log, perComponent: true }) : undefined;
  const res = await runGroup(units, { log, core: () => makeCore(m.core.backend), gracePeriodMs: m.gracePeriodMs });
  await tracing?.shutdown();
  if (res.timedOut) process.exit(res.code);
  return res.code;
}

/** Runs a parsed invocation (help, a component, a tool, a manifest). Returns the exit code. */
export async function execute(inv: Invocation): Promise<number> {
  switch (inv.kind) {
    case 'help':
    case 'toolsHelp':
      process.stdout.write(inv.text);
      return 0;
    case 'version':
      process.stdout.write(inv.text.endsWith('\n') ? inv.text : inv.text + '\n');
      return 0;
    case 'notImplemented':
      process.stderr.write(`thanos ${inv.name}: not implemented yet\n`);
      return 2;
    case 'component':
      if (inv.help) {
        process.stdout.write(componentHelp(inv.name, inv.plugin));
        return 0;
      }
      return runComponent(inv);
    case 'tool':
      if (inv.help) {
        process.stdout.write(`usage: thanos tools ${inv.command.name} [<flags>]\n\n${inv.command.help}\n\nFlags:\n${formatFlagsHelp([...hostFlagSpecs(inv.command.flags), ...componentFlags(inv.command.flags)])}\n`);
        return 0;
      }
      return runTool(inv);
    case 'run':
      return runManifest(inv);
  }
}

/** Exit code and message for an error that escaped (usage/config errors, a tool run without object storage: 2, anything else: 1). */
export function reportError(err: unknown): number {
  if (err instanceof UsageError || err instanceof FlagError || err instanceof ManifestError || err instanceof NotImplementedError || err instanceof BucketConfigError || err instanceof NoObjectStorageError || (err instanceof Error && err.name === 'PluginLoadError')) {
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  process.stderr.write(`thanos: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

/** Entry point of bin/thanos.mjs. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await execute(await parseCommandLine(argv));
  } catch (err) {
    return reportError(err);
  }
}

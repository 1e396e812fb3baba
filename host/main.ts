// The `thanos` command line: `thanos <component> [flags]`, `thanos tools <command…> [flags]`,
// `thanos run [-c plugins.yaml]`, `--help`, `--version`. Nothing Thanos-specific happens here: the
// component plugins declare their flags; the host handles the common ones (COMMON_FLAGS).
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import * as path from 'node:path';
import { createCore } from '../lib/core/mod.ts';
import { BucketConfigError, bucketConfigFromObject, createBucket, parseBucketConfig, type BucketConfig } from '../lib/objstore/factory.ts';
import { NoObjectStorageError } from '../lib/objstore/kit/errors.ts';
import type { ComponentContext, ComponentPlugin, Core, FlagSpec, Logger, ObjstorePlugin, PermissionRequest, ToolCommand } from './index.ts';
import { ConfigError } from './index.ts';
import { createCapabilities } from './capabilities.ts';
import { COMMON_FLAGS, FlagError, formatFlagsHelp, hostFlagSpecs, parseFlagDuration, parseFlags, getPath } from '../lib/sdk/flags.ts';
import { loadBuiltinComponent, loadBuiltinObjstore, loadUse, NotImplementedError } from './loader.ts';
import { objstoreHandle, runGroup, type ObjstoreHandle, type UnitSpec } from './lifecycle.ts';
import { createLogger, LOG_LEVELS, type LogFormat, type LogLevel } from './log.ts';
import { ManifestError, readManifest, startOrder, type Manifest, type ObjstoreEntry } from './manifest.ts';
import { Registry } from './metrics.ts';
import { Permissions } from './permissions.ts';
import { BUILTIN_COMPONENTS, COMMAND_ALIASES, COMPONENT_HELP, KNOWN_TOOL_COMMANDS } from './registry.ts';
import { resolveSecrets, SecretError } from './secrets.ts';
import { BUILD_INFO, versionText } from './version.ts';

/** A usage error: printed to stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface HostSettings {
  http: string;
  grpc: string;
  /** Whether --grpc-address was given (otherwise gRPC is served only by components with gRPC services). */
  grpcGiven: boolean;
  httpGracePeriod: string;
  grpcGracePeriod: string;
  objstoreConfigFile?: string;
  objstoreConfig?: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  dataDir?: string;
}

export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'run'; manifestFile: string; logLevel?: LogLevel; logFormat?: LogFormat }
  | { kind: 'component'; name: string; plugin: ComponentPlugin; host: HostSettings; config: Record<string, unknown>; help: boolean }
  | { kind: 'tool'; plugin: ComponentPlugin; command: ToolCommand; words: string[]; argv: string[]; host: HostSettings; config: Record<string, unknown>; help: boolean }
  | { kind: 'toolsHelp'; text: string }
  | { kind: 'notImplemented'; name: string; argv: string[]; host: HostSettings; unknownFlags: string[] };

export interface ParseCommandLineOptions {
  /** How component plugins are found (default: the built-in registry). */
  loadComponent?: (name: string) => Promise<ComponentPlugin>;
}

/**
 * Thanos's application-level flags (kingpin): given before the command they apply to it, as if
 * written after it (`thanos --log.level=debug bucket ls …`). --help and --version work anywhere.
 */
const GLOBAL_VALUE_FLAGS = ['log.level', 'log.format'];

interface Globals {
  /** The global value flags as written, to be parsed with the command's flags. */
  flags: string[];
  help: boolean;
  version: boolean;
  rest: string[];
}

function splitGlobals(argv: string[]): Globals {
  const g: Globals = { flags: [], help: false, version: false, rest: [] };
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h' || a === '--help-long') { g.help = true; continue; }
    if (a === '--version') { g.version = true; continue; }
    const name = a.startsWith('--') ? a.slice(2).split('=')[0]! : '';
    if (!GLOBAL_VALUE_FLAGS.includes(name)) {
      throw new UsageError(`thanos: unknown flag ${name ? `--${name}` : a} before the command (flags before the command: ${GLOBAL_VALUE_FLAGS.map((f) => `--${f}`).join(', ')}, --help, --version)`);
    }
    if (a.includes('=')) g.flags.push(a);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`thanos: flag --${name} needs a value`);
      g.flags.push(a, argv[++i]!);
    }
  }
  g.rest = argv.slice(i);
  return g;
}

/** `--version` among a command's flags (before a `--`), as kingpin answers it for every command. */
function asksVersion(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--version');
}

function hostSettings(values: Record<string, unknown>, given: Set<string>, ctx: string): HostSettings {
  const level = getPath(values, 'log.level') as string;
  const format = getPath(values, 'log.format') as string;
  if (!LOG_LEVELS.includes(level as LogLevel)) throw new FlagError(`${ctx}: --log.level: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  if (format !== 'logfmt' && format !== 'json') throw new FlagError(`${ctx}: --log.format: expected logfmt or json, got "${format}"`);
  const file = getPath(values, 'objstore.configFile') as string | undefined;
  const inline = getPath(values, 'objstore.config') as string | undefined;
  if (file !== undefined && inline !== undefined) throw new FlagError(`${ctx}: give only one of --objstore.config-file and --objstore.config`);
  return {
    http: values.http as string,
    grpc: values.grpc as string,
    grpcGiven: given.has('grpc-address'),
    httpGracePeriod: values.httpGracePeriod as string,
    grpcGracePeriod: values.grpcGracePeriod as string,
    objstoreConfigFile: file,
    objstoreConfig: inline,
    logLevel: level as LogLevel,
    logFormat: format as LogFormat,
    dataDir: values.dataDir as string | undefined,
  };
}

/** Component flags minus the names the host handles itself (hostFlagSpecs merges the refused ones). */
function componentFlags(specs: readonly FlagSpec[] | undefined): FlagSpec[] {
  const common = new Set(COMMON_FLAGS.map((f) => f.name));
  return (specs ?? []).filter((f) => !common.has(f.name));
}

/** Splits parsed values into host settings and the plugin's config. */
function splitValues(parsed: ReturnType<typeof parseFlags>, own: FlagSpec[], ctx: string) {
  const host = hostSettings(parsed.values, parsed.given, ctx);
  const config: Record<string, unknown> = {};
  const hostKeys = new Set(COMMON_FLAGS.map((f) => f.key.split('.')[0]!));
  const ownKeys = new Set(own.map((f) => f.key.split('.')[0]!));
  for (const [k, v] of Object.entries(parsed.values)) if (ownKeys.has(k) || !hostKeys.has(k)) config[k] = v;
  return { host, config };
}

export function usage(): string {
  const comps = Object.keys(BUILTIN_COMPONENTS).map((n) => `  ${n.padEnd(22)} ${COMPONENT_HELP[n] ?? ''}`).join('\n');
  return `usage: thanos [<flags>] <command> [<args> ...]

A TypeScript re-implementation of Thanos: a global query view, unlimited retention and
downsampling for Prometheus, run as plugins of one small host.

Commands:
  run [-c plugins.yaml]  Start every enabled component of a plugins.yaml manifest in one process.
${comps}

Older spellings: "bucket <cmd>" = "tools bucket <cmd>", "downsample" = "tools bucket downsample",
"check rules" = "tools rules-check".

Flags (before or after the command):
  -h, --help             Show help (also: thanos <command> --help).
      --version          Show the version.
      --log.level=info   Log filtering level: debug, info, warn, error.
      --log.format=logfmt  Log format to use: logfmt or json.
`;
}

function componentHelp(name: string, plugin: ComponentPlugin): string {
  return `usage: thanos ${name} [<flags>]

${COMPONENT_HELP[name] ?? plugin.manifest.description ?? ''}

Flags handled by the host:
${formatFlagsHelp(hostFlagSpecs(plugin.flags))}
${componentFlags(plugin.flags).length ? `\nFlags of ${plugin.manifest.id}:\n${formatFlagsHelp(componentFlags(plugin.flags))}\n` : ''}`;
}

function leadingWords(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    out.push(a);
  }
  return out;
}

function matchCommand(commands: ToolCommand[], words: string[], aliasesToo: boolean): { command: ToolCommand; used: number } | undefined {
  let best: { command: ToolCommand; used: number } | undefined;
  for (const c of commands) {
    for (const n of [c.name, ...(aliasesToo ? c.aliases ?? [] : [])]) {
      const w = n.split(/\s+/);
      if (w.length <= words.length && w.every((x, i) => x === words[i]) && (!best || w.length > best.used)) best = { command: c, used: w.length };
    }
  }
  return best;
}

function toolsHelp(commands: ToolCommand[], prefix: string[]): string {
  const list = commands.filter((c) => prefix.every((p, i) => c.name.split(/\s+/)[i] === p));
  const w = Math.max(0, ...list.map((c) => c.name.length));
  return `usage: thanos tools ${prefix.length ? prefix.join(' ') + ' ' : ''}<command> [<flags>]\n\nCommands:\n${list.map((c) => `  ${c.name.padEnd(w)}  ${c.help}`).join('\n')}\n\nRun "thanos tools <command> --help" for its flags.\n`;
}

/** Parses a command line without running anything (plugins are imported to learn their flags). */
export async function parseCommandLine(argv: string[], opts: ParseCommandLineOptions = {}): Promise<Invocation> {
  const load = opts.loadComponent ?? loadBuiltinComponent;
  const g = splitGlobals(argv);
  if (g.version) return { kind: 'version', text: versionText() };
  if (g.rest.length === 0) {
    if (g.help) return { kind: 'help', text: usage() };
    throw new UsageError(`thanos: expected a command\n\n${usage()}`);
  }
  // Global flags go after the command words (where every command parses them); --help too.
  const globalsAfter = [...g.flags, ...(g.help ? ['--help'] : [])];
  argv = g.rest;
  const first = argv[0]!;
  if (first === 'help') return { kind: 'help', text: usage() };
  if (first === 'version') return { kind: 'version', text: versionText() };

  if (first === 'run') {
    if (asksVersion(argv)) return { kind: 'version', text: versionText() };
    const p = parseFlags([...globalsAfter, ...argv.slice(1)], [
      { name: 'config', short: 'c', key: 'config', type: 'string', default: 'plugins.yaml', help: 'The manifest.' },
      { name: 'log.level', key: 'logLevel', type: 'string', help: 'Override log.level of the manifest.' },
      { name: 'log.format', key: 'logFormat', type: 'string', help: 'Override log.format of the manifest.' },
    ], { context: 'thanos run' });
    if (p.help) {
      return { kind: 'help', text: 'usage: thanos run [-c plugins.yaml] [--log.level=info] [--log.format=logfmt]\n\nStarts every enabled component of the manifest in one process.\n' };
    }
    const lv = p.values.logLevel as string | undefined;
    const lf = p.values.logFormat as string | undefined;
    if (lv !== undefined && !LOG_LEVELS.includes(lv as LogLevel)) throw new FlagError(`thanos run: --log.level: expected one of ${LOG_LEVELS.join(', ')}, got "${lv}"`);
    if (lf !== undefined && lf !== 'logfmt' && lf !== 'json') throw new FlagError(`thanos run: --log.format: expected logfmt or json, got "${lf}"`);
    return { kind: 'run', manifestFile: p.values.config as string, logLevel: lv as LogLevel | undefined, logFormat: lf as LogFormat | undefined };
  }

  // Older spellings -> today's words.
  let args = argv;
  for (const a of COMMAND_ALIASES) {
    if (a.from.every((w, i) => argv[i] === w)) {
      args = [...a.to, ...argv.slice(a.from.length)];
      break;
    }
  }
  const name = args[0]!;
  if (asksVersion(args)) return { kind: 'version', text: versionText() };
  if (!BUILTIN_COMPONENTS[name]) {
    throw new UsageError(`thanos: unknown command "${name}" (commands: run, ${Object.keys(BUILTIN_COMPONENTS).join(', ')}; see thanos --help)`);
  }

  let plugin: ComponentPlugin;
  try {
    plugin = await load(name);
  } catch (err) {
    if (!(err instanceof NotImplementedError)) throw err;
    // Parse what the host knows so the command line is still checked as far as possible.
    const rest = [...globalsAfter, ...(name === 'tools' ? args.slice(1 + leadingWords(args.slice(1)).length) : args.slice(1))];
    const p = parseFlags(rest, COMMON_FLAGS, { context: `thanos ${name}`, allowUnknown: true });
    return { kind: 'notImplemented', name, argv: args, host: hostSettings(p.values, p.given, `thanos ${name}`), unknownFlags: p.unknown.filter((u) => u.startsWith('-')) };
  }

  if (name === 'tools') {
    const commands = plugin.commands ?? [];
    const words = leadingWords(args.slice(1));
    const m = matchCommand(commands, words, true);
    if (!m) {
      const known = KNOWN_TOOL_COMMANDS.find((k) => k.split(' ').every((w, i) => words[i] === w));
      if (known) {
        const rest = [...globalsAfter, ...args.slice(1 + known.split(' ').length)];
        const p = parseFlags(rest, COMMON_FLAGS, { context: `thanos tools ${known}`, allowUnknown: true });
        return { kind: 'notImplemented', name: `tools ${known}`, argv: args, host: hostSettings(p.values, p.given, `thanos tools ${known}`), unknownFlags: p.unknown.filter((u) => u.startsWith('-')) };
      }
      if (words.length === 0 || g.help || args.includes('--help') || args.includes('-h')) return { kind: 'toolsHelp', text: toolsHelp(commands, words) };
      throw new UsageError(`thanos tools: unknown command "${words.join(' ')}" (commands: ${commands.map((c) => c.name).join(', ')})`);
    }
    const rest = [...globalsAfter, ...args.slice(1 + m.used)];
    const ctx = `thanos tools ${m.command.name}`;
    const own = componentFlags(m.command.flags);
    const p = parseFlags(rest, [...hostFlagSpecs(m.command.flags), ...own], { context: ctx, positionals: true, allowUnknown: m.command.flags === undefined });
    const { host, config } = splitValues(p, own, ctx);
    return { kind: 'tool', plugin, command: m.command, words: m.command.name.split(/\s+/), argv: rest, host, config, help: p.help };
  }

  const own = componentFlags(plugin.flags);
  const ctx = `thanos ${name}`;
  const p = parseFlags([...globalsAfter, ...args.slice(1)], [...hostFlagSpecs(plugin.flags), ...own], { context: ctx });
  const { host, config } = splitValues(p, own, ctx);
  return { kind: 'component', name, plugin, host, config, help: p.help };
}

// ---- running ----

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
  return objstoreHandle(cfg.type.toLowerCase(), reg, () =>
    createBucket(cfg, {
      loadProvider: loadBuiltinObjstore,
      capabilities: (p: ObjstorePlugin) =>
        createCapabilities({ permissions: Permissions.all(p.manifest.id, p.manifest.permissions), log: log.with({ objstore: cfg.type }), metrics: reg }),
      transformConfig: (raw, p) => resolveSecrets(raw, Permissions.all(p.manifest.id, p.manifest.permissions), 'objstore config'),
      metrics: reg,
      name: cfg.type.toLowerCase(),
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
    grpc: h.grpc,
    grpcOnlyIfServices: !h.grpcGiven,
    dataDir: h.dataDir ? path.resolve(h.dataDir) : undefined,
    objstore: cfg ? cliObjstore(cfg, log) : undefined,
    objstoreHint: 'pass --objstore.config-file or --objstore.config',
  };
  const grace = Math.max(parseFlagDuration(h.httpGracePeriod), parseFlagDuration(h.grpcGracePeriod));
  log.info(`starting ${inv.name}`, { version: BUILD_INFO.version, revision: BUILD_INFO.revision });
  const res = await runGroup([unit], { log, core: () => makeCore(), gracePeriodMs: grace });
  if (res.timedOut) process.exit(res.code);
  return res.code;
}

async function runTool(inv: Extract<Invocation, { kind: 'tool' }>): Promise<number> {
  const h = inv.host;
  const log = createLogger({ level: h.logLevel, format: h.logFormat });
  const cfg = loadObjstoreYaml(h);
  if (cfg) await checkCliObjstore(cfg);
  const os = cfg ? cliObjstore(cfg, log) : undefined;
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
    const reg = new Registry();
    const caps = createCapabilities({ permissions: Permissions.all(inv.plugin.manifest.id, inv.plugin.manifest.permissions), log, metrics: reg });
    const ctx: ComponentContext = {
      ...caps,
      core: await makeCore(),
      dataDir: h.dataDir ? path.resolve(h.dataDir) : undefined,
      signal: ac.signal,
      addresses: { http: h.http, grpc: h.grpc },
      build: BUILD_INFO,
      stdout: { write: (t) => new Promise<void>((r) => { process.stdout.write(t) ? r() : process.stdout.once('drain', r); }) },
      stderr: { write: (t) => void process.stderr.write(t) },
      setReady: () => {},
      bucket: async () => {
        if (!os) throw new NoObjectStorageError(`thanos tools ${inv.command.name}`, 'pass --objstore.config-file or --objstore.config');
        return os.get();
      },
    };
    return await inv.command.run(ctx, inv.argv);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await os?.close().catch(() => {});
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
  let plugin: ObjstorePlugin;
  try {
    plugin = (await loadUse(e.use, m.dir, 'objstore')).plugin;
  } catch (err) {
    return fail(`${e.key}.use`, (err as Error).message);
  }
  const perms = new Permissions({ pluginId: plugin.manifest.id, request: plugin.manifest.permissions, grant: e.permissions, grantKey: `${e.key}.permissions`, grantBaseDir: m.dir });
  noteUngranted(log, plugin.manifest.id, plugin.manifest.permissions, e.permissions, `${e.key}.permissions`);
  const cfg = bucketConfigFromObject({ type: plugin.provider, config: e.config, prefix: e.prefix }, `${m.file}: ${e.key}`);
  try {
    plugin.parseConfig(resolveSecrets(e.config, perms, `${e.key}.config`));
  } catch (err) {
    configFail(fail, e.key, err);
  }
  const reg = new Registry();
  const olog = log.with({ objstore: e.id });
  return objstoreHandle(e.id, reg, () => createBucket(cfg, {
    loadProvider: async () => plugin,
    capabilities: () => createCapabilities({ permissions: perms, log: olog, metrics: reg, baseDir: m.dir }),
    transformConfig: (raw) => resolveSecrets(raw, perms, `${e.key}.config`),
    metrics: reg,
    name: e.id,
  }));
}

/** Component entry keys of plugins.yaml that are the manifest's spelling of a host flag. */
const ENTRY_FLAGS: ReadonlyArray<readonly ['http' | 'grpc' | 'dataDir' | 'objstore', string]> = [
  ['http', 'http-address'], ['grpc', 'grpc-address'], ['dataDir', 'data-dir'], ['objstore', 'objstore.config-file'],
];

/** A host setting the component refuses as a flag (e.g. objstore for the ruler) is refused in the manifest too. */
function refuseEntrySettings(plugin: ComponentPlugin, c: Manifest['components'][number], fail: (key: string, detail: string) => never): void {
  for (const [k, flag] of ENTRY_FLAGS) {
    if (c[k] === undefined) continue;
    const spec = plugin.flags?.find((f) => f.name === flag && f.refused !== undefined);
    if (spec) fail(`${c.key}.${k}`, `${k} is the manifest's --${flag}, which ${spec.refused}`);
  }
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
    let plugin: ComponentPlugin;
    try {
      plugin = (await loadUse(c.use, m.dir, 'component')).plugin;
    } catch (err) {
      if (err instanceof NotImplementedError) fail(`${c.key}.use`, `${err.message} (set enabled: false on "${c.id}" to run the rest)`);
      return fail(`${c.key}.use`, (err as Error).message);
    }
    if (typeof plugin.setup !== 'function') fail(`${c.key}.use`, `${plugin.manifest.id} has no long-running component (only one-shot commands)`);
    refuseEntrySettings(plugin, c, fail);
    const perms = new Permissions({ pluginId: plugin.manifest.id, request: plugin.manifest.permissions, grant: c.permissions, grantKey: `${c.key}.permissions`, grantBaseDir: m.dir });
    noteUngranted(log, plugin.manifest.id, plugin.manifest.permissions, c.permissions, `${c.key}.permissions`);
    try {
      plugin.parseConfig(resolveSecrets(c.config, perms, `${c.key}.config`));
    } catch (err) {
      configFail(fail, c.key, err);
    }
    units.push({
      id: c.id, key: c.key, plugin, config: c.config, permissions: perms, http: c.http, grpc: c.grpc,
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
  const res = await runGroup(units, { log, core: () => makeCore(m.core.backend), gracePeriodMs: m.gracePeriodMs });
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

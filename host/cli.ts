// The `thanos` command line parsed into an Invocation: `thanos <component> [flags]`, `thanos tools
// <command…> [flags]`, `thanos run [-c plugins.yaml]`, global flags before the command, `--help`,
// `--version`. Nothing runs here; host/main.ts executes what this returns.
import type { ComponentPlugin, FlagSpec, ToolCommand } from './index.ts';
import { COMMON_FLAGS, FlagError, formatFlagsHelp, hostFlagSpecs, parseFlags, getPath } from '../lib/sdk/flags.ts';
import { loadBuiltinComponent, NotImplementedError } from './loader.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log.ts';
import { BUILTIN_COMPONENTS, COMMAND_ALIASES, COMPONENT_HELP, KNOWN_TOOL_COMMANDS } from './registry.ts';
import { versionText } from './version.ts';
import { tlsCiphers, tlsCurves, tlsVersion, type ServerTlsFiles } from './server/tls.ts';

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
  /** --http.config: the web configuration file (TLS, basic auth, headers) of the HTTP listener. */
  httpConfig?: string;
  grpcGracePeriod: string;
  /** --grpc-server-tls-*: the gRPC listener's TLS (all empty: plaintext). */
  grpcTls: ServerTlsFiles;
  /** --grpc-server-max-connection-age (undefined when the component refuses it). */
  grpcMaxConnectionAge?: string;
  objstoreConfigFile?: string;
  objstoreConfig?: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  dataDir?: string;
  tracingConfigFile?: string;
  tracingConfig?: string;
  /** --request.logging-config-file / --request.logging-config (at most one; read by main.ts). */
  requestLoggingConfigFile?: string;
  requestLoggingConfig?: string;
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
const GLOBAL_VALUE_FLAGS = ['log.level', 'log.format', 'tracing.config', 'tracing.config-file'];

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

/** --grpc-server-tls-* as ServerTlsFiles; a bad enum value is a usage error, as kingpin's EnumVar makes it. */
function grpcTlsFlags(values: Record<string, unknown>, ctx: string): ServerTlsFiles {
  const t = (getPath(values, 'grpcTls') ?? {}) as Record<string, unknown>;
  const files: ServerTlsFiles = {
    certFile: (t.certFile as string | undefined) || undefined,
    keyFile: (t.keyFile as string | undefined) || undefined,
    clientCaFile: (t.clientCaFile as string | undefined) || undefined,
    minVersion: (t.minVersion as string | undefined) ?? '1.3',
    ciphers: (t.ciphers as string[] | undefined) ?? [],
    curves: (t.curves as string[] | undefined) ?? [],
  };
  try {
    tlsVersion(files.minVersion!);
    tlsCiphers(files.ciphers!);
    tlsCurves(files.curves!);
  } catch (err) {
    throw new FlagError(`${ctx}: ${(err as Error).message}`);
  }
  return files;
}

function hostSettings(values: Record<string, unknown>, given: Set<string>, ctx: string): HostSettings {
  const level = getPath(values, 'log.level') as string;
  const format = getPath(values, 'log.format') as string;
  if (!LOG_LEVELS.includes(level as LogLevel)) throw new FlagError(`${ctx}: --log.level: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  if (format !== 'logfmt' && format !== 'json') throw new FlagError(`${ctx}: --log.format: expected logfmt or json, got "${format}"`);
  const file = getPath(values, 'objstore.configFile') as string | undefined;
  const inline = getPath(values, 'objstore.config') as string | undefined;
  if (file !== undefined && inline !== undefined) throw new FlagError(`${ctx}: give only one of --objstore.config-file and --objstore.config`);
  if (getPath(values, 'tracing.configFile') !== undefined && getPath(values, 'tracing.config') !== undefined) throw new FlagError(`${ctx}: give only one of --tracing.config-file and --tracing.config`);
  if (values.requestLoggingConfigFile !== undefined && values.requestLoggingConfig !== undefined) throw new FlagError(`${ctx}: give only one of --request.logging-config-file and --request.logging-config`);
  return {
    http: values.http as string,
    grpc: values.grpc as string,
    grpcGiven: given.has('grpc-address'),
    httpGracePeriod: values.httpGracePeriod as string,
    httpConfig: (values.httpConfig as string | undefined) || undefined,
    grpcGracePeriod: values.grpcGracePeriod as string,
    grpcTls: grpcTlsFlags(values, ctx),
    grpcMaxConnectionAge: values.grpcMaxConnectionAge as string | undefined,
    objstoreConfigFile: file,
    objstoreConfig: inline,
    logLevel: level as LogLevel,
    logFormat: format as LogFormat,
    dataDir: values.dataDir as string | undefined,
    tracingConfigFile: getPath(values, 'tracing.configFile') as string | undefined,
    tracingConfig: getPath(values, 'tracing.config') as string | undefined,
    requestLoggingConfigFile: values.requestLoggingConfigFile as string | undefined,
    requestLoggingConfig: values.requestLoggingConfig as string | undefined,
  };
}

/** Component flags minus the names the host handles itself (hostFlagSpecs merges the refused ones). */
export function componentFlags(specs: readonly FlagSpec[] | undefined): FlagSpec[] {
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

export function componentHelp(name: string, plugin: ComponentPlugin): string {
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

export function toolsHelp(commands: ToolCommand[], prefix: string[]): string {
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

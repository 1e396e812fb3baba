// Thanos-style command-line flags -> a config object. `--flag value` and `--flag=value`; bools as
// `--flag`, `--no-flag`, `--flag=false`; 'strings' flags repeat; `--` ends flags. Each FlagSpec maps a
// flag name onto a (dotted) config key, so the command line and plugins.yaml's `config:` are two
// spellings of one config.
import type { FlagSpec } from './plugin.ts';
import { parseAnyDuration } from '../duration/mod.ts';

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/**
 * A duration flag value in either grammar of lib/duration (Go's 1h30m, 1.5h, 500ms; Prometheus's
 * 2w, 1d12h), without a sign. Returns ms. The `duration` flag type checks its syntax with this;
 * the component's config reader then applies the flag's own grammar (configPromDuration for
 * Thanos's model.Duration flags, configGoDuration for time.Duration ones).
 */
export function parseFlagDuration(s: string): number {
  const str = s.trim();
  if (str === '') throw new FlagError(`invalid duration "${s}"`);
  if (str[0] === '-' || str[0] === '+') throw new FlagError(`invalid duration "${s}" (expected e.g. 30s, 5m, 1h30m)`);
  try {
    return parseAnyDuration(str);
  } catch {
    throw new FlagError(`invalid duration "${s}" (expected e.g. 30s, 5m, 1h30m)`);
  }
}

/** Sets a dotted key ('objstore.configFile') in a nested object. */
export function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const p of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export interface ParseOptions {
  /** What the flags belong to, for errors: `thanos store`. */
  context?: string;
  /** Allow positional arguments (default false: a stray word is an error). */
  positionals?: boolean;
  /** Collect unknown --flags instead of failing (used when a component's plugin is missing). */
  allowUnknown?: boolean;
  /** Apply FlagSpec.default for flags not given (default true). */
  defaults?: boolean;
}

export interface ParsedFlags {
  /** Config object built from FlagSpec.key paths. */
  values: Record<string, unknown>;
  /** Names of the flags given on the command line. */
  given: Set<string>;
  positionals: string[];
  /** Unknown flags as written (only with allowUnknown). */
  unknown: string[];
  help: boolean;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** Text for FlagSpec.refused: "is not implemented yet by thanos rule (why)". */
export function notImplementedYet(who: string, why?: string): string {
  return `is not implemented yet by ${who}${why ? ` (${why})` : ''}`;
}

/** Whether a value of a refused flag is one of its accepted values (compared as text: 1 = "1", true = "true"). */
export function acceptedValue(spec: FlagSpec, value: unknown): boolean {
  return (spec.accept ?? []).some((a) => String(a) === String(value));
}

/** The error for a refused flag (value: what was given, shown when some values are accepted). */
export function refusalMessage(spec: FlagSpec, value?: unknown): string {
  const shown = spec.accept && value !== undefined ? `=${typeof value === 'string' ? JSON.stringify(value) : String(value)}` : '';
  const ok = spec.accept?.length ? `; accepted: --${spec.name}=${spec.accept.map((a) => (typeof a === 'string' ? JSON.stringify(a) : String(a))).join(' or ')}` : '';
  return `flag --${spec.name}${shown} ${spec.refused}${ok}`;
}

/**
 * Refused copies of host flags (COMMON_FLAGS names) for a component or tool that does not use them;
 * put them in its flag list. `refused` is the text after "flag --<name> ".
 */
export function refuseCommonFlags(names: readonly string[], refused: string): FlagSpec[] {
  return names.map((n) => {
    const c = COMMON_FLAGS.find((f) => f.name === n);
    if (!c) throw new Error(`refuseCommonFlags: ${n} is not a host flag`);
    return { name: c.name, key: c.key, type: c.type, help: c.help, refused };
  });
}

/**
 * For a one-shot tool: refused copies of every host flag it does not use (`uses`: names such as
 * 'objstore.config-file'); --log.level, --log.format and the --tracing.config flags always apply.
 */
export function refuseUnusedCommonFlags(who: string, uses: readonly string[]): FlagSpec[] {
  const names = COMMON_FLAGS.map((f) => f.name).filter((n) => !n.startsWith('log.') && !n.startsWith('tracing.') && !uses.includes(n));
  return refuseCommonFlags(names, `is not accepted by ${who} (it would have no effect)`);
}

/** The host's flags for a component or tool: COMMON_FLAGS, with the ones its own flags refuse replaced. */
export function hostFlagSpecs(own: readonly FlagSpec[] | undefined): FlagSpec[] {
  return COMMON_FLAGS.map((c) => own?.find((o) => o.name === c.name && o.refused !== undefined) ?? c);
}

function convert(spec: FlagSpec, raw: string, ctx: string): unknown {
  const flag = `--${spec.name}`;
  switch (spec.type) {
    case 'string':
    case 'strings':
      return raw;
    case 'int': {
      if (!/^[-+]?\d+$/.test(raw.trim())) throw new FlagError(`${ctx}: ${flag}: expected an integer, got "${raw}"`);
      return Number(raw);
    }
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new FlagError(`${ctx}: ${flag}: expected a number, got "${raw}"`);
      return n;
    }
    case 'duration':
      try {
        parseFlagDuration(raw);
      } catch {
        throw new FlagError(`${ctx}: ${flag}: invalid duration "${raw}" (expected e.g. 30s, 5m, 1h30m)`);
      }
      return raw;
    case 'bool': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new FlagError(`${ctx}: ${flag}: expected true or false, got "${raw}"`);
    }
  }
}

/** Parses argv against specs. Throws FlagError naming the flag on any problem. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], opts: ParseOptions = {}): ParsedFlags {
  const ctx = opts.context ?? 'thanos';
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.short) byShort.set(s.short, s);
  }
  const out: ParsedFlags = { values: {}, given: new Set(), positionals: [], unknown: [], help: false };
  const set = (spec: FlagSpec, raw: string | boolean) => {
    const v = typeof raw === 'boolean' ? raw : convert(spec, raw, ctx);
    if (spec.refused !== undefined && !acceptedValue(spec, v)) throw new FlagError(`${ctx}: ${refusalMessage(spec, v)}`);
    if (spec.type === 'strings') {
      const cur = getPath(out.values, spec.key);
      setPath(out.values, spec.key, [...(Array.isArray(cur) && out.given.has(spec.name) ? cur : Array.isArray(cur) ? cur : []), v]);
    } else {
      if (out.given.has(spec.name)) throw new FlagError(`${ctx}: flag --${spec.name} given more than once`);
      setPath(out.values, spec.key, v);
    }
    out.given.add(spec.name);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h' || arg === '--help-long') {
      out.help = true;
      continue;
    }
    let spec: FlagSpec | undefined;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      spec = byName.get(name);
      if (!spec && name.startsWith('no-')) {
        const b = byName.get(name.slice(3));
        if (b && b.type === 'bool') {
          if (inline !== undefined) throw new FlagError(`${ctx}: --${name} takes no value`);
          set(b, false);
          continue;
        }
      }
    } else if (/^-[a-zA-Z]/.test(arg)) {
      name = arg.slice(1, 2);
      inline = arg.length > 2 ? arg.slice(arg[2] === '=' ? 3 : 2) : undefined;
      spec = byShort.get(name);
      name = spec ? spec.name : arg;
    } else {
      if (!opts.positionals && !opts.allowUnknown) throw new FlagError(`${ctx}: unexpected argument "${arg}"`);
      out.positionals.push(arg);
      continue;
    }
    if (!spec) {
      if (opts.allowUnknown) {
        out.unknown.push(arg);
        // Keep a following value with the unknown flag when it does not look like a flag.
        if (inline === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) out.unknown.push(argv[++i]!);
        continue;
      }
      const flag = arg.startsWith('--') ? `--${name}` : arg;
      const near = [...byName.keys()].map((n) => [n, levenshtein(n, name)] as const).filter(([, d]) => d <= 2).sort((a, b) => a[1] - b[1])[0];
      throw new FlagError(`${ctx}: unknown flag ${flag}${near ? ` (did you mean --${near[0]}?)` : ''}`);
    }
    if (spec.type === 'bool') {
      set(spec, inline === undefined ? true : inline);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`${ctx}: flag --${spec.name} needs a value`);
      value = argv[++i]!;
    }
    set(spec, value);
  }

  if (opts.defaults !== false) {
    for (const s of specs) {
      if (s.default === undefined || out.given.has(s.name) || s.refused !== undefined) continue;
      if (getPath(out.values, s.key) !== undefined) continue; // another flag with the same key was given
      setPath(out.values, s.key, Array.isArray(s.default) ? [...s.default] : s.default);
    }
  }
  return out;
}

/** Help text lines for a list of flags. */
export function formatFlagsHelp(specs: readonly FlagSpec[]): string {
  const refused = specs.filter((s) => s.refused !== undefined && !s.accept?.length);
  const rows = specs.filter((s) => !refused.includes(s)).map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.type === 'bool' ? `[no-]${s.name}` : `${s.name}=<${s.type === 'strings' ? 'string' : s.type}>${s.type === 'strings' ? ' ...' : ''}`}`;
    const def = s.default !== undefined && s.default !== false && !(Array.isArray(s.default) && s.default.length === 0) ? ` (default: ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})` : '';
    const only = s.refused !== undefined ? ` Only ${s.accept!.map((a) => (typeof a === 'string' ? JSON.stringify(a) : String(a))).join(' or ')} is accepted; any other value ${s.refused}.` : '';
    return [left, s.help + def + only] as const;
  });
  const w = Math.min(48, Math.max(0, ...rows.map(([l]) => l.length)));
  const text = rows.map(([l, r]) => `  ${l.padEnd(w)}  ${r}`).join('\n');
  if (refused.length === 0) return text;
  return `${text}\n\n  Refused (not implemented; giving one is an error that says why):\n    ${refused.map((s) => `--${s.name}`).join(', ')}`;
}

/** Flags the host handles for every component (Thanos's common flags); their keys are host settings. */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'http-address', key: 'http', type: 'string', default: '0.0.0.0:10902', help: 'Listen host:port for HTTP endpoints.' },
  { name: 'http-grace-period', key: 'httpGracePeriod', type: 'duration', default: '2m', help: 'Time to wait after an interrupt received for HTTP Server.' },
  { name: 'http.config', key: 'httpConfig', type: 'string', help: '[EXPERIMENTAL] Path to the configuration file that can enable TLS or authentication for all HTTP endpoints.' },
  { name: 'grpc-address', key: 'grpc', type: 'string', default: '0.0.0.0:10901', help: 'Listen ip:port address for gRPC endpoints (StoreAPI, Info API).' },
  { name: 'grpc-grace-period', key: 'grpcGracePeriod', type: 'duration', default: '2m', help: 'Time to wait after an interrupt received for GRPC Server.' },
  // The gRPC listener's TLS (Thanos's grpcConfig flags; host/server/tls.ts). Keys: the manifest's grpcTls.
  { name: 'grpc-server-tls-cert', key: 'grpcTls.certFile', type: 'string', help: 'TLS Certificate for gRPC server, leave blank to disable TLS' },
  { name: 'grpc-server-tls-key', key: 'grpcTls.keyFile', type: 'string', help: 'TLS Key for the gRPC server, leave blank to disable TLS' },
  { name: 'grpc-server-tls-client-ca', key: 'grpcTls.clientCaFile', type: 'string', help: 'TLS CA to verify clients against. If no client CA is specified, there is no client verification on server side. (tls.NoClientCert)' },
  { name: 'grpc-server-tls-min-version', key: 'grpcTls.minVersion', type: 'string', default: '1.3', help: 'TLS supported minimum version for gRPC server. If no version is specified, it\'ll default to 1.3. Allowed values: ["1.0", "1.1", "1.2", "1.3"]' },
  { name: 'grpc-server-tls-ciphers', key: 'grpcTls.ciphers', type: 'strings', help: 'TLS cipher suites for gRPC server (repeatable). If not specified, the default Go cipher suites are used. See https://pkg.go.dev/crypto/tls#pkg-constants for valid values.' },
  { name: 'grpc-server-tls-curves', key: 'grpcTls.curves', type: 'strings', help: 'TLS curves for gRPC server (repeatable). If not specified, the default Go curves are used. Valid values: CurveP256, CurveP384, CurveP521, X25519.' },
  { name: 'grpc-server-max-connection-age', key: 'grpcMaxConnectionAge', type: 'duration', default: '60m', help: 'The grpc server max connection age. This controls how often to re-establish connections and redo TLS handshakes.' },
  { name: 'objstore.config-file', key: 'objstore.configFile', type: 'string', help: 'Path to YAML file that contains object store configuration (type, config, prefix).' },
  { name: 'objstore.config', key: 'objstore.config', type: 'string', help: 'Alternative to objstore.config-file: the object store configuration YAML itself.' },
  { name: 'tracing.config-file', key: 'tracing.configFile', type: 'string', help: 'Path to YAML file with tracing configuration. See format details: https://thanos.io/tip/thanos/tracing.md/#configuration' },
  { name: 'tracing.config', key: 'tracing.config', type: 'string', help: "Alternative to 'tracing.config-file' flag (mutually exclusive). Content of YAML file with tracing configuration. See format details: https://thanos.io/tip/thanos/tracing.md/#configuration" },
  // Thanos's request logging (extkingpin.RegisterRequestLoggingFlags; lib/web/reqlog.ts): the host's HTTP and gRPC servers.
  { name: 'request.logging-config-file', key: 'requestLoggingConfigFile', type: 'string', help: 'Path to YAML file with request logging configuration. See format details: https://thanos.io/tip/thanos/logging.md/#configuration' },
  { name: 'request.logging-config', key: 'requestLoggingConfig', type: 'string', help: "Alternative to 'request.logging-config-file' flag (mutually exclusive). Content of YAML file with request logging configuration. See format details: https://thanos.io/tip/thanos/logging.md/#configuration" },
  { name: 'log.level', key: 'log.level', type: 'string', default: 'info', help: 'Log filtering level: debug, info, warn, error.' },
  { name: 'log.format', key: 'log.format', type: 'string', default: 'logfmt', help: 'Log format to use: logfmt or json.' },
  { name: 'data-dir', key: 'dataDir', type: 'string', help: 'Data directory for local state.' },
];

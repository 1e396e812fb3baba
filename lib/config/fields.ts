// The config field readers, one module for both dialects: a component's config object (plugins.yaml
// `config:` merged with its flags; configString, configInt, ...) and a provider's YAML block
// (objstore `config:`; mapping, str, int, ...; see the section at the end). Each reader returns
// the default when the key is absent (undefined or null) and throws a ConfigError naming the key
// when the value has the wrong type or is out of range.
import { ConfigError, type FlagSpec } from '../sdk/mod.ts';
import { acceptedValue, getPath, refusalMessage } from '../../lib/sdk/flags.ts';
import { durationValue, goDurationValue } from '../store/blocksync/timeflags.ts';
import { parseAnyDuration, tryParsePromDuration } from '../duration/mod.ts';

export type RawConfig = Record<string, unknown>;

/** The config as a mapping (absent = empty); anything else is `<what> config must be a mapping`. */
export function configMapping(input: unknown, what: string): RawConfig {
  const raw = (input ?? {}) as RawConfig;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('', `${what} config must be a mapping`);
  return raw;
}

/** Strict: a key in none of the `known` sets is a ConfigError(key, message). */
export function rejectUnknownKeys(raw: RawConfig, known: readonly ReadonlySet<string>[], message: string): void {
  for (const k of Object.keys(raw)) if (!known.some((s) => s.has(k))) throw new ConfigError(k, message);
}

/**
 * Keys of host settings, which plugins.yaml sets on the component entry (http:, grpc:, dataDir:,
 * objstore:, top-level log:) and the command line with host flags, never under `config:`.
 */
export const HOST_SETTING_KEYS: ReadonlySet<string> = new Set([
  'http', 'grpc', 'httpAddress', 'grpcAddress', 'httpGracePeriod', 'grpcGracePeriod', 'httpConfig', 'httpLimits', 'objstore', 'objstoreConfig', 'objstoreConfigFile',
  'log', 'logLevel', 'logFormat', 'dataDir', 'grpcTls', 'grpcMaxConnectionAge', 'requestLoggingConfig', 'requestLoggingConfigFile',
]);

/**
 * A host setting under `config:` would be silently ignored: it is a ConfigError naming the key and
 * where it belongs. `except` lists the ones this component does read from its config (e.g. dataDir).
 */
export function rejectHostKeys(raw: RawConfig, component: string, except: readonly string[] = []): void {
  for (const k of Object.keys(raw)) {
    if (HOST_SETTING_KEYS.has(k) && !except.includes(k)) {
      throw new ConfigError(k, `is a host setting, not a ${component} option: set it on the component's entry in plugins.yaml (http, grpc, dataDir, objstore; log at the top) or with its flag, not under config`);
    }
  }
}

/**
 * Refused flags (FlagSpec.refused) are refused as config keys too: a key given with a value that
 * is not in the flag's `accept` list is a ConfigError naming the key and the flag.
 */
export function refuseUnimplemented(raw: RawConfig, flags: readonly FlagSpec[]): void {
  for (const f of flags) {
    if (f.refused === undefined) continue;
    const v = getPath(raw, f.key);
    if (v === undefined || v === null || acceptedValue(f, v)) continue;
    throw new ConfigError(f.key, refusalMessage(f, v));
  }
}

export function configString(raw: RawConfig, key: string, def: string): string {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new ConfigError(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** A repeatable flag: a single string counts as a one-element list; absent = []. */
export function configStrings(raw: RawConfig, key: string): string[] {
  const v = raw[key];
  if (v === undefined || v === null) return [];
  const arr = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(arr) || arr.some((x) => typeof x !== 'string')) throw new ConfigError(key, `must be a list of strings, got ${JSON.stringify(v)}`);
  return arr as string[];
}

/** An integer >= min; numeric strings ("20") are accepted. */
export function configInt(raw: RawConfig, key: string, def: number, min = 0): number {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw new ConfigError(key, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** true/false, or the strings "true"/"false". */
export function configBool(raw: RawConfig, key: string, def: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ConfigError(key, `must be true or false, got ${JSON.stringify(v)}`);
}

/**
 * A duration in either grammar of lib/duration (Go's 1.5h, 500ms; Prometheus's 2w, 1d12h), not
 * negative, or a non-negative number of ms. Returns ms. For keys whose Thanos type is not settled
 * here; keys that know use configPromDuration (model.Duration) or configGoDuration (time.Duration).
 */
export function configDuration(raw: RawConfig, key: string, def: string): number {
  const v = raw[key] ?? def;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(key, `must be a non-negative duration, got ${v}`);
    return v;
  }
  if (typeof v !== 'string') throw new ConfigError(key, `must be a duration such as 30s or 5m, got ${JSON.stringify(v)}`);
  let ms: number;
  try {
    ms = parseAnyDuration(v.trim());
  } catch {
    throw new ConfigError(key, `invalid duration "${v}" (expected e.g. 30s, 5m, 1h30m)`);
  }
  if (ms < 0) throw new ConfigError(key, `must be a non-negative duration, got ${v}`);
  return ms;
}

export interface PromDurationOptions {
  /** Negative values are `must not be negative`. */
  nonNegative?: boolean;
  /** Values below this many ms are `must be at least <min>ms`. */
  min?: number;
}

function durationReader(read: (v: unknown, what: string) => number) {
  return (raw: RawConfig, key: string, def: string, opts: PromDurationOptions = {}): number => {
    let ms: number;
    try {
      ms = read(raw[key] ?? def, key);
    } catch (e) {
      throw new ConfigError(key, (e as Error).message.replace(`${key}: `, ''));
    }
    if (opts.nonNegative && ms < 0) throw new ConfigError(key, 'must not be negative');
    if (opts.min !== undefined && ms < opts.min) throw new ConfigError(key, `must be at least ${opts.min}ms`);
    return ms;
  };
}

/**
 * A Prometheus model.Duration (15m, 2w, 1d12h; integers, units largest first), as Thanos's kingpin
 * model.Duration flags take it, or a finite number of ms. Returns ms.
 */
export const configPromDuration = durationReader(durationValue);

/**
 * A Go time.Duration (1.5h, 300ms, 2h45m), as Thanos's kingpin Duration flags take it, or a finite
 * number of ms. Returns ms.
 */
export const configGoDuration = durationReader(goDurationValue);

// ---- YAML blocks (objstore provider configs, nested `path.key` names) -------------------------
// Readers shaped like Go's yaml.v2 decoding into a typed struct: a scalar of the wrong kind is an
// error naming the full dotted path (`http_config.idle_conn_timeout`), unknown keys are refused by
// `mapping`, numbers are accepted where Go's yaml accepts them (an unquoted 12345 for a string).

export type Obj = Record<string, unknown>;

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A mapping (null/undefined = empty); every key must be in `known`. */
export function mapping(v: unknown, path: string, known: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(path, `expected a mapping, got ${describe(v)}`);
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new ConfigError(join(path, k), `unknown field ${JSON.stringify(k)}${path ? ` in ${path}` : ''}; known fields: ${known.join(', ')}`);
    }
  }
  return o;
}

export function str(o: Obj, key: string, path: string, def = ''): string {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v); // YAML turns unquoted 12345 into a number; Go's yaml accepts it as a string
  throw new ConfigError(join(path, key), `expected a string, got ${describe(v)}`);
}

export function bool(o: Obj, key: string, path: string, def = false): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(join(path, key), `expected true or false, got ${describe(v)}`);
}

export function int(o: Obj, key: string, path: string, def: number, opts: { min?: number; max?: number } = {}): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = Number(v.trim());
  else throw new ConfigError(join(path, key), `expected an integer, got ${describe(v)}`);
  if (!Number.isSafeInteger(n)) throw new ConfigError(join(path, key), `expected an integer, got ${v}`);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(join(path, key), `must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(join(path, key), `must be at most ${opts.max}, got ${n}`);
  return n;
}

export function stringMap(o: Obj, key: string, path: string): Record<string, string> {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(join(path, key), `expected a mapping of strings, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Obj)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else throw new ConfigError(join(join(path, key), k), `expected a string, got ${describe(x)}`);
  }
  return out;
}

/**
 * A Prometheus model.Duration (Thanos's objstore YAML types its durations so: `90s`, `2m`, `1h30m`,
 * `0`), in ms. A bare YAML 0 is accepted too (yaml.v2 reads it as the string "0").
 */
export function duration(o: Obj, key: string, path: string, defMs: number): number {
  const v = o[key];
  if (v === undefined || v === null) return defMs;
  if (typeof v === 'number' && v === 0) return 0;
  if (typeof v !== 'string') throw new ConfigError(join(path, key), `expected a duration like 90s or 2m, got ${describe(v)}`);
  const ms = tryParsePromDuration(v.trim());
  if (ms === null) throw new ConfigError(join(path, key), `invalid duration ${JSON.stringify(v)} (expected e.g. 90s, 2m, 1h30m: Prometheus units y w d h m s ms, largest first, integers)`);
  return ms;
}

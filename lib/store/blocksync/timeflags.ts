// Flag value helpers shared by store and compact: durations (lib/duration's two grammars, as
// Thanos's flags type them), Thanos "time or duration" values (RFC3339 or a duration relative to
// now, e.g. -2w), and byte sizes (250MB, 1GiB).
import { DurationError, parseGoDuration, parsePromDuration } from '../../duration/mod.ts';

/**
 * A Prometheus model.Duration (units y w d h m s ms, largest first, integers: 15m, 1h30m, 2w, 0),
 * as Thanos's kingpin model.Duration flags and Prometheus's own flag values spell them. Returns ms.
 */
export function parseModelDurationFlag(s: string): number {
  try {
    return parsePromDuration(s.trim());
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw new Error(`invalid duration ${JSON.stringify(s)} (want e.g. 15m, 2h, 1d12h, 500ms: ${e.message})`);
  }
}

function durationOf(v: unknown, what: string, parse: (s: string) => number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    try {
      return parse(v);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
  throw new Error(`${what}: expected a duration, got ${JSON.stringify(v)}`);
}

/** A model.Duration flag or config value: a number of ms passes through, strings parse as model.Duration. */
export function durationValue(v: unknown, what: string): number {
  return durationOf(v, what, parseModelDurationFlag);
}

/** A Go time.Duration (1.5h, 300ms, 2h45m, -1m), as Thanos's kingpin time.Duration flags spell them. Returns ms. */
export function parseGoDurationFlag(s: string): number {
  try {
    return parseGoDuration(s.trim());
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw new Error(`invalid duration ${JSON.stringify(s)} (want e.g. 30s, 1.5h, 2h45m, 500ms: ${e.message})`);
  }
}

/** A Go time.Duration flag or config value (1.5h, 300ms, 2h45m, -1m): a number of ms passes through. */
export function goDurationValue(v: unknown, what: string): number {
  return durationOf(v, what, parseGoDurationFlag);
}

/**
 * Thanos TimeOrDurationValue: RFC3339 absolute time, or a duration relative to now (e.g. -2w, -36h).
 * Returns ms since epoch. The extreme defaults 0000-01-01 / 9999-12-31 map to ±Number.MAX_SAFE_INTEGER-ish
 * bounds the Go code uses (min/max int64 ms are clamped to safe integers here).
 */
export function parseTimeOrDuration(s: string, now = Date.now()): number {
  return timeOrDurationClock(s)(now);
}

/**
 * parseTimeOrDuration parsed once: the value at `now` (default: the current time). Callers that ask
 * for the value per request (--min-time/--max-time on every Series call) take this at startup: the
 * parse tries the duration grammar first, and an RFC3339 time fails it with a thrown error each time.
 */
export function timeOrDurationClock(s: string): (now?: number) => number {
  const str = s.trim();
  // Thanos: a model.Duration, negative with a leading '-' (relative to now), else RFC3339.
  const neg = str.startsWith('-');
  let dur: number | undefined;
  try {
    dur = parsePromDuration(neg ? str.slice(1) : str);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
  }
  if (dur !== undefined) {
    const offset = neg ? -dur : dur;
    return (now = Date.now()) => now + offset;
  }
  let t: number;
  if (str.startsWith('0000-01-01')) t = -62167219200000; // the year-0 default
  else if (str.startsWith('9999-12-31')) t = 253402300799000;
  else {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(str)) {
      throw new Error(`invalid time ${JSON.stringify(s)}: want RFC3339 (2006-01-02T15:04:05Z) or a relative duration like -2w`);
    }
    t = Date.parse(str);
    if (!Number.isFinite(t)) throw new Error(`invalid time ${JSON.stringify(s)}`);
  }
  return () => t;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};

/** Byte sizes as Thanos flags spell them: 250MB, 2GB, 1GiB, 512 (bytes). Thanos' units are powers of 1024 for KB/MB/GB. */
export function parseBytes(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== 'string') throw new Error(`${what}: expected a size like 250MB, got ${JSON.stringify(v)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) throw new Error(`${what}: invalid size ${JSON.stringify(v)} (want e.g. 250MB, 1GiB)`);
  const unit = m[2]!.toLowerCase();
  // alecthomas/units Base2Bytes (used by Thanos flags): KB/MB/GB are 1024-based.
  const mult = unit === '' ? 1 : unit === 'kb' ? 1024 : unit === 'mb' ? 1024 ** 2 : unit === 'gb' ? 1024 ** 3 : unit === 'tb' ? 1024 ** 4 : SIZE_UNITS[unit];
  if (mult === undefined) throw new Error(`${what}: unknown size unit ${JSON.stringify(m[2])}`);
  return Math.floor(Number(m[1]) * mult);
}

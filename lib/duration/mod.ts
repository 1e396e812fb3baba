// The two duration grammars this code base speaks, and nothing else:
//
//   - Prometheus's model.Duration (prometheus/common model.ParseDuration): `1y2w3d4h5m6s7ms`.
//     Units y w d h m s ms, largest first, each at most once, integers only, no sign; `0` alone is
//     allowed. Thanos flags of kingpin type model.Duration, rule files, PromQL, the HTTP API.
//   - Go's time.Duration (time.ParseDuration): `1.5h`, `300ms`, `-1.5h`, `2h45m`. Units ns us µs μs
//     ms s m h, optional sign, decimal fractions, units in any order; `0` (or `-0`, `+0`) alone is
//     allowed. Thanos flags of type time.Duration and durations in objstore/cache YAML (yaml.v2
//     into time.Duration).
//
// Both are computed exactly (BigInt nanoseconds, as the Go code does in int64) and returned in
// milliseconds, as a number (a Go duration may carry fractions of a millisecond).

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const MAX_INT64 = (1n << 63n) - 1n;
const NS_PER_MS = 1_000_000n;

function nsToMs(ns: bigint): number {
  const whole = ns / NS_PER_MS;
  const rest = ns % NS_PER_MS;
  return rest === 0n ? Number(whole) : Number(whole) + Number(rest) / 1e6;
}

// ---- Prometheus model.Duration ---------------------------------------------------------------

const PROM_UNITS: Record<string, { pos: number; mult: bigint }> = {
  ms: { pos: 7, mult: 1_000_000n },
  s: { pos: 6, mult: 1_000_000_000n },
  m: { pos: 5, mult: 60_000_000_000n },
  h: { pos: 4, mult: 3_600_000_000_000n },
  d: { pos: 3, mult: 86_400_000_000_000n },
  w: { pos: 2, mult: 7n * 86_400_000_000_000n },
  y: { pos: 1, mult: 365n * 86_400_000_000_000n },
};

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** model.ParseDuration in nanoseconds. Throws DurationError with prometheus/common's messages. */
export function parsePromDurationNs(s: string): bigint {
  if (s === '0') return 0n;
  if (s === '') throw new DurationError('empty duration string');
  const bad = () => new DurationError(`not a valid duration string: ${JSON.stringify(s)}`);
  let rest = s;
  let dur = 0n;
  let lastPos = 0;
  while (rest !== '') {
    if (!isDigit(rest[0])) throw bad();
    let i = 0;
    while (i < rest.length && isDigit(rest[i])) i++;
    const v = BigInt(rest.slice(0, i));
    if (v > (1n << 64n) - 1n) throw bad(); // strconv.ParseUint range
    rest = rest.slice(i);
    i = 0;
    while (i < rest.length && !isDigit(rest[i])) i++;
    if (i === 0) throw bad();
    const u = rest.slice(0, i);
    rest = rest.slice(i);
    const unit = PROM_UNITS[u];
    if (!unit) throw new DurationError(`unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(s)}`);
    if (unit.pos <= lastPos) throw bad(); // units go from biggest to smallest, each once
    lastPos = unit.pos;
    if (v > (1n << 63n) / unit.mult) throw new DurationError('duration out of range');
    dur += v * unit.mult;
    if (dur > MAX_INT64) throw new DurationError('duration out of range');
  }
  return dur;
}

/** model.ParseDuration in milliseconds. */
export function parsePromDuration(s: string): number {
  return nsToMs(parsePromDurationNs(s));
}

/** model.ParseDuration in milliseconds, or null when `s` is not one. */
export function tryParsePromDuration(s: string): number | null {
  try {
    return parsePromDuration(s);
  } catch (e) {
    if (e instanceof DurationError) return null;
    throw e;
  }
}

/** model.Duration String(): the largest units first, e.g. 5m, 1h30m, 2w, 23d1h, 0s. */
export function formatPromDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  const units: Array<[string, number]> = [['y', 365 * 86400_000], ['w', 7 * 86400_000], ['d', 86400_000], ['h', 3600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  for (const [u, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}

// ---- Go time.Duration ------------------------------------------------------------------------

const GO_UNITS: Record<string, bigint> = {
  ns: 1n, us: 1_000n, 'µs': 1_000n /* U+00B5 */, 'μs': 1_000n /* U+03BC */, ms: 1_000_000n,
  s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};

/** time.ParseDuration in nanoseconds (a bigint, exact like Go's int64). Go's error messages. */
export function parseGoDurationNs(orig: string): bigint {
  const invalid = () => new DurationError(`time: invalid duration ${JSON.stringify(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    // leadingInt
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > (1n << 63n) / 10n) throw invalid();
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > 1n << 63n) throw invalid();
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction: digits past int64 precision are skipped, as Go does.
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let overflow = false;
      i = 0;
      for (; i < s.length && isDigit(s[i]); i++) {
        if (overflow) continue;
        if (f > MAX_INT64 / 10n) { overflow = true; continue; }
        const y = f * 10n + BigInt(s.charCodeAt(i) - 48);
        if (y > 1n << 63n) { overflow = true; continue; }
        f = y;
        scale *= 10;
      }
      post = i > 0;
      s = s.slice(i);
    }
    if (!pre && !post) throw invalid();
    i = 0;
    for (; i < s.length; i++) if (s[i] === '.' || isDigit(s[i])) break;
    if (i === 0) throw new DurationError(`time: missing unit in duration ${JSON.stringify(orig)}`);
    const u = s.slice(0, i);
    s = s.slice(i);
    const unit = GO_UNITS[u];
    if (unit === undefined) throw new DurationError(`time: unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(orig)}`);
    if (v > (1n << 63n) / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // Go: float64 arithmetic here (nanosecond-accurate for fractions of hours).
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > 1n << 63n) throw invalid();
    }
    d += v;
    if (d > 1n << 63n) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_INT64) throw invalid();
  return d;
}

/** time.ParseDuration in milliseconds (fractions of a millisecond kept). */
export function parseGoDuration(s: string): number {
  return nsToMs(parseGoDurationNs(s));
}

/** time.ParseDuration in milliseconds, or null when `s` is not one. */
export function tryParseGoDuration(s: string): number | null {
  try {
    return parseGoDuration(s);
  } catch (e) {
    if (e instanceof DurationError) return null;
    throw e;
  }
}

/** Formats ms like Go's time.Duration String() for whole and fractional seconds and ms (5m0s, 1h0m0s, 1.5s, 500ms, 0s). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) return (neg ? '-' : '') + `${rest}ms`;
  const h = Math.floor(rest / 3600_000);
  rest -= h * 3600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${s}s`;
  return (neg ? '-' : '') + out;
}


/**
 * A value accepted by either grammar (Go's first, then Prometheus's), in ms. Only for places that
 * do not know which grammar the value will finally be read with (the generic `duration` flag
 * type's syntax check); readers that know use parseGoDuration or parsePromDuration.
 */
export function parseAnyDuration(s: string): number {
  const go = tryParseGoDuration(s);
  if (go !== null) return go;
  return parsePromDuration(s);
}

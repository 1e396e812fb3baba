// Flag value helpers shared by store and compact: Prometheus durations (1h30m, 2w, 15m, 500ms),
// Thanos "time or duration" values (RFC3339 or a duration relative to now, e.g. -2w), and byte sizes
// (250MB, 1GiB).

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** Parses a Prometheus duration (units y w d h m s ms, concatenated, optional leading '-'). Returns ms. */
export function parseDuration(s: string): number {
  const str = s.trim();
  if (str === '0') return 0;
  const m = /^(-)?((?:\d+(?:\.\d+)?(?:ms|y|w|d|h|m|s))+)$/.exec(str);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(s)} (want e.g. 15m, 2h, 1d12h, 500ms)`);
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)/g)) total += Number(part[1]) * UNITS[part[2]!]!;
  return m[1] ? -total : total;
}

/** A duration flag: number of ms passes through, strings parse as durations. */
export function durationValue(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
  throw new Error(`${what}: expected a duration, got ${JSON.stringify(v)}`);
}

/**
 * Thanos TimeOrDurationValue: RFC3339 absolute time, or a duration relative to now (e.g. -2w, -36h).
 * Returns ms since epoch. The extreme defaults 0000-01-01 / 9999-12-31 map to ±Number.MAX_SAFE_INTEGER-ish
 * bounds the Go code uses (min/max int64 ms are clamped to safe integers here).
 */
export function parseTimeOrDuration(s: string, now = Date.now()): number {
  const str = s.trim();
  if (/^[+-]?(\d+(\.\d+)?(ms|y|w|d|h|m|s))+$/.test(str)) {
    const neg = str.startsWith('-');
    return now + (neg ? -1 : 1) * parseDuration(str.replace(/^[+-]/, ''));
  }
  if (str.startsWith('0000-01-01')) return -62167219200000; // the year-0 default
  if (str.startsWith('9999-12-31')) return 253402300799000;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(str)) {
    throw new Error(`invalid time ${JSON.stringify(s)}: want RFC3339 (2006-01-02T15:04:05Z) or a relative duration like -2w`);
  }
  const t = Date.parse(str);
  if (!Number.isFinite(t)) throw new Error(`invalid time ${JSON.stringify(s)}`);
  return t;
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

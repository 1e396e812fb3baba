// JSON as Go's encoding/json writes it, with exact int64 values.
//
// Times cross this code base as JS numbers (exact up to 2^53). Go's int64 limits do not survive
// that: math.MaxInt64 becomes 2^63, which JSON.stringify prints as 9223372036854776000, a number
// no Go client can decode into an int64. Values meant as int64 are therefore turned into bigint
// (int64()) and written as bare integer literals by stringifyJson.
import { goJsonString } from './format.ts';

export const MAX_INT64 = 9223372036854775807n;
export const MIN_INT64 = -9223372036854775808n;

/**
 * A millisecond time as an exact int64. Values at or beyond ±(2^53-1) are the int64 limits: a JS
 * number cannot hold anything between exactly, and the only such values are "no bound" sentinels
 * (math.MaxInt64 decoded from the wire is 2^63; some of our components use ±Number.MAX_SAFE_INTEGER).
 */
export function int64(v: number | bigint): bigint {
  if (typeof v === 'bigint') return v > MAX_INT64 ? MAX_INT64 : v < MIN_INT64 ? MIN_INT64 : v;
  if (Number.isNaN(v)) return 0n;
  if (v >= Number.MAX_SAFE_INTEGER) return MAX_INT64;
  if (v <= -Number.MAX_SAFE_INTEGER) return MIN_INT64;
  return BigInt(Math.trunc(v));
}

/**
 * JSON.stringify for API answers: bigint is written as a bare integer literal, strings with Go's
 * escaping (HTML-safe), undefined object members are left out, key order is kept.
 */
export function stringifyJson(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'string':
      return goJsonString(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return `[${v.map((x) => stringifyJson(x)).join(',')}]`;
      const toJSON = (v as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === 'function') return stringifyJson(toJSON.call(v));
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        parts.push(`${goJsonString(k)}:${stringifyJson(x)}`);
      }
      return `{${parts.join(',')}}`;
    }
  }
  return 'null';
}

// Prometheus HTTP API v1 wire details: value/timestamp formatting as Go writes them, and parsing
// of time, duration and bool parameters with Prometheus's (and Go's) rules and error messages.
import { tryParsePromDuration } from '../duration/mod.ts';

/** A parameter that failed to parse; the message is what Prometheus answers. */
export class ParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParamError';
  }
}

function fixExponent(s: string): string {
  // JS writes 1e-7 / 1.5e+21; Go's strconv writes at least two exponent digits: 1e-07, 1.5e+21.
  const i = s.indexOf('e');
  if (i < 0) return s;
  const sign = s[i + 1]!;
  const digits = s.slice(i + 2);
  return s.slice(0, i + 1) + sign + (digits.length < 2 ? '0' + digits : digits);
}

function expandExponent(s: string): string {
  // Turns JS exponent notation into plain decimal (Go's 'f' format with shortest precision).
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, d0, rest = '', expS] = m;
  const digits = d0! + rest;
  const exp = Number(expS);
  const point = 1 + exp; // position of the decimal point in `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A sample value as Prometheus writes it in JSON (inside quotes): 'f' format, 'e' below 1e-6 or from 1e21. */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return fixExponent(String(v));
}

/** Go strconv.FormatFloat(v, 'f', -1, 64), with +Inf/-Inf/NaN spelled as Go does. */
export function formatFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return expandExponent(String(v));
}

/** A millisecond timestamp as seconds the way Prometheus's jsonutil.MarshalTimestamp writes it. */
export function formatTimestamp(ms: number): string {
  let t = ms;
  let out = '';
  if (t < 0) {
    out = '-';
    t = -t;
  }
  const sec = Math.floor(t / 1000);
  const frac = t - sec * 1000;
  out += String(sec);
  if (frac !== 0) out += '.' + String(frac).padStart(3, '0');
  return out;
}

/** Go encoding/json float64 formatting (used for String/Scalar timestamps: float64(t)/1000). */
export function formatJsonFloat(f: number): string {
  const abs = Math.abs(f);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    // Go: 'e' format, then "e-07" -> "e-7".
    return String(f).replace(/e([+-])0(\d)$/, 'e$1$2');
  }
  return formatFloatF(f);
}

const hex = '0123456789abcdef';

/** A JSON string literal exactly as Go's encoding/json writes it (HTML-safe escaping, \u2028/\u2029). */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      if (c === 0x22) esc = '\\"';
      else if (c === 0x5c) esc = '\\\\';
      else if (c === 0x0a) esc = '\\n';
      else if (c === 0x0d) esc = '\\r';
      else if (c === 0x09) esc = '\\t';
      else esc = '\\u' + (c >= 0x2028 ? c.toString(16) : '00' + hex[c >> 4]! + hex[c & 15]!);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // Lone surrogates are invalid UTF-8 in Go and come out as U+FFFD.
      const hi = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (hi) {
        i++;
        continue;
      }
      esc = '\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

const utf8 = new TextEncoder();

/**
 * Writes s quoted at b[p] when it is printable ASCII other than " \\ < > & (goJsonString leaves it
 * as it is); the position after it, or -1 (b may then hold part of it). The caller made the room.
 */
function plainString(b: Uint8Array, p: number, s: string): number {
  b[p++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) return -1;
    b[p++] = c;
  }
  b[p++] = 0x22;
  return p;
}

/**
 * A JSON answer written straight into a growing UTF-8 buffer: label names and values, numbers and
 * punctuation go in as bytes, so an answer of 10,000 series builds no string per label, per series
 * or for the whole (building them was most of the answer's cost and garbage). Strings come out as
 * goJsonString writes them: plain ASCII byte by byte, anything else through goJsonString.
 */
export class JsonBytes {
  private buf: Uint8Array;
  private pos = 0;

  constructor(size = 1 << 14) {
    this.buf = new Uint8Array(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  /** Text that needs no escaping and is ASCII (JSON punctuation, formatted numbers). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any text, UTF-8 encoded as it is. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += utf8.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** A JSON string literal, byte for byte goJsonString(s). */
  string(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const b = this.buf;
    const start = this.pos;
    let p = start;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Printable ASCII other than " \ < > & (which goJsonString escapes).
      if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
        this.pos = start;
        this.text(goJsonString(s));
        return;
      }
      b[p++] = c;
    }
    b[p++] = 0x22;
    this.pos = p;
  }

  /** Bytes as they are (pre-encoded JSON fragments). */
  raw(u: Uint8Array): void {
    const n = u.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    // A loop: the fragments are short (a series' punctuation and timestamp), below set()'s call cost.
    for (let i = 0; i < n; i++) b[p++] = u[i]!;
    this.pos = p;
  }

  /**
   * A label set as a JSON object ({"name":"value",...}), byte for byte what string() writes per
   * name and value: room for the whole set is made once and plain ASCII strings are copied in one
   * pass; a set with any string to escape is written again string by string.
   */
  labels(ls: ReadonlyArray<{ readonly name: string; readonly value: string }>): void {
    const k = ls.length;
    let need = 2;
    for (let i = 0; i < k; i++) need += ls[i]!.name.length + ls[i]!.value.length + 6;
    this.ensure(need);
    const b = this.buf;
    // Written past pos, which moves only when the whole set is written.
    let p = this.pos;
    b[p++] = 0x7b;
    for (let i = 0; i < k; i++) {
      if (i > 0) b[p++] = 0x2c;
      const l = ls[i]!;
      p = plainString(b, p, l.name);
      if (p < 0) break;
      b[p++] = 0x3a;
      p = plainString(b, p, l.value);
      if (p < 0) break;
    }
    if (p >= 0) {
      b[p++] = 0x7d;
      this.pos = p;
      return;
    }
    this.ascii('{');
    for (let i = 0; i < k; i++) {
      if (i > 0) this.ascii(',');
      this.string(ls[i]!.name);
      this.ascii(':');
      this.string(ls[i]!.value);
    }
    this.ascii('}');
  }

  /** The bytes written (a view of the buffer: the writer must not be used after). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

// ---- parsing ---------------------------------------------------------------------------------

const goFloatRe = /^[+-]?(?:(?:\d+(?:_\d+)*)?(?:\.\d*)?(?:[eE][+-]?\d+)?)$/;

/** Go strconv.ParseFloat for decimal input (inf/nan spelled any case); null when Go would fail. */
export function parseGoFloat(s: string): number | null {
  if (s === '' || s === '+' || s === '-' || s === '.') return null;
  const lower = s.toLowerCase();
  const body = lower.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return lower.startsWith('-') ? -Infinity : Infinity;
  if (body === 'nan') return NaN;
  if (!goFloatRe.test(s) || !/\d/.test(s) || /^[+-]?[eE]/.test(s) || /^[+-]?\.[eE]/.test(s)) return null;
  const n = Number(s.replace(/_/g, ''));
  return Number.isNaN(n) ? null : n;
}

/** Go math.Round: half away from zero. */
function goRound(x: number): number {
  const t = Math.trunc(x);
  return Math.abs(x - t) >= 0.5 ? t + Math.sign(x) : t;
}

/** The bounds Prometheus uses when start/end are absent (clamped to exact JS integers). */
export const MIN_TIME_MS = Number.MIN_SAFE_INTEGER;
export const MAX_TIME_MS = Number.MAX_SAFE_INTEGER;
const MIN_TIME_FORMATTED = '-292273086-05-16T16:47:06Z';
const MAX_TIME_FORMATTED = '292277025-08-18T07:12:54.999999999Z';

function clampMs(ms: number): number {
  if (ms < MIN_TIME_MS) return MIN_TIME_MS;
  if (ms > MAX_TIME_MS) return MAX_TIME_MS;
  return ms;
}

const rfc3339Re = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;
const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (y: number, m: number) => (m === 2 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0) ? 29 : monthDays[m - 1]!);

function parseRfc3339(s: string): number | null {
  const m = rfc3339Re.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59) return null;
  let offsetMin = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, sec, 0);
  const fracMs = m[7] ? Math.floor(Number((m[7] + '000').slice(0, 3))) : 0;
  return date.getTime() - offsetMin * 60_000 + fracMs;
}

/** Prometheus parseTime: unix seconds (float, rounded to ms) or RFC3339(Nano); ms since epoch. */
export function parseTime(s: string): number {
  const f = parseGoFloat(s);
  if (f !== null && Number.isFinite(f)) {
    const sec = Math.trunc(f);
    const frac = goRound((f - sec) * 1000) / 1000;
    const nsec = Math.trunc(frac * 1e9);
    // time.Unix(sec, nsec) then UnixMilli: floor division keeps negative fractions right.
    const totalNs = sec * 1e9 + nsec;
    const ms = Math.abs(sec) < 9e6 ? Math.floor(totalNs / 1e6) : sec * 1000 + Math.floor(nsec / 1e6);
    return clampMs(ms);
  }
  const r = parseRfc3339(s);
  if (r !== null) return r;
  if (s === MIN_TIME_FORMATTED) return MIN_TIME_MS;
  if (s === MAX_TIME_FORMATTED) return MAX_TIME_MS;
  throw new ParamError(`cannot parse ${JSON.stringify(s)} to a valid timestamp`);
}

/** The HTTP API's durations (Prometheus API parseDuration): float seconds or a model.Duration; returns ms (fractional allowed). ParamError. */
export function parseApiDuration(s: string): number {
  const f = parseGoFloat(s);
  if (f !== null) {
    const ns = f * 1e9;
    if (!(ns <= 9.223372036854776e18 && ns >= -9.223372036854776e18)) {
      throw new ParamError(`cannot parse ${JSON.stringify(s)} to a valid duration. It overflows int64`);
    }
    return Math.trunc(ns) / 1e6;
  }
  const d = tryParsePromDuration(s);
  if (d !== null) return d;
  throw new ParamError(`cannot parse ${JSON.stringify(s)} to a valid duration`);
}

/** Go strconv.ParseBool. */
export function parseGoBool(s: string): boolean {
  if (s === '1' || s === 't' || s === 'T' || s === 'TRUE' || s === 'true' || s === 'True') return true;
  if (s === '0' || s === 'f' || s === 'F' || s === 'FALSE' || s === 'false' || s === 'False') return false;
  throw new ParamError(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

export { formatGoDuration, formatPromDuration } from '../duration/mod.ts';

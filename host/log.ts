// logfmt (default) and JSON loggers with Thanos's go-kit fields: `ts` (RFC 3339 UTC, as
// log.DefaultTimestampUTC), `caller` (file:line of the log call, as log.Caller), `level`, the
// logger's own fields (`component` for a component's logger), `msg`, then the call's fields.
// logfmt keeps that order (go-kit's With/WithPrefix chain); JSON has the same keys, sorted as
// go-kit's JSON logger writes them (Go's encoding/json sorts map keys).
import * as path from 'node:path';
import type { Logger } from './index.ts';
import { isoUtc } from '../lib/sdk/time.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

function fmtValue(v: unknown): string {
  let s: string;
  if (v instanceof Error) s = v.message;
  else if (v instanceof Date) s = isoUtc(v);
  else if (typeof v === 'string') s = v;
  else if (v === undefined) s = '';
  else if (typeof v === 'object' && v !== null) s = JSON.stringify(v);
  else s = String(v);
  return s === '' || /[\s"=\\]/.test(s) || /[\x00-\x1f]/.test(s) ? JSON.stringify(s) : s;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  /** The clock (tests). */
  now?: () => Date;
}

/**
 * Keys the logger writes itself. A field of the same name never replaces them (a block's
 * `level` must not turn `level=info` into `level=1`): it is written as `fields.<key>`.
 */
export const RESERVED_LOG_KEYS: ReadonlySet<string> = new Set(['ts', 'level', 'caller', 'msg']);

function addFields(rec: Record<string, unknown>, kv: Record<string, unknown> | undefined): void {
  if (!kv) return;
  for (const [k, v] of Object.entries(kv)) rec[RESERVED_LOG_KEYS.has(k) ? `fields.${k}` : k] = v;
}

/** Go's time.RFC3339Nano in UTC: the fraction without trailing zeros (…05.12Z, …05Z). */
export function goTimestamp(d: Date): string {
  return isoUtc(d).replace(/\.?0+Z$/, 'Z');
}

/**
 * `file.ts:line` of the frame that called `logFn` (go-kit's log.Caller: the base name and line of
 * the Log call). The stack is captured only for lines that pass the level filter.
 */
function callerOf(logFn: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  try {
    Error.captureStackTrace(holder, logFn);
  } finally {
    Error.stackTraceLimit = limit;
  }
  // "    at fn (file:///a/b/c.ts:12:5)" or "    at file:///a/b/c.ts:12:5" or "    at node:internal/…:1:2"
  const frame = holder.stack?.split('\n')[1];
  const m = frame ? /\(?([^\s()]+):(\d+):\d+\)?\s*$/.exec(frame) : null;
  if (!m) return '';
  return `${path.basename(m[1]!)}:${m[2]}`;
}

export function createLogger(opts: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const format = opts.format ?? 'logfmt';
  const write = opts.write ?? ((l: string) => void process.stderr.write(l));
  const now = opts.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, kv: Record<string, unknown> | undefined, logFn: (...args: never[]) => unknown) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { ts: goTimestamp(now()), caller: callerOf(logFn), level };
    addFields(rec, base);
    rec.msg = msg;
    addFields(rec, kv);
    if (format === 'json') {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(rec).sort()) sorted[k] = rec[k];
      write(JSON.stringify(sorted, (_k, v) => (v instanceof Error ? v.message : typeof v === 'bigint' ? String(v) : v)) + '\n');
    } else {
      write(Object.entries(rec).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ') + '\n');
    }
  };
  // Named functions: the caller is the frame that called one of these.
  const logger: Logger = {
    debug: function debug(m, kv) { emit('debug', m, kv, debug); },
    info: function info(m, kv) { emit('info', m, kv, info); },
    warn: function warn(m, kv) { emit('warn', m, kv, warn); },
    error: function error(m, kv) { emit('error', m, kv, error); },
    with: (kv) => createLogger(opts, { ...base, ...kv }),
  };
  return logger;
}

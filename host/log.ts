// logfmt (default) and JSON loggers, go-kit style: `ts=… level=info msg="…" key=value`.
import type { Logger } from './index.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

function fmtValue(v: unknown): string {
  let s: string;
  if (v instanceof Error) s = v.message;
  else if (v instanceof Date) s = v.toISOString();
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

export function createLogger(opts: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const format = opts.format ?? 'logfmt';
  const write = opts.write ?? ((l: string) => void process.stderr.write(l));
  const emit = (level: LogLevel, msg: string, kv?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { ts: new Date().toISOString(), level };
    addFields(rec, base);
    rec.msg = msg;
    addFields(rec, kv);
    if (format === 'json') {
      write(JSON.stringify(rec, (_k, v) => (v instanceof Error ? v.message : typeof v === 'bigint' ? String(v) : v)) + '\n');
    } else {
      write(Object.entries(rec).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ') + '\n');
    }
  };
  return {
    debug: (m, kv) => emit('debug', m, kv),
    info: (m, kv) => emit('info', m, kv),
    warn: (m, kv) => emit('warn', m, kv),
    error: (m, kv) => emit('error', m, kv),
    with: (kv) => createLogger(opts, { ...base, ...kv }),
  };
}

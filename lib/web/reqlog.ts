// Thanos's request logging (--request.logging-config / --request.logging-config-file; upstream
// pkg/logging: yaml_parser.go, http.go, grpc.go, options.go, and go-grpc-middleware v2's logging
// interceptor for the gRPC lines). One YAML document:
//
//   options: { level: ERROR, decision: { log_start: false, log_end: true } }   # both protocols
//   http:    { options: {...}, config: [{ path: /api/v1/query, port: 10904 }] } # overrides options
//   grpc:    { options: {...}, config: [{ service: thanos.Store, method: Info }] }
//
// Parsed strictly (yaml.v2 UnmarshalStrict: unknown and duplicate keys are errors), with upstream's
// validation and error texts. A protocol's effective options are its own block if non-empty, else
// the top-level block; a non-empty block needs `level` (INFO, DEBUG, ERROR or WARNING). Decisions:
// neither log_start nor log_end = no logging (NoLogCall); log_end = "finished call" only
// (LogFinishCall); both = "started call" too (LogStartAndFinishCall); log_start alone is an error.
// `config` lists are exact allow-lists. The servers (host/server/http.ts, grpc.ts) call in here
// only when a protocol has logging on: without a config the hot path is one undefined check.
import { isMap, LineCounter, parseDocument } from '../cjs/yaml.ts';
import type { Logger } from '../sdk/mod.ts';
import { ulid } from '../tsdb/ulid.ts';

export class RequestLoggingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestLoggingConfigError';
  }
}

export type RequestLogDecision = 'LogFinishCall' | 'LogStartAndFinishCall';
type Level = 'debug' | 'info' | 'warn' | 'error';

export interface HttpRequestLogging {
  decision: RequestLogDecision;
  /** The levels the config's `level` lets through (go-kit level.Allow*), on top of --log.level. */
  allow: ReadonlySet<Level>;
  /** `http.config` as upstream's decider keys "<path>:<port>"; absent = every named request. */
  only?: ReadonlySet<string>;
}

export interface GrpcRequestLogging {
  decision: RequestLogDecision;
  /** `grpc.config` as full method paths "/<service>/<method>"; absent = every method. */
  only?: ReadonlySet<string>;
}

/** What a configuration turns on; a protocol without logging is absent. */
export interface RequestLogging {
  http?: HttpRequestLogging;
  grpc?: GrpcRequestLogging;
}

interface Options { level: string; logStart: boolean; logEnd: boolean }

const OPTION_KEYS = new Set(['level', 'decision']);
const DECISION_KEYS = new Set(['log_start', 'log_end']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** yaml.v2 UnmarshalStrict's verdicts on the parts of the document we read. */
function mapping(v: unknown, where: string, known: ReadonlySet<string>): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (!isRecord(v)) throw new RequestLoggingConfigError(`${where}: expected a mapping, got ${JSON.stringify(v)}`);
  for (const k of Object.keys(v)) if (!known.has(k)) throw new RequestLoggingConfigError(`${where}: field ${k} not found in type (unknown key)`);
  return v;
}

function str(v: unknown, where: string): string {
  if (v === null || v === undefined) return '';
  // yaml.v2 decodes any scalar into a string field as written.
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new RequestLoggingConfigError(`${where}: expected a string, got ${JSON.stringify(v)}`);
}

function bool(v: unknown, where: string): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== 'boolean') throw new RequestLoggingConfigError(`${where}: expected a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function options(v: unknown, where: string): Options {
  const o = mapping(v, where, OPTION_KEYS);
  const d = mapping(o.decision, `${where}.decision`, DECISION_KEYS);
  return { level: str(o.level, `${where}.level`), logStart: bool(d.log_start, `${where}.decision.log_start`), logEnd: bool(d.log_end, `${where}.decision.log_end`) };
}

function list(v: unknown, where: string): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new RequestLoggingConfigError(`${where}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

/** Upstream's checkOptionsConfigEmpty + fillGlobalOptionConfig: the protocol's block wins when non-empty. */
function effective(global: Options, proto: Options): Options {
  const empty = (o: Options, which: string) => {
    if (o.level === '' && !o.logStart && !o.logEnd) return true;
    if (o.level === '') throw new RequestLoggingConfigError(`${which}: level field is empty`);
    return false;
  };
  let out: Options = { level: 'ERROR', logStart: false, logEnd: false };
  if (!empty(global, 'options')) out = global;
  if (!empty(proto, 'options')) out = proto;
  return out;
}

function validateLevel(level: string): void {
  if (level === '') throw new RequestLoggingConfigError('level field in YAML file is empty');
  if (!['INFO', 'DEBUG', 'ERROR', 'WARNING'].includes(level)) {
    throw new RequestLoggingConfigError(`the format of level is invalid. Expected INFO/DEBUG/ERROR/WARNING, got this ${level}`);
  }
}

/**
 * Upstream's getLevel: the filter of the HTTP lines. It matches "WARN", which validateLevel refuses,
 * so `level: WARNING` lets every level through (as in Thanos).
 */
function allowedLevels(level: string): ReadonlySet<Level> {
  switch (level) {
    case 'INFO': return new Set(['info', 'warn', 'error']);
    case 'ERROR': return new Set(['error']);
    default: return new Set(['debug', 'info', 'warn', 'error']);
  }
}

/**
 * Parses a request logging configuration (`source` names it in errors). Empty text = no logging.
 * Both protocols are validated whichever the component serves.
 */
export function parseRequestLoggingConfig(text: string, source: string): RequestLogging {
  if (text.trim() === '') return {};
  const lc = new LineCounter();
  // YAML 1.1 like yaml.v2 (yes/no are booleans); duplicate keys are errors as in UnmarshalStrict.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, version: '1.1' });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new RequestLoggingConfigError(`${source}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) throw new RequestLoggingConfigError(`${source}: the request logging configuration must be a mapping`);
  return requestLoggingFromObject(doc.toJS(), source);
}

/** The same from an already parsed document (plugins.yaml's inline `requestLoggingConfig:`). */
export function requestLoggingFromObject(doc: unknown, source: string): RequestLogging {
  try {
    const root = mapping(doc, 'request logging config', new Set(['http', 'grpc', 'options']));
    const http = mapping(root.http, 'http', new Set(['options', 'config']));
    const grpc = mapping(root.grpc, 'grpc', new Set(['options', 'config']));
    const global = options(root.options, 'options');
    const out: RequestLogging = {};

    // HTTP (upstream NewHTTPOption).
    const h = effective(global, options(http.options, 'http.options'));
    validateLevel(h.level);
    if (h.logStart && !h.logEnd) throw new RequestLoggingConfigError('log start call is not supported');
    const paths = list(http.config, 'http.config').map((e, i) => {
      const c = mapping(e, `http.config[${i}]`, new Set(['path', 'port']));
      const port = c.port ?? 0;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0) throw new RequestLoggingConfigError(`http.config[${i}].port: expected a port number, got ${JSON.stringify(c.port)}`);
      return `${str(c.path, `http.config[${i}].path`)}:${port}`;
    });
    if (h.logEnd) out.http = { decision: h.logStart ? 'LogStartAndFinishCall' : 'LogFinishCall', allow: allowedLevels(h.level), ...(paths.length ? { only: new Set(paths) } : {}) };

    // gRPC (upstream NewGRPCOption): no decision = nothing to check further.
    const g = effective(global, options(grpc.options, 'grpc.options'));
    const methods = list(grpc.config, 'grpc.config').map((e, i) => {
      const c = mapping(e, `grpc.config[${i}]`, new Set(['service', 'method']));
      return `/${str(c.service, `grpc.config[${i}].service`)}/${str(c.method, `grpc.config[${i}].method`)}`;
    });
    if (g.logStart || g.logEnd) {
      validateLevel(g.level);
      if (!g.logEnd) throw new RequestLoggingConfigError('log decision combination is not supported');
      out.grpc = { decision: g.logStart ? 'LogStartAndFinishCall' : 'LogFinishCall', ...(methods.length ? { only: new Set(methods) } : {}) };
    }
    return out;
  } catch (err) {
    if (err instanceof RequestLoggingConfigError) throw new RequestLoggingConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/**
 * extflag's WithEnvSubstitution: `$(NAME)` is replaced by the variable's value; an unset one is an
 * error (as upstream), so a reference is never left in silently.
 */
export function expandEnv(text: string, env: (name: string) => string | undefined): string {
  return text.replace(/\$\(([a-zA-Z_0-9]+)\)/g, (_m, name: string) => {
    const v = env(name);
    if (v === undefined) throw new RequestLoggingConfigError(`found reference to unset environment variable "${name}"`);
    return v;
  });
}

/** Go's durationToMilliseconds (microsecond precision, float32) printed with %v: the shortest decimal that is the same float32. */
export function goFloat32(x: number): string {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return goShortest(d);
  }
  return goShortest(f);
}

/** strconv's 'g' with the shortest digits: exponent form below 1e-4 and from 1e6 on ("1.5e+06"). */
function goShortest(d: number): string {
  if (d === 0 || !Number.isFinite(d)) return String(d);
  const exp = Math.floor(Math.log10(Math.abs(d)));
  if (exp >= -4 && exp < 6) return String(d);
  const [m, e] = d.toExponential().split('e') as [string, string];
  const n = Math.abs(Number(e));
  return `${m}e${e.startsWith('-') ? '-' : '+'}${n < 10 ? '0' : ''}${n}`;
}

function timeMs(startMs: number): string {
  return goFloat32(Math.floor((performance.now() - startMs) * 1000) / 1000);
}

// ---------------------------------------------------------------- HTTP

/** Upstream's decider key: the request URL, joined with the Host header's port when it has one. */
function httpDeciderKey(req: Request, url: URL): string | undefined {
  const host = req.headers.get('host') ?? url.host;
  const target = url.pathname + url.search;
  if (!host.includes(':')) return target;
  const m = /^(?:\[[^\]]*\]|[^:[\]]*):(\d*)$/.exec(host);
  if (!m) return undefined; // SplitHostPort fails: upstream logs the error and does not log the call
  // net.JoinHostPort brackets a "host" containing a colon.
  return target.includes(':') ? `[${target}]:${m[1]}` : `${target}:${m[1]}`;
}

function logAt(log: Logger, level: Level, msg: string, kv: Record<string, unknown>): void {
  log[level](msg, kv);
}

/**
 * Wraps a handler with upstream's HTTPServerMiddleware for the requests `name` names (Thanos logs
 * the API routes it wraps, i.e. the named handlers): "started call" at debug (LogStartAndFinishCall),
 * "finished call" at debug for 200..499 and error otherwise, both filtered by the config's level.
 * The duration is measured until the response head is ready (upstream: until the handler returns).
 */
export function logHttpRequests<I>(
  cfg: HttpRequestLogging,
  next: (req: Request, info: I) => Response | Promise<Response>,
  name: (req: Request) => string | undefined,
  remoteAddr: (info: I) => string | undefined,
  log: Logger,
): (req: Request, info: I) => Promise<Response> {
  const base = log.with({ protocol: 'http', 'http.component': 'server' });
  return async (req, info) => {
    let n: string | undefined;
    try {
      n = name(req);
    } catch {
      n = undefined;
    }
    if (!n) return next(req, info);
    const url = new URL(req.url);
    if (cfg.only) {
      const key = httpDeciderKey(req, url);
      if (key === undefined || !cfg.only.has(key)) return next(req, info);
    }
    const start = performance.now();
    const method = `${req.method} ${url.pathname}${url.search}`;
    const requestId = req.headers.get('x-request-id') ?? '';
    const userAgent = req.headers.get('user-agent') ?? '';
    if (cfg.decision === 'LogStartAndFinishCall' && cfg.allow.has('debug')) {
      base.debug('started call', { 'http.start_time': new Date().toISOString(), 'http.method': method, 'http.request_id': requestId, 'http.user_agent': userAgent, 'thanos.method_name': n });
    }
    let status = 500;
    try {
      const res = await next(req, info);
      status = res.status;
      return res;
    } finally {
      const level: Level = status >= 200 && status < 500 ? 'debug' : 'error';
      if (cfg.allow.has(level)) {
        logAt(base, level, 'finished call', {
          'http.method': method,
          'http.request_id': requestId,
          'http.user_agent': userAgent,
          'http.status_code': String(status),
          'http.time_ms': timeMs(start),
          'http.remote_addr': req.headers.get('x-forwarded-for') || remoteAddr(info) || '',
          'thanos.method_name': n,
        });
      }
    }
  };
}

// ---------------------------------------------------------------- gRPC

/** Codes upstream's DefaultCodeToLevelGRPC logs at error: Unknown, Unimplemented, Internal, DataLoss. */
const GRPC_ERROR_CODES = new Set([2, 12, 13, 15]);

/** Go's RFC 3339 (time.RFC3339: seconds, local offset as Z for UTC). */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The log lines of one gRPC call (go-grpc-middleware v2 logging as Thanos configures it):
 * "started call" at debug when the request has been received (LogStartAndFinishCall), "finished
 * call" with grpc.code (and grpc.error) at error for Unknown/Unimplemented/Internal/DataLoss, else
 * debug. Upstream applies no level filter of the config to gRPC lines (only --log.level).
 */
export class GrpcCallLog {
  private readonly fields: Record<string, unknown>;
  private readonly start = performance.now();
  private done = false;
  constructor(private readonly cfg: GrpcRequestLogging, private readonly log: Logger, fields: Record<string, unknown>) {
    this.fields = fields;
  }
  started(): void {
    if (this.cfg.decision === 'LogStartAndFinishCall') this.log.debug('started call', { ...this.fields, 'grpc.time_ms': timeMs(this.start) });
  }
  finished(code: number, codeName: string, details?: string): void {
    if (this.done) return;
    this.done = true;
    const kv: Record<string, unknown> = { ...this.fields, 'grpc.code': codeName };
    if (code !== 0) kv['grpc.error'] = `rpc error: code = ${codeName} desc = ${details ?? ''}`;
    kv['grpc.time_ms'] = timeMs(this.start);
    logAt(this.log, GRPC_ERROR_CODES.has(code) ? 'error' : 'debug', 'finished call', kv);
  }
}

export interface GrpcCallInfo {
  /** "/thanos.Store/Series". */
  path: string;
  /** go-grpc-middleware's method type: unary, server_stream, client_stream, bidi_stream. */
  type: string;
  /** The peer as "ip:port". */
  peer?: string;
  /** The request's `request-id` metadata values (Thanos's request ID interceptor). */
  requestIds?: readonly string[];
  /** The trace ID when the server span is sampled. */
  traceId?: string;
  deadline?: Date;
}

/** A call's logger, or undefined when the configuration does not log this method. */
export function grpcCallLog(cfg: GrpcRequestLogging, log: Logger, c: GrpcCallInfo): GrpcCallLog | undefined {
  if (cfg.only && !cfg.only.has(c.path)) return undefined;
  const i = c.path.lastIndexOf('/');
  const fields: Record<string, unknown> = {};
  if (c.traceId) fields.traceID = c.traceId;
  fields.requestID = c.requestIds?.length === 1 ? c.requestIds[0] : ulid();
  fields.protocol = 'grpc';
  fields['grpc.component'] = 'server';
  fields['grpc.service'] = c.path.slice(1, i);
  fields['grpc.method'] = c.path.slice(i + 1);
  fields['grpc.method_type'] = c.type;
  if (c.peer) fields['peer.address'] = c.peer;
  fields['grpc.start_time'] = rfc3339(new Date());
  if (c.deadline) fields['grpc.request.deadline'] = rfc3339(c.deadline);
  return new GrpcCallLog(cfg, log, fields);
}

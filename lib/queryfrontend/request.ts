// The requests the frontend understands, decoded from the Prometheus HTTP API parameters as Thanos's
// query-frontend codecs decode them (pkg/queryfrontend/queryrange_codec.go, labels_codec.go), and
// encoded again for the downstream querier (always a POST form, as Thanos sends them).
import { ParamError, parseApiDuration, parseGoBool, parseTime, formatTimestamp, MIN_TIME_MS, MAX_TIME_MS } from '../query/format.ts';
import { encodeShardInfoJson, parseShardInfoJson, type ShardInfo } from '../store/shard.ts';

export { ParamError };

/** Downstream headers: name and values, in the order the client sent them. */
export type ForwardedHeaders = Array<[string, string]>;

interface Common {
  /** The API path as the client asked for it (the downstream gets the same path). */
  path: string;
  start: number;
  end: number;
  partialResponse: boolean;
  /** match[] / storeMatch[] selectors as written. */
  headers: ForwardedHeaders;
  /** Cache-Control: no-store on the request (Thanos: caching disabled for it). */
  noStore: boolean;
  /** THANOS-TENANT (or "anonymous"): the cache key's user. */
  tenant: string;
  /** The split interval this request is a piece of (0: not split); part of its cache key. */
  splitInterval: number;
  /** The client's request signal: pieces still running are cancelled when the client goes away. */
  signal?: AbortSignal;
}

export interface RangeRequest extends Common {
  kind: 'range';
  query: string;
  step: number;
  dedup: boolean;
  replicaLabels: string[];
  storeMatchers: string[];
  /** ms; with autoDownsampling, step/5. */
  maxSourceResolution: number;
  autoDownsampling: boolean;
  lookbackDelta: number;
  engine: string;
  analyze: boolean;
  stats: string;
  /** shard_info: the vertical shard this request asks for (set by the sharding stage, or by the client). */
  shardInfo?: ShardInfo;
}

export interface LabelsRequest extends Common {
  kind: 'labels';
  /** 'label_names' | 'label_values' | 'series'. */
  op: 'label_names' | 'label_values' | 'series';
  /** The label of /api/v1/label/<name>/values. */
  label: string;
  matchers: string[];
  storeMatchers: string[];
  dedup: boolean;
  replicaLabels: string[];
  limit: string;
}

export type SplitRequest = RangeRequest | LabelsRequest;

const MAX_POINTS = 11000;

function boolParam(p: URLSearchParams, name: string, def: boolean): boolean {
  const v = p.get(name);
  if (v === null || v === '') return def;
  try {
    return parseGoBool(v);
  } catch {
    throw new ParamError(`cannot parse parameter ${name}`);
  }
}

/** Thanos's parseDurationMillis: float seconds or a Prometheus duration. */
function durationMillis(s: string): number {
  try {
    return Math.trunc(parseApiDuration(s));
  } catch {
    throw new ParamError(`cannot parse ${JSON.stringify(s)} to a valid duration`);
  }
}

function timeParam(p: URLSearchParams, name: string, def?: number): number {
  const v = p.get(name);
  if ((v === null || v === '') && def !== undefined) return def;
  try {
    return parseTime(v ?? '');
  } catch (e) {
    throw new ParamError(`invalid parameter "${name}": ${(e as Error).message}`);
  }
}

export interface DecodeContext {
  path: string;
  headers: Headers;
  /** Header names forwarded downstream (--query-frontend.forward-header, plus THANOS-TENANT). */
  forwardHeaders: readonly string[];
  signal?: AbortSignal;
}

function common(p: URLSearchParams, c: DecodeContext, partialDefault: boolean, start: number, end: number): Common {
  const headers: ForwardedHeaders = [];
  for (const name of c.forwardHeaders) {
    const v = c.headers.get(name);
    if (v !== null) headers.push([name, v]);
  }
  const cc = c.headers.get('cache-control') ?? '';
  return {
    path: c.path, start, end, headers,
    partialResponse: boolParam(p, 'partial_response', partialDefault),
    noStore: cc.includes('no-store'),
    tenant: c.headers.get('thanos-tenant') || 'anonymous',
    splitInterval: 0,
    signal: c.signal,
  };
}

/** A /api/v1/query_range request; ParamError for what the querier would refuse as bad_data. */
export function decodeRangeRequest(p: URLSearchParams, c: DecodeContext, partialDefault: boolean): RangeRequest {
  const start = timeParam(p, 'start');
  const end = timeParam(p, 'end');
  if (end < start) throw new ParamError('end timestamp must not be before start time');
  const stepRaw = p.get('step') ?? '';
  const step = durationMillis(stepRaw);
  if (step <= 0) throw new ParamError('zero or negative query resolution step widths are not accepted. Try a positive integer');
  if ((end - start) / step > MAX_POINTS) throw new ParamError('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  let maxSourceResolution = 0;
  let autoDownsampling = false;
  const msr = p.get('max_source_resolution') ?? '';
  if (msr === 'auto') {
    autoDownsampling = true;
    maxSourceResolution = Math.trunc(step / 5);
  } else if (msr !== '') {
    maxSourceResolution = durationMillis(msr);
    if (maxSourceResolution < 0) throw new ParamError('negative max_source_resolution is not accepted. Try a positive integer');
  }
  const lb = p.get('lookback_delta');
  let shardInfo: ShardInfo | undefined;
  const si = p.get('shard_info');
  if (si) {
    try {
      shardInfo = parseShardInfoJson(si);
    } catch (e) {
      throw new ParamError(`could not unmarshal parameter shard_info: ${(e as Error).message}`);
    }
  }
  return {
    ...common(p, c, partialDefault, start, end),
    kind: 'range',
    query: p.get('query') ?? '',
    step,
    dedup: boolParam(p, 'dedup', true),
    replicaLabels: p.getAll('replicaLabels[]'),
    storeMatchers: p.getAll('storeMatch[]'),
    maxSourceResolution, autoDownsampling,
    lookbackDelta: lb ? durationMillis(lb) : 0,
    engine: p.get('engine') ?? '',
    analyze: boolParam(p, 'analyze', false),
    stats: p.get('stats') ?? '',
    shardInfo,
  };
}

const LABEL_VALUES_RE = /\/api\/v1\/label\/([^/]+)\/values$/;

/** /api/v1/labels, /api/v1/label/<name>/values and /api/v1/series; start/end default to the last defaultRangeMs (0: all time). */
export function decodeLabelsRequest(p: URLSearchParams, c: DecodeContext, partialDefault: boolean, defaultRangeMs: number, now = Date.now()): LabelsRequest {
  const op = c.path.endsWith('/api/v1/series') ? 'series' : c.path.endsWith('/api/v1/labels') ? 'label_names' : 'label_values';
  const defStart = defaultRangeMs === 0 ? MIN_TIME_MS : now - defaultRangeMs;
  const defEnd = defaultRangeMs === 0 ? MAX_TIME_MS : now;
  const start = timeParam(p, 'start', defStart);
  const end = timeParam(p, 'end', defEnd);
  if (end < start) throw new ParamError('end timestamp must not be before start time');
  let label = '';
  if (op === 'label_values') {
    const m = LABEL_VALUES_RE.exec(c.path);
    label = m ? decodeURIComponent(m[1]!) : '';
  }
  return {
    ...common(p, c, partialDefault, start, end),
    kind: 'labels', op, label,
    matchers: p.getAll('match[]'),
    storeMatchers: p.getAll('storeMatch[]'),
    dedup: boolParam(p, 'dedup', true),
    replicaLabels: p.getAll('replicaLabels[]'),
    limit: p.get('limit') ?? '',
  };
}

const seconds = (ms: number) => formatTimestamp(ms);

/** The downstream form for a (piece of a) range request. */
export function encodeRangeRequest(r: RangeRequest): URLSearchParams {
  const p = new URLSearchParams();
  p.set('start', seconds(r.start));
  p.set('end', seconds(r.end));
  p.set('step', String(r.step / 1000));
  p.set('query', r.query);
  p.set('dedup', String(r.dedup));
  p.set('partial_response', String(r.partialResponse));
  for (const l of r.replicaLabels) p.append('replicaLabels[]', l);
  if (r.analyze) p.set('analyze', 'true');
  if (r.engine) p.set('engine', r.engine);
  if (r.stats) p.set('stats', r.stats);
  if (r.autoDownsampling) p.set('max_source_resolution', 'auto');
  else if (r.maxSourceResolution !== 0) p.set('max_source_resolution', String(r.maxSourceResolution / 1000));
  for (const m of r.storeMatchers) p.append('storeMatch[]', m);
  if (r.lookbackDelta > 0) p.set('lookback_delta', String(r.lookbackDelta / 1000));
  if (r.shardInfo) p.set('shard_info', encodeShardInfoJson(r.shardInfo));
  return p;
}

export function encodeLabelsRequest(r: LabelsRequest): URLSearchParams {
  const p = new URLSearchParams();
  if (r.start > MIN_TIME_MS) p.set('start', seconds(r.start));
  if (r.end < MAX_TIME_MS) p.set('end', seconds(r.end));
  for (const m of r.matchers) p.append('match[]', m);
  for (const m of r.storeMatchers) p.append('storeMatch[]', m);
  p.set('partial_response', String(r.partialResponse));
  if (r.op === 'series') {
    p.set('dedup', String(r.dedup));
    for (const l of r.replicaLabels) p.append('replicaLabels[]', l);
  }
  if (r.limit) p.set('limit', r.limit);
  return p;
}

export function withStartEnd<R extends SplitRequest>(r: R, start: number, end: number): R {
  return { ...r, start, end };
}

// `thanos sidecar` flags and the config object they fill (also accepted from plugins.yaml).
// Not accepted (and so rejected as unknown flags): the config/rule reloader (--reloader.*),
// --prometheus.http-client(-file), --hash-func, --shipper.upload-concurrency.
import { ConfigError, type FlagSpec } from '../../../host/index.ts';
import { durationValue, parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';

export interface SidecarConfig {
  prometheusUrl: string;
  readyTimeoutMs: number;
  getConfigIntervalMs: number;
  getConfigTimeoutMs: number;
  tsdbPath: string;
  uploadCompacted: boolean;
  shipperMetaFileName: string;
  ignoreUnequalBlockSize: boolean;
  /** How often the shipper scans tsdb.path (Thanos: fixed 30s). plugins.yaml key only. */
  shipperSyncIntervalMs: number;
  /** --min-time as given (RFC3339 or relative duration), resolved when advertised. */
  minTime: string;
  requestSeriesLimit: number;
  requestSamplesLimit: number;
}

export const sidecarFlags: FlagSpec[] = [
  { name: 'prometheus.url', key: 'prometheusUrl', type: 'string', default: 'http://localhost:9090', help: 'URL at which to reach Prometheus\'s API. For better performance use local network.' },
  { name: 'prometheus.ready_timeout', key: 'readyTimeout', type: 'duration', default: '10m', help: 'Maximum time to wait for the Prometheus instance to start up.' },
  { name: 'prometheus.get_config_interval', key: 'getConfigInterval', type: 'duration', default: '30s', help: 'How often to get Prometheus config (external labels, lowest timestamp).' },
  { name: 'prometheus.get_config_timeout', key: 'getConfigTimeout', type: 'duration', default: '30s', help: 'Timeout for getting Prometheus config.' },
  { name: 'tsdb.path', key: 'tsdbPath', type: 'string', default: './data', help: 'Data directory of TSDB.' },
  { name: 'shipper.upload-compacted', key: 'uploadCompacted', type: 'bool', default: false, help: 'If true shipper will try to upload compacted blocks as well. Useful for migration purposes. Works only if compaction is disabled on Prometheus. Do it once and then disable the flag when done.' },
  { name: 'shipper.meta-file-name', key: 'shipperMetaFileName', type: 'string', default: 'thanos.shipper.json', help: 'The file to store shipper metadata in (inside --tsdb.path).' },
  { name: 'shipper.ignore-unequal-block-size', key: 'ignoreUnequalBlockSize', type: 'bool', default: false, help: 'If true, the sidecar does not require Prometheus\'s min and max block durations to be equal. Only use this if you know what you are doing.' },
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Start of time range limit to serve. Thanos sidecar will serve only metrics which happened later than this value. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'store.limits.request-series', key: 'requestSeriesLimit', type: 'int', default: 0, help: 'The maximum series allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit.' },
  { name: 'store.limits.request-samples', key: 'requestSamplesLimit', type: 'int', default: 0, help: 'The maximum samples allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit. Implemented as a chunks limit assuming 120 samples per chunk.' },
];

/** Keys the host fills for every component (addresses, objstore, logging); the sidecar ignores them. */
const HOST_KEYS = new Set([
  'http', 'grpc', 'httpAddress', 'grpcAddress', 'httpGracePeriod', 'grpcGracePeriod', 'objstore', 'objstoreConfig', 'objstoreConfigFile',
  'logLevel', 'logFormat', 'dataDir',
]);
const KNOWN = new Set([...sidecarFlags.map((f) => f.key), 'shipperSyncInterval']);

function str(raw: Record<string, unknown>, key: string, def: string): string {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new ConfigError(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}
function int(raw: Record<string, unknown>, key: string, def: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ConfigError(key, `must be an integer >= 0, got ${JSON.stringify(v)}`);
  return n;
}
function bool(raw: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ConfigError(key, `must be true or false, got ${JSON.stringify(v)}`);
}
function dur(raw: Record<string, unknown>, key: string, def: string, min = 0): number {
  let ms: number;
  try {
    ms = durationValue(raw[key] ?? def, key);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message.replace(`${key}: `, ''));
  }
  if (ms < min) throw new ConfigError(key, `must be at least ${min}ms`);
  return ms;
}

export function parseSidecarConfig(input: unknown): SidecarConfig {
  const raw = (input ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('', 'sidecar config must be a mapping');
  for (const k of Object.keys(raw)) if (!KNOWN.has(k) && !HOST_KEYS.has(k)) throw new ConfigError(k, 'unknown sidecar option');
  const prometheusUrl = str(raw, 'prometheusUrl', 'http://localhost:9090');
  let u: URL;
  try {
    u = new URL(prometheusUrl);
  } catch {
    throw new ConfigError('prometheusUrl', `invalid URL ${JSON.stringify(prometheusUrl)} (want e.g. http://localhost:9090)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('prometheusUrl', `unsupported scheme ${u.protocol} (want http or https)`);
  const minTime = str(raw, 'minTime', '0000-01-01T00:00:00Z');
  try {
    parseTimeOrDuration(minTime);
  } catch (e) {
    throw new ConfigError('minTime', (e as Error).message);
  }
  const tsdbPath = str(raw, 'tsdbPath', './data');
  if (tsdbPath.trim() === '') throw new ConfigError('tsdbPath', 'must not be empty');
  const metaName = str(raw, 'shipperMetaFileName', 'thanos.shipper.json');
  if (metaName === '' || metaName.includes('/')) throw new ConfigError('shipperMetaFileName', `must be a plain file name, got ${JSON.stringify(metaName)}`);
  return {
    prometheusUrl,
    readyTimeoutMs: dur(raw, 'readyTimeout', '10m', 1),
    getConfigIntervalMs: dur(raw, 'getConfigInterval', '30s', 1),
    getConfigTimeoutMs: dur(raw, 'getConfigTimeout', '30s', 1),
    tsdbPath,
    uploadCompacted: bool(raw, 'uploadCompacted', false),
    shipperMetaFileName: metaName,
    ignoreUnequalBlockSize: bool(raw, 'ignoreUnequalBlockSize', false),
    shipperSyncIntervalMs: dur(raw, 'shipperSyncInterval', '30s', 1),
    minTime,
    requestSeriesLimit: int(raw, 'requestSeriesLimit', 0),
    requestSamplesLimit: int(raw, 'requestSamplesLimit', 0),
  };
}

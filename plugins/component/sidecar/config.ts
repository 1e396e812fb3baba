// `thanos sidecar` flags and the config object they fill (also accepted from plugins.yaml).
// Not accepted (and so rejected as unknown flags): the config/rule reloader (--reloader.*),
// --hash-func, --shipper.upload-concurrency.
import { ConfigError, refuseCommonFlags, type FlagSpec } from '../../../lib/sdk/mod.ts';
import { parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import { parse as parseYaml } from '../../../lib/cjs/yaml.ts';
import { parseHttpClientConfig, type HttpClientConfig } from '../../../lib/net/httpclient.ts';
import {
  configBool as bool, configInt as int, configGoDuration, configMapping, configPromDuration, configString as str, rejectHostKeys, rejectUnknownKeys, refuseUnimplemented,
} from '../../../lib/config/fields.ts';

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
  /** --prometheus.http-client-file: read (through ctx.fs) and parsed at setup. */
  httpClientFile: string;
  /** --prometheus.http-client, parsed (also what parseHttpClientYaml makes of the file). */
  httpClient: HttpClientConfig;
}

const HTTP_CLIENT_HELP = 'YAML file or string with http client configs. See Format details: https://thanos.io/tip/components/sidecar.md/#configuration.';

export const sidecarFlags: FlagSpec[] = [
  { name: 'prometheus.url', key: 'prometheusUrl', type: 'string', default: 'http://localhost:9090', help: 'URL at which to reach Prometheus\'s API. For better performance use local network.' },
  { name: 'prometheus.ready_timeout', key: 'readyTimeout', type: 'duration', default: '10m', help: 'Maximum time to wait for the Prometheus instance to start up.' },
  { name: 'prometheus.get_config_interval', key: 'getConfigInterval', type: 'duration', default: '30s', help: 'How often to get Prometheus config (external labels, lowest timestamp).' },
  { name: 'prometheus.get_config_timeout', key: 'getConfigTimeout', type: 'duration', default: '30s', help: 'Timeout for getting Prometheus config.' },
  { name: 'prometheus.http-client-file', key: 'httpClientFile', type: 'string', default: '', help: `Path to ${HTTP_CLIENT_HELP}` },
  { name: 'prometheus.http-client', key: 'httpClient', type: 'string', default: '', help: `Alternative to 'prometheus.http-client-file' flag (mutually exclusive). Content of ${HTTP_CLIENT_HELP}` },
  { name: 'tsdb.path', key: 'tsdbPath', type: 'string', default: './data', help: 'Data directory of TSDB.' },
  { name: 'shipper.upload-compacted', key: 'uploadCompacted', type: 'bool', default: false, help: 'If true shipper will try to upload compacted blocks as well. Useful for migration purposes. Works only if compaction is disabled on Prometheus. Do it once and then disable the flag when done.' },
  { name: 'shipper.meta-file-name', key: 'shipperMetaFileName', type: 'string', default: 'thanos.shipper.json', help: 'The file to store shipper metadata in (inside --tsdb.path).' },
  { name: 'shipper.ignore-unequal-block-size', key: 'ignoreUnequalBlockSize', type: 'bool', default: false, help: 'If true, the sidecar does not require Prometheus\'s min and max block durations to be equal. Only use this if you know what you are doing.' },
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Start of time range limit to serve. Thanos sidecar will serve only metrics which happened later than this value. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'store.limits.request-series', key: 'requestSeriesLimit', type: 'int', default: 0, help: 'The maximum series allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit.' },
  { name: 'store.limits.request-samples', key: 'requestSamplesLimit', type: 'int', default: 0, help: 'The maximum samples allowed for a single Series request. The Series call fails if this limit is exceeded. 0 means no limit. Implemented as a chunks limit assuming 120 samples per chunk.' },
  ...refuseCommonFlags(['data-dir'], 'is not a flag of thanos sidecar (Prometheus\'s blocks are read from --tsdb.path)'),
];

const KNOWN = new Set([...sidecarFlags.map((f) => f.key), 'shipperSyncInterval']);

export function parseSidecarConfig(input: unknown): SidecarConfig {
  const raw = configMapping(input, 'sidecar');
  rejectHostKeys(raw, 'sidecar');
  rejectUnknownKeys(raw, [KNOWN], 'unknown sidecar option');
  refuseUnimplemented(raw, sidecarFlags);
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
  const httpClientFile = str(raw, 'httpClientFile', '');
  const httpClientText = str(raw, 'httpClient', '');
  if (httpClientFile !== '' && httpClientText !== '') throw new ConfigError('httpClient', 'both --prometheus.http-client-file and --prometheus.http-client are set; give only one');
  return {
    prometheusUrl,
    httpClientFile,
    httpClient: parseHttpClientYaml(httpClientText, 'prometheus.http-client'),
    // Thanos types the prometheus.* durations time.Duration.
    readyTimeoutMs: configGoDuration(raw, 'readyTimeout', '10m', { min: 1 }),
    getConfigIntervalMs: configGoDuration(raw, 'getConfigInterval', '30s', { min: 1 }),
    getConfigTimeoutMs: configGoDuration(raw, 'getConfigTimeout', '30s', { min: 1 }),
    tsdbPath,
    uploadCompacted: bool(raw, 'uploadCompacted', false),
    shipperMetaFileName: metaName,
    ignoreUnequalBlockSize: bool(raw, 'ignoreUnequalBlockSize', false),
    shipperSyncIntervalMs: configPromDuration(raw, 'shipperSyncInterval', '30s', { min: 1 }),
    minTime,
    requestSeriesLimit: int(raw, 'requestSeriesLimit', 0),
    requestSamplesLimit: int(raw, 'requestSamplesLimit', 0),
  };
}

/** The Prometheus HTTP client config (Thanos's clientconfig.HTTPClientConfig YAML); '' = defaults. */
export function parseHttpClientYaml(text: string, where: string): HttpClientConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(where, `parsing http config YAML: ${(e as Error).message}`);
  }
  return parseHttpClientConfig(doc ?? {}, where);
}

// `thanos rule` flags (Thanos names) and the config object they fill (also accepted from plugins.yaml).
import { ConfigError, parseFlagDuration, type FlagSpec } from '../../../lib/sdk/mod.ts';
import { normalizeWebPrefix } from '../../../lib/web/ui.ts';
import { isDnsAddr, isValidLabelName, parseDnsAddr, parseAlertmanagersConfig, parseQueryEndpointsConfig, parseRemoteWriteConfig } from '../../../lib/rules/mod.ts';
import {
  configMapping, configString as str, configStrings as strings, rejectHostKeys, rejectUnknownKeys, refuseUnimplemented,
} from '../../../lib/config/fields.ts';

export interface RuleConfig {
  ruleFiles: string[];
  evalIntervalMs: number;
  queries: string[];
  queryHttpMethod: 'GET' | 'POST';
  alertmanagersUrls: string[];
  alertmanagersSendTimeoutMs: number;
  /** --query.sd-dns-interval / --alertmanagers.sd-dns-interval: how often dns+ addresses are re-resolved. */
  queryDnsIntervalMs: number;
  alertmanagersDnsIntervalMs: number;
  externalLabels: Record<string, string>;
  alertQueryUrl: string;
  alertLabelDrop: string[];
  resendDelayMs: number;
  retentionMs: number;
  blockDurationMs: number;
  /** --tsdb.enable-native-histograms: a deprecated no-op (histograms are always recorded); kept for /api/v1/status/flags. */
  enableNativeHistograms: boolean;
  forOutageToleranceMs: number;
  forGracePeriodMs: number;
  /** --alertmanagers.config (YAML, checked here) / --alertmanagers.config-file (read at setup). */
  alertmanagersConfig: string;
  alertmanagersConfigFile: string;
  /** --query.config / --query.config-file, likewise. */
  queryConfig: string;
  queryConfigFile: string;
  /** --remote-write.config (YAML, checked here) / --remote-write.config-file: stateless mode when given. */
  remoteWriteConfig: string;
  remoteWriteConfigFile: string;
  /** --web.route-prefix (default --web.external-prefix), --web.external-prefix, --web.prefix-header: as the querier's (lib/web/ui.ts). */
  routePrefix: string;
  externalPrefix: string;
  prefixHeader: string;
}

export const ruleFlags: FlagSpec[] = [
  { name: 'web.route-prefix', key: 'webRoutePrefix', type: 'string', default: '', help: 'Prefix for API and UI endpoints. This allows thanos UI to be served on a sub-path. This option is analogous to --web.route-prefix of Prometheus.' },
  { name: 'web.external-prefix', key: 'webExternalPrefix', type: 'string', default: '', help: 'Static prefix for all HTML links and redirect URLs in the UI query web interface. Actual endpoints are still served on / or the web.route-prefix. This allows thanos UI to be served behind a reverse proxy that strips a URL sub-path.' },
  { name: 'web.prefix-header', key: 'webPrefixHeader', type: 'string', default: '', help: 'Name of HTTP request header used for dynamic prefixing of UI links and redirects. This option is ignored if web.external-prefix argument is set. Security risk: enable this option only if a reverse proxy in front of thanos is resetting the header.' },
  { name: 'rule-file', key: 'ruleFiles', type: 'strings', default: [], help: 'Rule files to load (repeatable; globs such as rules/*.yml are expanded).' },
  { name: 'eval-interval', key: 'evalInterval', type: 'duration', default: '1m', help: 'The default evaluation interval to use (a group\'s own interval wins).' },
  { name: 'query', key: 'queries', type: 'strings', default: [], help: 'HTTP address of a query API (thanos query or Prometheus), e.g. http://127.0.0.1:10904 (repeatable; tried in order until one answers).' },
  { name: 'query.http-method', key: 'queryHttpMethod', type: 'string', default: 'POST', help: 'HTTP method for instant queries: GET or POST.' },
  { name: 'alertmanagers.url', key: 'alertmanagersUrls', type: 'strings', default: [], help: 'Alertmanager URL to send alerts to (API v2; repeatable; all of them receive every alert).' },
  { name: 'alertmanagers.config', key: 'alertmanagersConfig', type: 'string', default: '', help: 'Alternative to \'alertmanagers.config-file\' flag (mutually exclusive). Content of YAML file that contains alerting configuration (alertmanagers: [{static_configs, file_sd_configs, http_config, scheme, path_prefix, timeout, api_version}]).' },
  { name: 'alertmanagers.config-file', key: 'alertmanagersConfigFile', type: 'string', default: '', help: 'Path to YAML file that contains alerting configuration. See format details: https://thanos.io/tip/components/rule.md/#configuration. If defined, it takes precedence over the \'--alertmanagers.url\' and \'--alertmanagers.send-timeout\' flags.' },
  { name: 'query.config', key: 'queryConfig', type: 'string', default: '', help: 'Alternative to \'query.config-file\' flag (mutually exclusive). Content of YAML file that contains query API servers configuration (a list of {static_configs, file_sd_configs, http_config, scheme, path_prefix}).' },
  { name: 'query.config-file', key: 'queryConfigFile', type: 'string', default: '', help: 'Path to YAML file that contains query API servers configuration. If defined, it takes precedence over the \'--query\' flag.' },
  { name: 'query.sd-dns-interval', key: 'querySdDnsInterval', type: 'duration', default: '30s', help: 'Interval between DNS resolutions of query API addresses (dns+, dnssrv+, dnssrvnoa+ prefixes).' },
  { name: 'alertmanagers.sd-dns-interval', key: 'alertmanagersSdDnsInterval', type: 'duration', default: '30s', help: 'Interval between DNS resolutions of Alertmanager hosts (dns+, dnssrv+, dnssrvnoa+ prefixes).' },
  { name: 'alertmanagers.send-timeout', key: 'alertmanagersSendTimeout', type: 'duration', default: '10s', help: 'Timeout for sending alerts to Alertmanager.' },
  { name: 'label', key: 'labels', type: 'strings', default: [], help: 'Labels to be applied to all generated metrics and alerts (repeated), format key="value". Similar to external labels for Prometheus, used to identify the ruler and its blocks as unique source.' },
  { name: 'alert.query-url', key: 'alertQueryUrl', type: 'string', default: '', help: 'The external Thanos Query URL that would be set in all alerts \'Source\' field (default: http://<--http-address>).' },
  { name: 'alert.label-drop', key: 'alertLabelDrop', type: 'strings', default: [], help: 'Labels by name to drop before sending to alertmanager (repeatable; e.g. a replica label).' },
  { name: 'resend-delay', key: 'resendDelay', type: 'duration', default: '1m', help: 'Minimum amount of time to wait before resending an alert to Alertmanager.' },
  { name: 'tsdb.retention', key: 'tsdbRetention', type: 'duration', default: '48h', help: 'Block retention time on local disk (blocks are deleted locally once older and, with object storage, uploaded).' },
  { name: 'tsdb.block-duration', key: 'tsdbBlockDuration', type: 'duration', default: '2h', help: 'Block duration for TSDB block.' },
  // Thanos ≥ 0.40 (Prometheus 3.8): a deprecated no-op, native histograms are always ingested.
  { name: 'tsdb.enable-native-histograms', key: 'tsdbEnableNativeHistograms', type: 'bool', default: true, help: '(Deprecated) Enables the ingestion of native histograms. This flag is a no-op now and will be removed in the future. Native histogram ingestion is always enabled.' },
  { name: 'for-outage-tolerance', key: 'forOutageTolerance', type: 'duration', default: '1h', help: 'Max time to tolerate prometheus outage for restoring "for" state of alert.' },
  { name: 'for-grace-period', key: 'forGracePeriod', type: 'duration', default: '10m', help: 'Minimum duration between alert and restored "for" state. This is maintained only for alerts with configured "for" time greater than grace period.' },
  { name: 'remote-write.config', key: 'remoteWriteConfig', type: 'string', default: '', help: 'Alternative to \'remote-write.config-file\' flag (mutually exclusive). Content of YAML config for the remote-write configurations, that specify servers where samples should be sent to (see https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write). This automatically enables stateless mode for ruler and no series will be stored in the ruler\'s TSDB. If an empty config (or file) is provided, the flag is ignored and ruler is run with its own TSDB.' },
  { name: 'remote-write.config-file', key: 'remoteWriteConfigFile', type: 'string', default: '', help: 'Path to YAML config for the remote-write configurations (stateless mode; see --remote-write.config).' },
  // --data-dir (host flag; Thanos's default data/) holds the TSDB: WAL and blocks.
  // --objstore.config(-file) (host flags): blocks cut from the TSDB are uploaded there.
];

const KNOWN = new Set(ruleFlags.map((f) => f.key));

function dur(raw: Record<string, unknown>, key: string, def: string, positive = false): number {
  const v = raw[key] ?? def;
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    try {
      ms = parseFlagDuration(v);
    } catch (e) {
      throw new ConfigError(key, (e as Error).message);
    }
  } else throw new ConfigError(key, `must be a duration such as 30s or 5m, got ${JSON.stringify(v)}`);
  if (!Number.isFinite(ms) || ms < 0 || (positive && ms === 0)) throw new ConfigError(key, `must be a ${positive ? 'positive' : 'non-negative'} duration, got ${JSON.stringify(v)}`);
  return ms;
}

function httpUrl(key: string, s: string): string {
  // Thanos: `dns+`, `dnssrv+`, `dnssrvnoa+` before the address (scheme optional) ask for DNS discovery.
  if (isDnsAddr(s)) {
    try {
      parseDnsAddr(s);
    } catch (e) {
      throw new ConfigError(key, (e as Error).message);
    }
    return s.replace(/\/+$/, '');
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ConfigError(key, `invalid URL ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(key, `unsupported scheme ${JSON.stringify(u.protocol.slice(0, -1))} in ${JSON.stringify(s)} (http and https only)`);
  return withScheme.replace(/\/+$/, '');
}

/** `k="v"` (Thanos --label syntax; the value must be double-quoted). */
export function parseLabelFlag(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new ConfigError('labels', `unrecognized label ${JSON.stringify(s)} (expected key="value")`);
  const k = s.slice(0, i);
  const rawV = s.slice(i + 1);
  if (!isValidLabelName(k)) throw new ConfigError('labels', `unsupported format for label ${s}: invalid label name ${JSON.stringify(k)}`);
  let v: string;
  try {
    v = JSON.parse(rawV) as string;
    if (typeof v !== 'string') throw new Error('not a string');
  } catch {
    throw new ConfigError('labels', `unsupported format for label ${s}: the value must be a double-quoted string, e.g. ${k}="${rawV.replace(/"/g, '')}"`);
  }
  return [k, v];
}

function webPrefix(key: string, p: string): string {
  try {
    return normalizeWebPrefix(p);
  } catch (e) {
    throw new ConfigError(key, (e as Error).message);
  }
}

export function parseRuleConfig(raw: unknown): RuleConfig {
  const r = configMapping(raw, 'rule');
  rejectHostKeys(r, 'rule');
  rejectUnknownKeys(r, [KNOWN], 'unknown key');
  refuseUnimplemented(r, ruleFlags);
  const queries = strings(r, 'queries').map((q) => httpUrl('queries', q));
  const queryConfig = str(r, 'queryConfig', '');
  const queryConfigFile = str(r, 'queryConfigFile', '');
  if (queryConfig !== '' && queryConfigFile !== '') throw new ConfigError('queryConfig', 'give only one of --query.config and --query.config-file');
  const anyQueryConfig = queryConfig !== '' || queryConfigFile !== '';
  if (anyQueryConfig && queries.length > 0) throw new ConfigError('queries', '--query and --query.config* parameters cannot be defined at the same time');
  if (queries.length === 0 && !anyQueryConfig) throw new ConfigError('queries', 'no --query given: the ruler needs at least one query API (e.g. --query=http://127.0.0.1:10904, or --query.config-file)');
  if (queryConfig !== '') {
    try {
      parseQueryEndpointsConfig(queryConfig);
    } catch (e) {
      throw new ConfigError('queryConfig', (e as Error).message);
    }
  }
  const alertmanagersConfig = str(r, 'alertmanagersConfig', '');
  const alertmanagersConfigFile = str(r, 'alertmanagersConfigFile', '');
  if (alertmanagersConfig !== '' && alertmanagersConfigFile !== '') throw new ConfigError('alertmanagersConfig', 'give only one of --alertmanagers.config and --alertmanagers.config-file');
  if ((alertmanagersConfig !== '' || alertmanagersConfigFile !== '') && strings(r, 'alertmanagersUrls').length > 0) {
    throw new ConfigError('alertmanagersUrls', '--alertmanagers.url and --alertmanagers.config* parameters cannot be defined at the same time');
  }
  if (alertmanagersConfig !== '') {
    try {
      parseAlertmanagersConfig(alertmanagersConfig);
    } catch (e) {
      throw new ConfigError('alertmanagersConfig', (e as Error).message);
    }
  }
  const remoteWriteConfig = str(r, 'remoteWriteConfig', '');
  const remoteWriteConfigFile = str(r, 'remoteWriteConfigFile', '');
  if (remoteWriteConfig !== '' && remoteWriteConfigFile !== '') throw new ConfigError('remoteWriteConfig', 'give only one of --remote-write.config and --remote-write.config-file');
  if (remoteWriteConfig.trim() !== '') {
    try {
      parseRemoteWriteConfig(remoteWriteConfig);
    } catch (e) {
      throw new ConfigError('remoteWriteConfig', (e as Error).message);
    }
  }
  const method = str(r, 'queryHttpMethod', 'POST').toUpperCase();
  if (method !== 'GET' && method !== 'POST') throw new ConfigError('queryHttpMethod', `must be GET or POST, got ${JSON.stringify(method)}`);
  const externalLabels: Record<string, string> = {};
  for (const l of strings(r, 'labels')) {
    const [k, v] = parseLabelFlag(l);
    externalLabels[k] = v;
  }
  const externalPrefix = webPrefix('webExternalPrefix', str(r, 'webExternalPrefix', ''));
  return {
    ruleFiles: strings(r, 'ruleFiles'),
    evalIntervalMs: dur(r, 'evalInterval', '1m', true),
    queries,
    queryHttpMethod: method,
    alertmanagersUrls: strings(r, 'alertmanagersUrls').map((u) => httpUrl('alertmanagersUrls', u)),
    alertmanagersSendTimeoutMs: dur(r, 'alertmanagersSendTimeout', '10s', true),
    queryDnsIntervalMs: dur(r, 'querySdDnsInterval', '30s', true),
    alertmanagersDnsIntervalMs: dur(r, 'alertmanagersSdDnsInterval', '30s', true),
    externalLabels,
    alertQueryUrl: str(r, 'alertQueryUrl', ''),
    alertLabelDrop: strings(r, 'alertLabelDrop'),
    resendDelayMs: dur(r, 'resendDelay', '1m'),
    retentionMs: dur(r, 'tsdbRetention', '48h', true),
    blockDurationMs: dur(r, 'tsdbBlockDuration', '2h', true),
    enableNativeHistograms: r.tsdbEnableNativeHistograms !== false,
    forOutageToleranceMs: dur(r, 'forOutageTolerance', '1h'),
    forGracePeriodMs: dur(r, 'forGracePeriod', '10m'),
    alertmanagersConfig, alertmanagersConfigFile, queryConfig, queryConfigFile, remoteWriteConfig, remoteWriteConfigFile,
    // As Thanos: an empty --web.route-prefix is --web.external-prefix.
    routePrefix: webPrefix('webRoutePrefix', str(r, 'webRoutePrefix', '')) || externalPrefix,
    externalPrefix,
    prefixHeader: str(r, 'webPrefixHeader', ''),
  };
}

// `thanos receive` flags and the config object they fill (also accepted from plugins.yaml under the
// same keys): ingestor, hashring router with replication (--receive.hashrings-file / --receive.hashrings,
// --receive.local-endpoint, --receive.replication-factor). OTLP and relabelling are not accepted
// (unknown flags are errors).
import { ConfigError, notImplementedYet, refuseCommonFlags, type FlagSpec, type ListenTlsOptions } from '../../../lib/sdk/mod.ts';
import { GO_CIPHER_SUITES, GO_CURVES } from '../../../lib/web/webconfig.ts';
import {
  configBool, configGoDuration, configMapping, configPromDuration, configString as str, rejectHostKeys, rejectUnknownKeys, refuseUnimplemented, type RawConfig,
} from '../../../lib/config/fields.ts';
import { validTenant } from '../../../lib/receive/tenants.ts';
import type { GrpcClientTlsOptions } from '../../../lib/sdk/mod.ts';
import { grpcClientTlsConfig } from '../../../lib/net/grpctls.ts';
import type { LabelLimits } from '../../../lib/receive/receiver.ts';
import { DEFAULT_MAX_DECODED_BYTES } from '../../../lib/remote/write.ts';
import { LimitsConfigError, parseLimitsConfig } from '../../../lib/receive/limits.ts';
import { HASHRING_ALGORITHMS, HashringConfigError, newMultiHashring, parseHashringsConfig, type HashringAlgorithm } from '../../../lib/receive/hashring.ts';

export interface ReceiveConfig {
  remoteWriteAddress: string;
  tsdbPath: string;
  retentionMs: number;
  blockDurationMs: number;
  /** External labels (from repeated --label key="value"). */
  labels: Record<string, string>;
  tenantHeader: string;
  defaultTenant: string;
  tenantLabelName: string;
  /** --receive.split-tenant-label-name ('' = off). */
  splitTenantLabelName: string;
  replicationFactor: number;
  replicaHeader: string;
  /** Longest accepted remote write body (compressed), bytes. */
  maxBodyBytes: number;
  /** --remote-write.max-decoded-bytes: largest decoded remote write body. */
  maxDecodedBytes: number;
  /** --tsdb.too-far-in-future.time-window (ms); 0 disables. */
  tooFarInFutureMs: number;
  labelLimits: LabelLimits;
  /** --receive.hashrings-file: watched, reloaded on change. */
  hashringsFile: string;
  /** --receive.hashrings: the same JSON inline (used when no file is given). */
  hashrings: string;
  hashringsAlgorithm: HashringAlgorithm;
  /** --receive.hashrings-file-refresh-interval (ms). */
  hashringsRefreshMs: number;
  /** --receive.local-endpoint: this receiver's address in the hashring. */
  localEndpoint: string;
  /** Thanos's hidden --receive-forward-timeout (ms). */
  forwardTimeoutMs: number;
  /** --remote-write.client-tls-*: TLS of the forwarding client to the other receivers (undefined: plaintext). */
  forwardTls?: GrpcClientTlsOptions;
  /** Forwarding TLS keys given while --remote-write.client-tls-secure is off (no effect, as in Thanos; logged). */
  forwardTlsIgnored?: string[];
  /** --receive.limits-config-file: YAML, re-read every reload timer. */
  limitsConfigFile: string;
  /** --receive.limits-config: the same YAML inline (used when no file is given). */
  limitsConfig: string;
  /** --receive.limits-config-reload-timer (ms). */
  limitsReloadMs: number;
  /** --tsdb.wal-compression: snappy-compress WAL records (default true, as Thanos). */
  walCompression: boolean;
  /** --remote-write.server-tls-*: the remote-write listener's TLS (undefined: plain HTTP). */
  remoteWriteTls?: ListenTlsOptions;
  /**
   * --remote-write.server-http-config (ours, not upstream's): a web configuration file (TLS, basic
   * auth, headers) for the remote-write listener instead of remoteWriteTls; '' = none.
   */
  remoteWriteHttpConfig: string;
}

export const NO_EXTERNAL_LABELS =
  'no external labels configured for receive, uniquely identifying external labels must be configured (ideally with `receive_` prefix); see https://thanos.io/tip/thanos/storage.md#external-labels for details.';

export const receiveFlags: FlagSpec[] = [
  { name: 'remote-write.address', key: 'remoteWriteAddress', type: 'string', default: '0.0.0.0:19291', help: 'Address to listen on for remote write requests.' },
  { name: 'tsdb.path', key: 'tsdbPath', type: 'string', default: './data', help: 'Data directory of TSDB (one subdirectory per tenant: WAL and blocks).' },
  { name: 'tsdb.retention', key: 'tsdbRetention', type: 'duration', default: '15d', help: 'How long to retain raw samples on local storage. 0d - disables the retention policy (i.e. infinite retention).' },
  { name: 'tsdb.block-duration', key: 'tsdbBlockDuration', type: 'duration', default: '2h', help: 'Length of the blocks cut from the head (Thanos: the hidden --tsdb.min-block-duration). Shorter only for tests.' },
  { name: 'label', key: 'labels', type: 'strings', help: 'External labels to announce. This flag will be removed in the future when handling multiple tsdb instances is added. Repeat: --label \'key="value"\'.' },
  { name: 'receive.tenant-header', key: 'tenantHeader', type: 'string', default: 'THANOS-TENANT', help: 'HTTP header to determine tenant for write requests.' },
  { name: 'receive.default-tenant-id', key: 'defaultTenant', type: 'string', default: 'default-tenant', help: 'Default tenant ID to use when none is provided via a header.' },
  { name: 'receive.tenant-label-name', key: 'tenantLabelName', type: 'string', default: 'tenant_id', help: 'Label name through which the tenant will be announced.' },
  { name: 'receive.split-tenant-label-name', key: 'splitTenantLabelName', type: 'string', default: '', help: 'Label name through which the request will be split into multiple tenants. This takes precedence over the HTTP header.' },
  {
    name: 'receive.tenant-certificate-field', key: 'tenantCertificateField', type: 'string', default: '',
    help: "Use TLS client's certificate field to determine tenant for write requests. Must be one of organization, organizationalUnit or commonName. This setting will cause the receive.tenant-header flag value to be ignored.",
    refused: notImplementedYet('thanos receive', 'the tenant comes from --receive.tenant-header or --receive.split-tenant-label-name: client certificates do not reach the write handler'), accept: [''],
  },
  { name: 'receive.replication-factor', key: 'replicationFactor', type: 'int', default: 1, help: 'How many times to replicate incoming write requests. A write succeeds when a quorum (RF/2+1; 1 for RF=2) of replicas took every series, else 503.' },
  { name: 'receive.hashrings-file', key: 'hashringsFile', type: 'string', default: '', help: 'Path to file that contains the hashring configuration. A watcher is initialized to watch changes and update the hashring dynamically.' },
  { name: 'receive.hashrings', key: 'hashrings', type: 'string', default: '', help: "Alternative to 'receive.hashrings-file' flag (lower priority). Content of file that contains the hashring configuration." },
  { name: 'receive.hashrings-algorithm', key: 'hashringsAlgorithm', type: 'string', default: 'hashmod', help: 'The algorithm used when distributing series in the hashrings. Must be one of hashmod, ketama. Will be overwritten by the tenant-specific algorithm in the hashring config.' },
  { name: 'receive.hashrings-file-refresh-interval', key: 'hashringsRefreshInterval', type: 'duration', default: '5m', help: 'Refresh interval to re-read the hashring configuration file (the file is also checked for changes every second, standing in for Thanos\'s file watcher).' },
  { name: 'receive.local-endpoint', key: 'localEndpoint', type: 'string', default: '', help: "Endpoint of local receive node. Used to identify the local node in the hashring configuration. If it's empty AND hashring configuration was provided, it means that receive will run in RoutingOnly mode." },
  { name: 'receive-forward-timeout', key: 'forwardTimeout', type: 'duration', default: '5s', help: 'Timeout for each forward request.' },
  // Thanos defaults to snappy; grpc-js has no snappy codec, so forwarded writes go uncompressed and
  // only `none` is accepted (a Thanos receiver accepts both).
  { name: 'receive.grpc-compression', key: 'grpcCompression', type: 'string', default: 'none', help: 'Compression algorithm to use for gRPC requests to other receivers. Only none is accepted (Thanos: snappy, the default there).', refused: notImplementedYet('thanos receive', 'snappy compression of forwarded writes'), accept: ['none'] },
  { name: 'receive.limits-config-file', key: 'limitsConfigFile', type: 'string', default: '', help: 'Path to YAML file that contains limit configuration (write: global: max_concurrency, meta_monitoring_url, meta_monitoring_limit_query; default/tenants: request: size_bytes_limit, series_limit, samples_limit; head_series_limit). Re-read when it changes.' },
  { name: 'receive.limits-config', key: 'limitsConfig', type: 'string', default: '', help: "Alternative to 'receive.limits-config-file' flag (mutually exclusive). Content of YAML file that contains limit configuration." },
  { name: 'receive.limits-config-reload-timer', key: 'limitsConfigReloadTimer', type: 'duration', default: '1s', help: 'Minimum amount of time to pass for the limit configuration to be reloaded. Helps to avoid excessive reloads.' },
  { name: 'receive.replica-header', key: 'replicaHeader', type: 'string', default: 'THANOS-REPLICA', help: 'HTTP header specifying the replica number of a write request.' },
  {
    name: 'tsdb.too-far-in-future.time-window', key: 'tsdbTooFarInFutureTimeWindow', type: 'duration', default: '10m',
    // Thanos defaults to 0s (off). We do not: one sample 30 days ahead moves the head's appendable
    // window with it, and every live sample after it is refused (409, which Prometheus never
    // retries) until the next block boundary, i.e. one request loses everyone's data. 10m is
    // far beyond NTP skew; `0s` restores Thanos's behaviour.
    help: 'Configures the allowed time window for ingesting samples too far in the future; samples after receive local time + this are refused (409). Default 10m (Thanos: 0s, disabled — a single far-future sample then blocks live samples until the next block boundary). 0s disables.',
  },
  {
    name: 'remote-write.max-decoded-bytes', key: 'maxDecodedBytes', type: 'int', default: DEFAULT_MAX_DECODED_BYTES,
    help: 'Largest decoded (uncompressed) remote write request, in bytes. Checked against the length the snappy header declares before anything is decoded; larger requests get 413.',
  },
  { name: 'receive.label-limit', key: 'labelLimit', type: 'int', default: 0, help: 'Most labels a series may have (Prometheus\'s label_limit); a series over it is refused with 400, the rest of the request is written. 0 means no limit.' },
  { name: 'receive.label-name-length-limit', key: 'labelNameLengthLimit', type: 'int', default: 0, help: 'Longest label name, in bytes (Prometheus\'s label_name_length_limit); a series over it is refused with 400. 0 means no limit.' },
  { name: 'receive.label-value-length-limit', key: 'labelValueLengthLimit', type: 'int', default: 0, help: 'Longest label value, in bytes (Prometheus\'s label_value_length_limit); a series over it is refused with 400. 0 means no limit.' },
  { name: 'remote-write.server-tls-cert', key: 'rwServerTlsCert', type: 'string', default: '', help: 'TLS Certificate for HTTP server, leave blank to disable TLS.' },
  { name: 'remote-write.server-tls-key', key: 'rwServerTlsKey', type: 'string', default: '', help: 'TLS Key for the HTTP server, leave blank to disable TLS.' },
  { name: 'remote-write.server-tls-client-ca', key: 'rwServerTlsClientCa', type: 'string', default: '', help: 'TLS CA to verify clients against. If no client CA is specified, there is no client verification on server side. (tls.NoClientCert)' },
  { name: 'remote-write.server-tls-min-version', key: 'rwServerTlsMinVersion', type: 'string', default: '1.3', help: 'TLS version for the HTTP server, leave blank to default to TLS 1.3, Allowed values: ["1.0", "1.1", "1.2", "1.3"]' },
  { name: 'remote-write.server-tls-ciphers', key: 'rwServerTlsCiphers', type: 'strings', help: 'TLS cipher suites for the HTTP server (repeatable). If not specified, the default Go cipher suites are used. See https://pkg.go.dev/crypto/tls#pkg-constants for valid values.' },
  { name: 'remote-write.server-tls-curves', key: 'rwServerTlsCurves', type: 'strings', help: 'TLS curves for the HTTP server (repeatable). If not specified, the default Go curves are used. Valid values: CurveP256, CurveP384, CurveP521, X25519.' },
  {
    // Not an upstream flag: Thanos has no authentication on the remote-write port (operators put a
    // proxy in front). Opt-in, so a Prometheus that sends no credentials keeps working by default.
    name: 'remote-write.server-http-config', key: 'rwServerHttpConfig', type: 'string', default: '',
    help: 'Not in upstream Thanos. Path to a web configuration file in --http.config\'s format (exporter-toolkit: tls_server_config, basic_auth_users, http_server_config, rate_limit) for the remote-write listener; re-read when it changes. Mutually exclusive with --remote-write.server-tls-*.',
  },
  // Thanos ≥ 0.40 (Prometheus 3.8): a deprecated no-op, native histograms are always ingested.
  { name: 'tsdb.enable-native-histograms', key: 'tsdbEnableNativeHistograms', type: 'bool', default: true, help: '(Deprecated) Enables the ingestion of native histograms. This flag is a no-op now and will be removed in the future. Native histogram ingestion is always enabled.' },
  { name: 'tsdb.wal-compression', key: 'tsdbWalCompression', type: 'bool', default: true, help: 'Compress the tsdb WAL (snappy; --no-tsdb.wal-compression writes plain records; replay reads both).' },
  // Receive's own flags for its forwarding gRPC client (lib/net/grpctls.ts), named as upstream's.
  { name: 'remote-write.client-tls-cert', key: 'rwClientTlsCert', type: 'string', default: '', help: 'TLS Certificates to use to identify this client to the server.' },
  { name: 'remote-write.client-tls-key', key: 'rwClientTlsKey', type: 'string', default: '', help: "TLS Key for the client's certificate." },
  { name: 'remote-write.client-tls-secure', key: 'rwClientTlsSecure', type: 'bool', default: false, help: 'Use TLS when talking to the other receivers.' },
  { name: 'remote-write.client-tls-skip-verify', key: 'rwClientTlsSkipVerify', type: 'bool', default: false, help: 'Disable TLS certificate verification when talking to the other receivers i.e self signed, signed by fake CA.' },
  { name: 'remote-write.client-tls-ca', key: 'rwClientTlsCa', type: 'string', default: '', help: 'TLS CA Certificates to use to verify servers.' },
  { name: 'remote-write.client-server-name', key: 'rwClientServerName', type: 'string', default: '', help: 'Server name to verify the hostname on the returned TLS certificates. See https://tools.ietf.org/html/rfc4366#section-3.1' },
  { name: 'remote-write.client-tls-min-version', key: 'rwClientTlsMinVersion', type: 'string', default: '1.3', help: 'TLS version for the gRPC client, leave blank to default to TLS 1.3, Allowed values: ["1.0", "1.1", "1.2", "1.3"]' },
  ...refuseCommonFlags(['data-dir'], 'is not a flag of thanos receive (its TSDB lives under --tsdb.path)'),
];

const KNOWN = new Set([...receiveFlags.map((f) => f.key), 'maxBodyBytes']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `key="value"` (Thanos's --label syntax: the value is a double-quoted string). */
export function parseLabelFlag(s: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new ConfigError('labels', `unrecognized label ${JSON.stringify(s)} (want key="value")`);
  const name = s.slice(0, eq);
  const rawValue = s.slice(eq + 1);
  if (!LABEL_NAME.test(name)) throw new ConfigError('labels', `invalid label name ${JSON.stringify(name)} in ${JSON.stringify(s)}`);
  if (!/^".*"$/s.test(rawValue)) throw new ConfigError('labels', `unquote label value ${JSON.stringify(rawValue)} in ${JSON.stringify(s)}: the value must be double-quoted, e.g. ${name}="${rawValue}"`);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    throw new ConfigError('labels', `unquote label value ${JSON.stringify(rawValue)} in ${JSON.stringify(s)}`);
  }
  return [name, value as string];
}

const dur = (raw: RawConfig, key: string, def: string): number => configPromDuration(raw, key, def, { nonNegative: true });

const FLAG_OF = new Map(receiveFlags.map((f) => [f.key, f.name]));

/** Strict: unknown keys and bad values are ConfigErrors naming the key and its flag. */
export function parseReceiveConfig(input: unknown): ReceiveConfig {
  try {
    return parseStrict(input);
  } catch (e) {
    if (e instanceof ConfigError && FLAG_OF.has(e.key)) throw new ConfigError(`${e.key} (--${FLAG_OF.get(e.key)})`, e.message.slice(e.key.length + 2));
    throw e;
  }
}

function parseStrict(input: unknown): ReceiveConfig {
  const raw = configMapping(input, 'receive');
  rejectHostKeys(raw, 'receive');
  rejectUnknownKeys(raw, [KNOWN], 'unknown receive option');
  refuseUnimplemented(raw, receiveFlags);
  const labels: Record<string, string> = {};
  const rl = raw.labels;
  if (Array.isArray(rl)) {
    for (const s of rl) {
      if (typeof s !== 'string') throw new ConfigError('labels', `must be strings like key="value", got ${JSON.stringify(s)}`);
      const [k, v] = parseLabelFlag(s);
      if (k in labels) throw new ConfigError('labels', `label ${k} given twice`);
      labels[k] = v;
    }
  } else if (rl && typeof rl === 'object') {
    for (const [k, v] of Object.entries(rl)) {
      if (!LABEL_NAME.test(k)) throw new ConfigError(`labels.${k}`, 'invalid label name');
      if (typeof v !== 'string') throw new ConfigError(`labels.${k}`, 'must be a string');
      labels[k] = v;
    }
  } else if (rl !== undefined && rl !== null) {
    throw new ConfigError('labels', 'must be a list of key="value" strings or a mapping');
  }
  if (Object.keys(labels).length === 0) throw new ConfigError('labels', NO_EXTERNAL_LABELS);
  const tsdbPath = str(raw, 'tsdbPath', './data');
  if (tsdbPath.trim() === '') throw new ConfigError('tsdbPath', 'must not be empty');
  const addr = str(raw, 'remoteWriteAddress', '0.0.0.0:19291');
  if (!/^(\[[^\]]+\]|[^:]*):\d+$/.test(addr)) throw new ConfigError('remoteWriteAddress', `want host:port, got ${JSON.stringify(addr)}`);
  const blockDurationMs = dur(raw, 'tsdbBlockDuration', '2h');
  if (blockDurationMs < 1000) throw new ConfigError('tsdbBlockDuration', 'must be at least 1s');
  const tenantLabelName = str(raw, 'tenantLabelName', 'tenant_id');
  if (!LABEL_NAME.test(tenantLabelName)) throw new ConfigError('tenantLabelName', `invalid label name ${JSON.stringify(tenantLabelName)}`);
  const splitTenantLabelName = str(raw, 'splitTenantLabelName', '');
  if (splitTenantLabelName !== '' && !LABEL_NAME.test(splitTenantLabelName)) throw new ConfigError('splitTenantLabelName', `invalid label name ${JSON.stringify(splitTenantLabelName)}`);
  const defaultTenant = str(raw, 'defaultTenant', 'default-tenant');
  if (!validTenant(defaultTenant)) throw new ConfigError('defaultTenant', `invalid tenant id ${JSON.stringify(defaultTenant)}`);
  const mb = raw.maxBodyBytes ?? 64 << 20;
  if (typeof mb !== 'number' || !Number.isInteger(mb) || mb <= 0) throw new ConfigError('maxBodyBytes', 'must be a positive integer');
  const int = (key: string, def: number, min: number): number => {
    const v = raw[key] ?? def;
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) throw new ConfigError(key, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const rf = int('replicationFactor', 1, 1);
  const algo = str(raw, 'hashringsAlgorithm', 'hashmod');
  if (!HASHRING_ALGORITHMS.includes(algo as HashringAlgorithm)) throw new ConfigError('hashringsAlgorithm', `must be one of ${HASHRING_ALGORITHMS.join(', ')}, got ${JSON.stringify(algo)}`);
  const hashringsFile = str(raw, 'hashringsFile', '');
  const hashrings = str(raw, 'hashrings', '');
  if (hashrings !== '' && hashringsFile === '') {
    // Inline content is checked here; a file is read (and checked) when the receiver starts.
    try {
      newMultiHashring(algo as HashringAlgorithm, rf, parseHashringsConfig(hashrings));
    } catch (e) {
      if (e instanceof HashringConfigError) throw new ConfigError('hashrings', `failed to validate hashring configuration content: ${e.message}`);
      throw e;
    }
  }
  const localEndpoint = str(raw, 'localEndpoint', '');
  const forwardTimeoutMs = dur(raw, 'forwardTimeout', '5s');
  const forwardTls = grpcClientTlsConfig(raw, {
    secure: 'rwClientTlsSecure', skipVerify: 'rwClientTlsSkipVerify', cert: 'rwClientTlsCert', key: 'rwClientTlsKey',
    ca: 'rwClientTlsCa', serverName: 'rwClientServerName', minVersion: 'rwClientTlsMinVersion',
  });
  if (forwardTimeoutMs <= 0) throw new ConfigError('forwardTimeout', 'must be positive');
  const limitsConfigFile = str(raw, 'limitsConfigFile', '');
  const limitsConfig = str(raw, 'limitsConfig', '');
  if (limitsConfigFile !== '' && limitsConfig !== '') throw new ConfigError('limitsConfig', 'both --receive.limits-config-file and --receive.limits-config are set; they are mutually exclusive');
  if (limitsConfig !== '') {
    try {
      parseLimitsConfig(limitsConfig);
    } catch (e) {
      if (e instanceof LimitsConfigError) throw new ConfigError('limitsConfig', e.message);
      throw e;
    }
  }
  const limitsReloadMs = configGoDuration(raw, 'limitsConfigReloadTimer', '1s', { nonNegative: true });
  if (limitsReloadMs <= 0) throw new ConfigError('limitsConfigReloadTimer', 'must be positive');
  const hashringsRefreshMs = dur(raw, 'hashringsRefreshInterval', '5m');
  if (hashringsRefreshMs <= 0) throw new ConfigError('hashringsRefreshInterval', 'must be positive');
  const rwTls = remoteWriteTls(raw);
  const remoteWriteHttpConfig = str(raw, 'rwServerHttpConfig', '');
  if (remoteWriteHttpConfig !== '') {
    const given = rwServerTlsFlagsGiven(raw);
    if (given.length > 0) throw new ConfigError('rwServerHttpConfig', `--remote-write.server-http-config and ${given.map((f) => `--${f}`).join(', ')} are mutually exclusive: put the TLS settings in the web configuration file's tls_server_config`);
  }
  return {
    remoteWriteTls: rwTls,
    remoteWriteHttpConfig,
    remoteWriteAddress: addr,
    forwardTls: forwardTls.tls,
    forwardTlsIgnored: forwardTls.ignored,
    tsdbPath,
    retentionMs: dur(raw, 'tsdbRetention', '15d'),
    blockDurationMs,
    labels,
    tenantHeader: str(raw, 'tenantHeader', 'THANOS-TENANT'),
    defaultTenant,
    tenantLabelName,
    splitTenantLabelName,
    replicationFactor: rf,
    hashringsFile, hashrings, hashringsAlgorithm: algo as HashringAlgorithm, hashringsRefreshMs, localEndpoint, forwardTimeoutMs,
    limitsConfigFile, limitsConfig, limitsReloadMs,
    replicaHeader: str(raw, 'replicaHeader', 'THANOS-REPLICA'),
    maxBodyBytes: mb,
    maxDecodedBytes: int('maxDecodedBytes', DEFAULT_MAX_DECODED_BYTES, 1),
    tooFarInFutureMs: dur(raw, 'tsdbTooFarInFutureTimeWindow', '10m'),
    walCompression: configBool(raw, 'tsdbWalCompression', true),
    labelLimits: {
      labelLimit: int('labelLimit', 0, 0),
      labelNameLengthLimit: int('labelNameLengthLimit', 0, 0),
      labelValueLengthLimit: int('labelValueLengthLimit', 0, 0),
    },
  };
}


/** The --remote-write.server-tls-* flags given with a value other than their default. */
function rwServerTlsFlagsGiven(raw: RawConfig): string[] {
  return receiveFlags.filter((f) => f.name.startsWith('remote-write.server-tls-') && raw[f.key] !== undefined && JSON.stringify(raw[f.key]) !== JSON.stringify(f.default ?? []))
    .map((f) => f.name);
}

/** --remote-write.server-tls-*, checked as Thanos's tls.NewServerConfig (undefined: TLS off). */
function remoteWriteTls(raw: RawConfig): ListenTlsOptions | undefined {
  const certFile = str(raw, 'rwServerTlsCert', '');
  const keyFile = str(raw, 'rwServerTlsKey', '');
  const clientCaFile = str(raw, 'rwServerTlsClientCa', '');
  const minVersion = str(raw, 'rwServerTlsMinVersion', '1.3');
  if (!['1.0', '1.1', '1.2', '1.3'].includes(minVersion)) throw new ConfigError('rwServerTlsMinVersion', `invalid TLS version: ${minVersion}, valid values are 1.0, 1.1, 1.2, 1.3`);
  const list = (key: string): string[] => {
    const v = raw[key] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(key, 'must be a list of strings');
    return v as string[];
  };
  const cipherSuites = list('rwServerTlsCiphers');
  for (const c of cipherSuites) if (!(c in GO_CIPHER_SUITES)) throw new ConfigError('rwServerTlsCiphers', `invalid TLS cipher suite: ${c}`);
  const curves = list('rwServerTlsCurves');
  for (const c of curves) if (!(c in GO_CURVES)) throw new ConfigError('rwServerTlsCurves', `invalid TLS curve: ${c}, valid values are ${Object.keys(GO_CURVES).join(', ')}`);
  if (certFile === '' && keyFile === '') {
    if (clientCaFile !== '') throw new ConfigError('rwServerTlsClientCa', 'when a client CA is used a server key and certificate must also be provided');
    return undefined;
  }
  if (certFile === '' || keyFile === '') throw new ConfigError(certFile === '' ? 'rwServerTlsCert' : 'rwServerTlsKey', 'both server key and certificate must be provided');
  return { certFile, keyFile, clientCaFile: clientCaFile || undefined, minVersion, cipherSuites, curves };
}

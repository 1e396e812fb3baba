// `scrape` component config: a subset of the Prometheus configuration file, under the component's
// `config:` in plugins.yaml (or in a file named by --config.file / configFile):
//
//   global:          { scrape_interval: 1m, scrape_timeout: 10s }      Prometheus's defaults
//   scrape_configs:  - job_name, scrape_interval, scrape_timeout, metrics_path (/metrics),
//                      scheme (http | https), static_configs: [{ targets: [host:port], labels: {} }]
//   remote_write:    Prometheus remote_write entries (lib/rules/remotewrite.ts: url, headers, auth,
//                    tls_config, queue_config; the rest refused there)
//
// Any other Prometheus key (relabel_configs, honor_labels, file_sd_configs, basic_auth, ...) is
// refused by name: it is a Prometheus setting we do not implement, not a typo to ignore.
import { parse as parseYaml, stringify as stringifyYaml } from '../../../lib/cjs/yaml.ts';
import { ConfigError, type FlagSpec } from '../../../lib/sdk/mod.ts';
import { configMapping, duration, join, mapping, str, stringMap, type Obj } from '../../../lib/config/fields.ts';
import { parseRemoteWriteConfig, RemoteWriteConfigError, type RemoteWriteConfig } from '../../../lib/rules/mod.ts';
import { splitHostPort } from '../../../lib/net/hostport.ts';

export interface ScrapeTarget {
  /** host:port, also the `instance` label. */
  address: string;
  /** Labels of the target's static_config (job and instance are set apart). */
  labels: Record<string, string>;
}

export interface ScrapeJob {
  jobName: string;
  intervalMs: number;
  timeoutMs: number;
  metricsPath: string;
  scheme: 'http' | 'https';
  targets: ScrapeTarget[];
}

export interface ScrapeConfig {
  /** --config.file: a Prometheus-style YAML with the same keys, read when the component starts. */
  configFile: string;
  jobs: ScrapeJob[];
  remoteWrite: RemoteWriteConfig[];
}

export const scrapeFlags: FlagSpec[] = [
  { name: 'config.file', key: 'configFile', type: 'string', default: '', help: 'Prometheus-style configuration file (global, scrape_configs, remote_write) instead of the inline keys.' },
];

const TOP_KEYS = ['configFile', 'global', 'scrape_configs', 'remote_write'];
const FILE_KEYS = ['global', 'scrape_configs', 'remote_write'];
const GLOBAL_KEYS = ['scrape_interval', 'scrape_timeout'];
const JOB_KEYS = ['job_name', 'scrape_interval', 'scrape_timeout', 'metrics_path', 'scheme', 'static_configs'];
const STATIC_KEYS = ['targets', 'labels'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A key Prometheus has but we do not: refused by name, so it is not mistaken for an unknown key. */
function refuseNotImplemented(o: Obj, known: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new ConfigError(join(path, k), `${JSON.stringify(k)} is not implemented by the scrape component (supported: ${known.join(', ')})`);
    }
  }
}

/** A Prometheus config mapping at `path` whose keys must all be among `known` (others: not implemented). */
function section(v: unknown, path: string, known: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(path || 'config', 'expected a mapping');
  refuseNotImplemented(v as Obj, known, path);
  return v as Obj;
}

function list(o: Obj, key: string, path: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(join(path, key), 'expected a list');
  return v;
}

/** The Prometheus-shaped part (global, scrape_configs, remote_write) of a mapping at `path`. */
export function parsePrometheusSubset(o: Obj, path: string): { jobs: ScrapeJob[]; remoteWrite: RemoteWriteConfig[] } {
  const g = section(o.global, join(path, 'global'), GLOBAL_KEYS);
  const gInterval = duration(g, 'scrape_interval', join(path, 'global'), 60_000);
  const gTimeout = duration(g, 'scrape_timeout', join(path, 'global'), 10_000);
  const names = new Set<string>();
  const jobs = list(o, 'scrape_configs', path).map((raw, i): ScrapeJob => {
    const where = `${join(path, 'scrape_configs')}[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(where, 'expected a mapping');
    const j = section(raw, where, JOB_KEYS);
    const jobName = str(j, 'job_name', where);
    if (!jobName) throw new ConfigError(join(where, 'job_name'), 'is required');
    if (names.has(jobName)) throw new ConfigError(join(where, 'job_name'), `found multiple scrape configs with job name ${JSON.stringify(jobName)}`);
    names.add(jobName);
    const intervalMs = duration(j, 'scrape_interval', where, gInterval);
    const timeoutMs = duration(j, 'scrape_timeout', where, Math.min(gTimeout, intervalMs));
    if (intervalMs <= 0) throw new ConfigError(join(where, 'scrape_interval'), 'must be greater than 0');
    if (timeoutMs <= 0 || timeoutMs > intervalMs) throw new ConfigError(join(where, 'scrape_timeout'), `scrape timeout greater than scrape interval for scrape config with job name ${JSON.stringify(jobName)}`);
    const metricsPath = str(j, 'metrics_path', where, '/metrics');
    if (!metricsPath.startsWith('/')) throw new ConfigError(join(where, 'metrics_path'), 'must start with /');
    const scheme = str(j, 'scheme', where, 'http');
    if (scheme !== 'http' && scheme !== 'https') throw new ConfigError(join(where, 'scheme'), `must be http or https, got ${JSON.stringify(scheme)}`);
    const targets = list(j, 'static_configs', where).flatMap((sc, k) => {
      const sw = `${join(where, 'static_configs')}[${k}]`;
      const s = mapping(sc, sw, STATIC_KEYS);
      const labels = stringMap(s, 'labels', sw);
      for (const name of Object.keys(labels)) {
        if (!LABEL_NAME.test(name)) throw new ConfigError(join(join(sw, 'labels'), name), `invalid label name ${JSON.stringify(name)}`);
      }
      return list(s, 'targets', sw).map((t, n): ScrapeTarget => {
        const tw = `${join(sw, 'targets')}[${n}]`;
        if (typeof t !== 'string') throw new ConfigError(tw, 'expected host:port');
        try {
          splitHostPort(t);
        } catch (e) {
          throw new ConfigError(tw, `${JSON.stringify(t)} is not host:port (${(e as Error).message})`);
        }
        return { address: t, labels };
      });
    });
    return { jobName, intervalMs, timeoutMs, metricsPath, scheme, targets };
  });
  let remoteWrite: RemoteWriteConfig[] = [];
  if (o.remote_write !== undefined && o.remote_write !== null) {
    try {
      remoteWrite = parseRemoteWriteConfig(stringifyYaml({ remote_write: o.remote_write }));
    } catch (e) {
      if (e instanceof RemoteWriteConfigError) throw new ConfigError(join(path, 'remote_write'), e.message);
      throw e;
    }
  }
  return { jobs, remoteWrite };
}

export function parseScrapeConfig(input: unknown): ScrapeConfig {
  const raw = configMapping(input, 'scrape');
  refuseNotImplemented(raw, TOP_KEYS, '');
  const configFile = str(raw, 'configFile', '');
  if (configFile && (raw.global !== undefined || raw.scrape_configs !== undefined || raw.remote_write !== undefined)) {
    throw new ConfigError('configFile', 'give either configFile or the inline global/scrape_configs/remote_write keys, not both');
  }
  const { jobs, remoteWrite } = parsePrometheusSubset(raw, '');
  return { configFile, jobs, remoteWrite };
}

/** The --config.file text (same keys as inline). */
export function parseScrapeConfigFile(text: string, file: string): Pick<ScrapeConfig, 'jobs' | 'remoteWrite'> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError('configFile', `${file}: ${(e as Error).message}`);
  }
  const o = section(doc, '', FILE_KEYS);
  return parsePrometheusSubset(o, '');
}


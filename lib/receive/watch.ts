// --receive.hashrings-file watcher (Thanos's ConfigWatcher, pkg/receive/config.go): the file is read
// and checked at start (a bad file stops the start, as Thanos), then re-read and applied whenever its
// content changes. Thanos learns of changes through fsnotify plus a --receive.hashrings-file-refresh-interval
// fallback; the plugin file capability has no watch, so the content is compared every second
// (a few hundred bytes) — a change is applied within about a second either way. A file that no longer
// parses or validates is logged and counted, and the last good hashring stays in force.
import { sleep, type FsCapability, type Logger, type Metrics } from '../sdk/mod.ts';
import { HashringConfigError, newMultiHashring, parseHashringsConfig, type HashringAlgorithm, type HashringConfig, type MultiHashring } from './hashring.ts';

export interface HashringWatcherOptions {
  fs: FsCapability;
  path: string;
  algorithm: HashringAlgorithm;
  replicationFactor: number;
  /** --receive.hashrings-file-refresh-interval: a re-read is counted as a refresh at least this often. */
  refreshMs: number;
  /** How often the content is compared (1 s; tests may shorten it). */
  checkMs?: number;
  log: Logger;
  metrics: Metrics;
  onChange(cfg: HashringConfig[], ring: MultiHashring): void;
}

const dec = new TextDecoder();

/** The first 48 bits of the content's SHA-256, as a float (Thanos's hashAsMetricValue). */
async function hashAsMetricValue(data: Uint8Array): Promise<number> {
  const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let v = 0;
  for (let i = 5; i >= 0; i--) v = v * 256 + sum[i]!;
  return v;
}

export class HashringWatcher {
  private last: string | undefined;
  /** Content last looked at (good or bad): a broken file is reported once, not every second. */
  private seen: string | undefined;
  private readonly m;

  constructor(private readonly o: HashringWatcherOptions) {
    const { metrics } = o;
    this.m = {
      hash: metrics.gauge('thanos_receive_config_hash', 'Hash of the currently loaded hashring configuration file.'),
      success: metrics.gauge('thanos_receive_config_last_reload_successful', 'Whether the last hashring configuration file reload attempt was successful.'),
      successTime: metrics.gauge('thanos_receive_config_last_reload_success_timestamp_seconds', 'Timestamp of the last successful hashring configuration file reload.'),
      changes: metrics.counter('thanos_receive_hashrings_file_changes_total', 'The number of times the hashrings configuration file has changed.'),
      errors: metrics.counter('thanos_receive_hashrings_file_errors_total', 'The number of errors watching the hashrings configuration file.'),
      refreshes: metrics.counter('thanos_receive_hashrings_file_refreshes_total', 'The number of refreshes of the hashrings configuration file.'),
      nodes: metrics.gauge('thanos_receive_hashring_nodes', 'The number of nodes per hashring.', ['name']),
      tenants: metrics.gauge('thanos_receive_hashring_tenants', 'The number of tenants per hashring.', ['name']),
    };
  }

  /** Reads, parses and builds the hashring; throws HashringConfigError naming the file on any problem. */
  private async read(): Promise<{ text: string; bytes: Uint8Array; cfg: HashringConfig[]; ring: MultiHashring }> {
    const { fs, path, algorithm, replicationFactor } = this.o;
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      throw new HashringConfigError(`failed to read configuration file ${path}: ${(e as Error).message}`);
    }
    const text = dec.decode(bytes);
    try {
      const cfg = parseHashringsConfig(text);
      if (cfg.length === 0) throw new HashringConfigError(`configuration file is empty, path: ${path}`);
      return { text, bytes, cfg, ring: newMultiHashring(algorithm, replicationFactor, cfg) };
    } catch (e) {
      throw new HashringConfigError(`${path}: ${(e as Error).message}`);
    }
  }

  private async apply(r: { text: string; bytes: Uint8Array; cfg: HashringConfig[]; ring: MultiHashring }): Promise<void> {
    this.last = r.text;
    this.m.changes.inc();
    this.m.hash.set(await hashAsMetricValue(r.bytes));
    this.m.success.set(1);
    this.m.successTime.set(Date.now() / 1000);
    for (const c of r.cfg) {
      this.m.nodes.set(c.endpoints.length, { name: c.hashring });
      this.m.tenants.set(c.tenants.length, { name: c.hashring });
    }
    this.o.onChange(r.cfg, r.ring);
  }

  /** The first load: errors are thrown (the receiver does not start on a bad file). */
  async load(): Promise<void> {
    this.m.refreshes.inc();
    const r = await this.read();
    this.seen = r.text;
    await this.apply(r);
    this.o.log.info('loaded hashring configuration', { path: this.o.path, hashrings: r.cfg.length, endpoints: r.ring.nodes().length });
  }

  /** Re-reads the file now; applies it when its content changed and it is valid. Never throws. */
  async refresh(counted = true): Promise<boolean> {
    if (counted) this.m.refreshes.inc();
    let r;
    try {
      r = await this.read();
    } catch (e) {
      this.m.errors.inc();
      this.m.success.set(0);
      this.o.log.error('failed to load configuration file', { err: (e as Error).message, path: this.o.path });
      return false;
    }
    if (r.text === this.last) return false;
    await this.apply(r);
    this.o.log.info('hashring configuration changed, new hashring in force', { path: this.o.path, endpoints: r.ring.nodes().map((e) => e.address).join(',') });
    return true;
  }

  /** Checks the file every second (and counts a refresh every refresh interval) until aborted. */
  async run(signal: AbortSignal): Promise<void> {
    const check = this.o.checkMs ?? 1000;
    let sinceRefresh = 0;
    while (!signal.aborted) {
      await sleep(check, signal);
      if (signal.aborted) break;
      sinceRefresh += check;
      const tick = sinceRefresh >= this.o.refreshMs;
      if (tick) sinceRefresh = 0;
      // Cheap check first: only a changed (or unreadable) file is parsed and counted.
      let text: string | undefined;
      try {
        text = dec.decode(await this.o.fs.readFile(this.o.path));
      } catch {
        text = undefined;
      }
      if (tick || text !== this.seen) {
        this.seen = text;
        await this.refresh(true);
      }
    }
  }
}

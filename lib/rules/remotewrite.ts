// The stateless ruler's remote write (Thanos: --remote-write.config(-file), the Prometheus
// configuration file's `remote_write:` section). Thanos keeps the samples in a Prometheus agent WAL
// that a remote-write queue reads; we keep them in a bounded in-memory queue per remote instead (no
// WAL: what is queued is lost on restart, and the oldest samples are dropped when the queue is full).
// Sending follows Prometheus's queue manager: batches of up to max_samples_per_send, sent once full or
// after batch_send_deadline; 5xx, 429 and network errors are retried with exponential backoff between
// min_backoff and max_backoff (a Retry-After in seconds is honoured, capped at max_backoff) until the
// remote accepts, in order; any other 4xx drops the batch (Prometheus: non-recoverable). Keys we do
// not implement are refused with an error naming them.
import { tlsPairProblem, type TlsFiles } from '../net/tlsclient.ts';
import { parse as parseYaml } from '../cjs/yaml.ts';
import { parsePromDuration } from '../duration/mod.ts';
import type { TimeSeries } from '../proto/prompb.ts';

type Label = TimeSeries['labels'][number];
import { RemoteError, sendRemoteWrite, type FetchFn } from '../remote/write.ts';
import type { Counter, Gauge } from '../sdk/mod.ts';
import type { RecordedSample } from './eval.ts';
import type { FloatHistogram } from '../histogram/float.ts';
import { toPrompbFloat } from './histogram.ts';

export class RemoteWriteConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteWriteConfigError';
  }
}

export interface RemoteWriteConfig {
  url: string;
  name: string;
  remoteTimeoutMs: number;
  headers: Record<string, string>;
  /** Authorization header value from basic_auth or bearer_token, if any. */
  authorization?: string;
  /** tls_config; the plugin turns it into the queue's fetch (lib/net/tlsclient.ts's tlsFetch). */
  tls?: TlsFiles;
  /** Bound of the in-memory queue, samples (the whole buffer: there is no WAL behind it). */
  capacity: number;
  maxSamplesPerSend: number;
  batchSendDeadlineMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /**
   * send_native_histograms (Prometheus default false): native histogram samples of recording rules
   * are sent only when true; otherwise left out, as Prometheus's queue manager skips them.
   */
  sendNativeHistograms?: boolean;
}

type Obj = Record<string, unknown>;

/** Prometheus remote_write keys we do not implement: refused by name rather than ignored. */
const ENTRY_KEYS = ['url', 'name', 'remote_timeout', 'headers', 'basic_auth', 'bearer_token', 'tls_config', 'queue_config', 'send_exemplars', 'send_native_histograms'];
/** tls_config keys honoured (lib/net/tlsclient.ts); Prometheus's inline ca/cert/key and min/max_version are refused by name. */
const TLS_KEYS = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'];
const QUEUE_KEYS = ['capacity', 'max_samples_per_send', 'batch_send_deadline', 'min_backoff', 'max_backoff'];
// Prometheus sets these on every hop; headers the client owns cannot be overridden (Prometheus refuses them too).
const RESERVED_HEADERS = ['authorization', 'host', 'content-encoding', 'content-length', 'content-type', 'user-agent', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'www-authenticate', 'x-prometheus-remote-write-version'];

function obj(v: unknown, where: string): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new RemoteWriteConfigError(`${where}: expected a mapping`);
  return v as Obj;
}

function checkKeys(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new RemoteWriteConfigError(`${where}.${k}: not implemented by thanos rule's remote write (implemented: ${allowed.join(', ')})`);
  }
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new RemoteWriteConfigError(`${where}.${k}: expected a string`);
  return v;
}

function dur(o: Obj, k: string, where: string, def: number): number {
  const v = o[k];
  if (v === undefined || v === null) return def;
  try {
    return parsePromDuration(String(v));
  } catch (e) {
    throw new RemoteWriteConfigError(`${where}.${k}: ${(e as Error).message}`);
  }
}

function posInt(o: Obj, k: string, where: string, def: number): number {
  const v = o[k];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RemoteWriteConfigError(`${where}.${k}: must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Parses the --remote-write.config YAML: `remote_write:` a list of Prometheus remote_write entries.
 * Other top-level keys (Prometheus's global, scrape_configs, …) are refused: they would do nothing.
 */
export function parseRemoteWriteConfig(text: string): RemoteWriteConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new RemoteWriteConfigError(`parsing remote write config YAML: ${(e as Error).message}`);
  }
  const top = obj(doc, 'remote write config');
  for (const k of Object.keys(top)) if (k !== 'remote_write') throw new RemoteWriteConfigError(`${k}: not used by thanos rule's remote write config (only remote_write)`);
  const list = top.remote_write ?? [];
  if (!Array.isArray(list)) throw new RemoteWriteConfigError('remote_write: expected a list');
  if (list.length === 0) throw new RemoteWriteConfigError('remote_write: at least one entry is needed for stateless mode');
  const names = new Set<string>();
  return list.map((e, i) => {
    const where = `remote_write[${i}]`;
    const o = obj(e, where);
    checkKeys(o, ENTRY_KEYS, where);
    const url = str(o, 'url', where);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new RemoteWriteConfigError(`${where}.url: ${url === '' ? 'url for remote_write is empty' : `invalid URL ${JSON.stringify(url)}`}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RemoteWriteConfigError(`${where}.url: scheme must be http or https, got ${JSON.stringify(url)}`);
    const name = str(o, 'name', where);
    if (name !== '') {
      if (names.has(name)) throw new RemoteWriteConfigError(`${where}.name: found multiple remote write configs with job name ${JSON.stringify(name)}`);
      names.add(name);
    }
    // The ruler records no exemplars; `true` would promise something that never happens.
    if (o.send_exemplars !== undefined && o.send_exemplars !== false) throw new RemoteWriteConfigError(`${where}.send_exemplars: the ruler records no exemplars; only false is accepted`);
    const sendNativeHistograms = o.send_native_histograms ?? false;
    if (typeof sendNativeHistograms !== 'boolean') throw new RemoteWriteConfigError(`${where}.send_native_histograms: expected true or false`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj(o.headers, `${where}.headers`))) {
      if (typeof v !== 'string') throw new RemoteWriteConfigError(`${where}.headers.${k}: expected a string`);
      if (RESERVED_HEADERS.includes(k.toLowerCase())) throw new RemoteWriteConfigError(`${where}.headers: ${k} is a reserved header. It must not be changed`);
      headers[k] = v;
    }
    let authorization: string | undefined;
    if (o.basic_auth !== undefined && o.basic_auth !== null) {
      const ba = obj(o.basic_auth, `${where}.basic_auth`);
      checkKeys(ba, ['username', 'password'], `${where}.basic_auth`);
      const user = str(ba, 'username', `${where}.basic_auth`);
      const pw = str(ba, 'password', `${where}.basic_auth`);
      authorization = `Basic ${Buffer.from(`${user}:${pw}`, 'utf8').toString('base64')}`;
    }
    const bt = str(o, 'bearer_token', where);
    if (bt !== '') {
      if (authorization) throw new RemoteWriteConfigError(`${where}: at most one of basic_auth and bearer_token must be configured`);
      authorization = `Bearer ${bt}`;
    }
    const tw = `${where}.tls_config`;
    const t = obj(o.tls_config, tw);
    checkKeys(t, TLS_KEYS, tw);
    const skip = t.insecure_skip_verify ?? false;
    if (typeof skip !== 'boolean') throw new RemoteWriteConfigError(`${tw}.insecure_skip_verify: expected true or false`);
    const tls: TlsFiles = { caFile: str(t, 'ca_file', tw), certFile: str(t, 'cert_file', tw), keyFile: str(t, 'key_file', tw), serverName: str(t, 'server_name', tw), insecureSkipVerify: skip };
    const pair = tlsPairProblem(tls);
    if (pair) throw new RemoteWriteConfigError(`${tw}: ${pair}`);
    const q = obj(o.queue_config, `${where}.queue_config`);
    checkKeys(q, QUEUE_KEYS, `${where}.queue_config`);
    const minBackoffMs = dur(q, 'min_backoff', `${where}.queue_config`, 30);
    const maxBackoffMs = dur(q, 'max_backoff', `${where}.queue_config`, 5000);
    if (maxBackoffMs < minBackoffMs) throw new RemoteWriteConfigError(`${where}.queue_config: max_backoff must not be below min_backoff`);
    const remoteTimeoutMs = dur(o, 'remote_timeout', where, 30_000);
    if (remoteTimeoutMs <= 0) throw new RemoteWriteConfigError(`${where}.remote_timeout: must be positive`);
    return {
      url, name: name || `remote-${i}`, remoteTimeoutMs, headers, ...(authorization ? { authorization } : {}), tls,
      capacity: posInt(q, 'capacity', `${where}.queue_config`, 100_000),
      maxSamplesPerSend: posInt(q, 'max_samples_per_send', `${where}.queue_config`, 2000),
      batchSendDeadlineMs: Math.max(1, dur(q, 'batch_send_deadline', `${where}.queue_config`, 5000)),
      minBackoffMs: Math.max(1, minBackoffMs), maxBackoffMs: Math.max(1, maxBackoffMs), sendNativeHistograms,
    };
  });
}

export interface RemoteWriteMetrics {
  sent: Counter;
  failed: Counter;
  retried: Counter;
  dropped: Counter;
  pending: Gauge;
}

interface Queued { labels: Label[]; t: number; v: number; h?: FloatHistogram }

function recoverable(e: unknown): boolean {
  if (e instanceof RemoteError) return e.status >= 500 || e.status === 429;
  return true; // network errors, timeouts
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One remote's queue and its sender loop (a single shard: samples arrive in the order appended). */
export class RemoteWriteQueue {
  private q: Queued[] = [];
  private wake: (() => void) | undefined;
  private oldestQueuedAt = 0;
  private retryAfterMs = 0;

  constructor(
    readonly cfg: RemoteWriteConfig,
    private readonly fetchFn: FetchFn,
    private readonly externalLabels: Record<string, string>,
    private readonly metrics?: RemoteWriteMetrics,
    private readonly log?: { warn(msg: string, f?: Record<string, unknown>): void },
  ) {}

  get length(): number {
    return this.q.length;
  }

  private get lv() {
    return { remote_name: this.cfg.name, url: this.cfg.url };
  }

  /** Queues samples (external labels added, the sample's own labels winning, as Prometheus does). */
  append(samples: readonly RecordedSample[]): void {
    if (samples.length === 0) return;
    if (this.q.length === 0) this.oldestQueuedAt = Date.now();
    for (const s of samples) {
      if (s.h && !this.cfg.sendNativeHistograms) continue;
      const all = { ...this.externalLabels, ...s.labels };
      const labels = Object.keys(all).sort().map((name) => ({ name, value: all[name]! }));
      this.q.push(s.h ? { labels, t: s.t, v: 0, h: s.h } : { labels, t: s.t, v: s.v });
    }
    const over = this.q.length - this.cfg.capacity;
    if (over > 0) {
      this.q.splice(0, over);
      this.metrics?.dropped.inc(this.lv, over);
      this.log?.warn('remote write queue full: oldest samples dropped', { remote_name: this.cfg.name, dropped: over, capacity: this.cfg.capacity });
    }
    this.metrics?.pending.set(this.q.length, this.lv);
    this.wake?.();
  }

  private async sendBatch(batch: Queued[], signal: AbortSignal): Promise<void> {
    const bySeries = new Map<string, TimeSeries>();
    for (const s of batch) {
      const key = s.labels.map((l) => `${l.name}\xff${l.value}`).join('\xfe');
      let ts = bySeries.get(key);
      if (!ts) bySeries.set(key, (ts = { labels: s.labels, samples: [] }));
      if (s.h) (ts.histograms ??= []).push(toPrompbFloat(s.h, s.t));
      else ts.samples.push({ value: s.v, timestamp: s.t });
    }
    const headers: Record<string, string> = { ...this.cfg.headers, 'User-Agent': 'Thanos' };
    if (this.cfg.authorization) headers.Authorization = this.cfg.authorization;
    const timeout = AbortSignal.timeout(this.cfg.remoteTimeoutMs);
    // Retry-After (seconds) on a 429/5xx answer sets the next wait (capped at max_backoff).
    const fetchFn: FetchFn = async (input, init) => {
      const r = await this.fetchFn(input, init);
      const ra = r.headers.get('retry-after');
      if (!r.ok && ra !== null && /^\d+$/.test(ra.trim())) this.retryAfterMs = Number(ra.trim()) * 1000;
      return r;
    };
    const res = await sendRemoteWrite(fetchFn, this.cfg.url, { timeseries: [...bySeries.values()] }, { headers, signal: AbortSignal.any([signal, timeout]) });
    await res.body?.cancel().catch(() => undefined);
  }

  /**
   * Sends until `signal` aborts; then one last flush attempt (bounded by `flushDeadlineMs`), as
   * Prometheus's flush_deadline on shutdown.
   */
  async run(signal: AbortSignal, flushDeadlineMs = 5000): Promise<void> {
    await this.loop(signal, false);
    if (this.q.length > 0) {
      const flush = AbortSignal.timeout(flushDeadlineMs);
      await this.loop(flush, true);
      if (this.q.length > 0) this.log?.warn('remote write: samples still queued at shutdown are lost', { remote_name: this.cfg.name, samples: this.q.length });
    }
  }

  private async loop(signal: AbortSignal, flushing: boolean): Promise<void> {
    let backoff = this.cfg.minBackoffMs;
    while (!signal.aborted) {
      if (this.q.length === 0) {
        if (flushing) return;
        await new Promise<void>((r) => {
          this.wake = r;
          signal.addEventListener('abort', () => r(), { once: true });
        });
        this.wake = undefined;
        continue;
      }
      // Wait for a full batch or batch_send_deadline since the oldest queued sample.
      const due = this.oldestQueuedAt + this.cfg.batchSendDeadlineMs - Date.now();
      if (!flushing && this.q.length < this.cfg.maxSamplesPerSend && due > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, due);
          this.wake = () => {
            if (this.q.length >= this.cfg.maxSamplesPerSend) {
              clearTimeout(t);
              r();
            }
          };
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            r();
          }, { once: true });
        });
        this.wake = undefined;
        if (signal.aborted) return;
      }
      const n = Math.min(this.q.length, this.cfg.maxSamplesPerSend);
      const batch = this.q.slice(0, n);
      try {
        await this.sendBatch(batch, signal);
        this.q.splice(0, n);
        this.metrics?.sent.inc(this.lv, n);
        backoff = this.cfg.minBackoffMs;
      } catch (e) {
        if (signal.aborted) return;
        if (!recoverable(e)) {
          // Prometheus: a non-recoverable (4xx) answer drops the batch; retrying would never succeed.
          this.q.splice(0, n);
          this.metrics?.failed.inc(this.lv, n);
          this.log?.warn('remote write: non-recoverable error, batch dropped', { remote_name: this.cfg.name, samples: n, err: (e as Error).message });
        } else {
          this.metrics?.retried.inc(this.lv, n);
          const ra = this.retryAfterMs;
          this.retryAfterMs = 0;
          const wait = Math.min(this.cfg.maxBackoffMs, Math.max(backoff, ra));
          this.log?.warn('remote write failed, retrying', { remote_name: this.cfg.name, samples: n, backoff_ms: wait, err: (e as Error).message });
          await abortableSleep(wait, signal);
          backoff = Math.min(this.cfg.maxBackoffMs, backoff * 2);
        }
      }
      if (this.q.length > 0) this.oldestQueuedAt = Math.min(this.oldestQueuedAt, Date.now());
      else this.oldestQueuedAt = Date.now();
      this.metrics?.pending.set(this.q.length, this.lv);
    }
  }
}

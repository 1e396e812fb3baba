// `scrape`: a small Prometheus-style scraper, so that the all-in-one stack (plugins.yaml) has data on
// its first start: it scrapes the stack's own /metrics and remote-writes the samples into the
// receiver. Not a Thanos component (Thanos leaves scraping to Prometheus); the config is a subset of
// Prometheus's (config.ts), the series it adds per target are Prometheus's (up,
// scrape_duration_seconds, scrape_samples_scraped, scrape_samples_post_metric_relabeling,
// scrape_series_added), and target labels are attached as with honor_labels: false (a scraped
// label that clashes becomes exported_<name>). No staleness markers are written: a series that
// disappears just stops. The send path is lib/rules' remote-write queue (bounded, retried).
import { definePlugin, sleep, type Component, type ComponentContext } from '../../../lib/sdk/mod.ts';
import { RemoteWriteQueue, type RecordedSample } from '../../../lib/rules/mod.ts';
import { customTls, tlsFetch } from '../../../lib/net/tlsclient.ts';
import { parseScrapeConfig, parseScrapeConfigFile, scrapeFlags, type ScrapeConfig, type ScrapeJob, type ScrapeTarget } from './config.ts';
import { parseExposition, type ScrapedSample } from './exposition.ts';

export { parseScrapeConfig, scrapeFlags, type ScrapeConfig } from './config.ts';
export { parseExposition } from './exposition.ts';

/** Bounds for a hostile or broken target: the body read and the samples kept per scrape. */
const MAX_BODY_BYTES = 16 << 20;
const MAX_SAMPLES = 200_000;
const ACCEPT = 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1';

/** Reads at most `limit` bytes of a body as text; more is an error (the rest is not read). */
async function readCapped(res: Response, limit: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`body larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.byteLength; }
  return new TextDecoder().decode(all);
}

/** Target labels over scraped ones (honor_labels: false): a clash keeps the scraped value as exported_<name>. */
function withTargetLabels(s: ScrapedSample, target: Record<string, string>): Record<string, string> {
  const out = { ...s.labels };
  for (const [k, v] of Object.entries(target)) {
    if (k in out) {
      let name = `exported_${k}`;
      while (name in out) name = `exported_${name}`;
      out[name] = out[k]!;
    }
    out[k] = v;
  }
  return out;
}

const seriesKey = (l: Record<string, string>) => Object.keys(l).sort().map((k) => `${k}\xff${l[k]}`).join('\xfe');

export class TargetScraper {
  private lastSeries = new Set<string>();
  readonly url: string;
  readonly targetLabels: Record<string, string>;
  lastError = '';

  constructor(
    readonly job: ScrapeJob,
    readonly target: ScrapeTarget,
    private readonly fetchFn: ComponentContext['fetch'],
    private readonly append: (samples: RecordedSample[]) => void,
  ) {
    this.url = `${job.scheme}://${target.address}${job.metricsPath}`;
    this.targetLabels = { ...target.labels, job: job.jobName, instance: target.address };
  }

  /** One scrape at `now` (ms): the samples and the five report series, handed to append. */
  async scrapeOnce(now: number, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let samples: ScrapedSample[] = [];
    let up = 1;
    try {
      const res = await this.fetchFn(this.url, {
        headers: { Accept: ACCEPT, 'X-Prometheus-Scrape-Timeout-Seconds': String(this.job.timeoutMs / 1000) },
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.job.timeoutMs)]),
      });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
      }
      samples = parseExposition(await readCapped(res, MAX_BODY_BYTES), MAX_SAMPLES);
      this.lastError = '';
    } catch (e) {
      up = 0;
      samples = [];
      this.lastError = (e as Error).message;
    }
    const out: RecordedSample[] = [];
    const series = new Set<string>();
    for (const s of samples) {
      const labels = withTargetLabels(s, this.targetLabels);
      series.add(seriesKey(labels));
      out.push({ labels, t: s.t ?? now, v: s.v });
    }
    let added = 0;
    for (const k of series) if (!this.lastSeries.has(k)) added++;
    this.lastSeries = series;
    const report = (name: string, v: number) => out.push({ labels: { ...this.targetLabels, __name__: name }, t: now, v });
    report('up', up);
    report('scrape_duration_seconds', (performance.now() - started) / 1000);
    report('scrape_samples_scraped', samples.length);
    report('scrape_samples_post_metric_relabeling', samples.length);
    report('scrape_series_added', added);
    this.append(out);
  }

  /** Scrapes every interval until `signal` aborts (the first scrape right away). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const now = Date.now();
      await this.scrapeOnce(now, signal);
      await sleep(Math.max(0, now + this.job.intervalMs - Date.now()), signal);
    }
  }
}

export async function setupScrape(ctx: ComponentContext, cfg: ScrapeConfig): Promise<Component & { scrapers: TargetScraper[] }> {
  let { jobs, remoteWrite } = cfg;
  if (cfg.configFile) {
    const file = ctx.fs.resolve(cfg.configFile);
    ({ jobs, remoteWrite } = parseScrapeConfigFile(new TextDecoder().decode(await ctx.fs.readFile(file)), file));
  }
  if (remoteWrite.length === 0) throw new Error('scrape: remote_write has no entry: the scraped samples would go nowhere');
  const m = ctx.metrics;
  const rwLabels = ['remote_name', 'url'];
  const rwMetrics = {
    sent: m.counter('prometheus_remote_storage_samples_total', 'Total number of samples sent to remote storage.', rwLabels),
    failed: m.counter('prometheus_remote_storage_samples_failed_total', 'Total number of samples which failed on send to remote storage, non-recoverable errors.', rwLabels),
    retried: m.counter('prometheus_remote_storage_samples_retried_total', 'Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.', rwLabels),
    dropped: m.counter('prometheus_remote_storage_samples_dropped_total', 'Total number of samples which were dropped because the in-memory queue was full.', rwLabels),
    pending: m.gauge('prometheus_remote_storage_samples_pending', 'The number of samples pending in the queue to be sent to the remote storage.', rwLabels),
  };
  const viaCtx: ComponentContext['fetch'] = (input, init) => ctx.fetch(input, init);
  const queues = await Promise.all(remoteWrite.map(async (c, i) => new RemoteWriteQueue(
    c, c.tls && customTls(c.tls) ? await tlsFetch(ctx, c.tls, `remote_write[${i}].tls_config`) : viaCtx, {}, rwMetrics, ctx.log,
  )));
  const append = (samples: RecordedSample[]) => { for (const q of queues) q.append(samples); };
  const scrapers = jobs.flatMap((j) => j.targets.map((t) => new TargetScraper(j, t, viaCtx, append)));
  ctx.log.info('scraping', { targets: scrapers.map((s) => s.url).join(','), remote_write: remoteWrite.map((r) => r.url).join(',') });
  return {
    scrapers,
    info: () => ({ componentType: 'scrape' }),
    async run(signal) {
      await Promise.all([...scrapers.map((s) => s.run(signal)), ...queues.map((q) => q.run(signal))]);
    },
  };
}

export default definePlugin<ScrapeConfig>({
  manifest: {
    id: 'component:scrape',
    apiVersion: 1,
    description: 'Scrapes Prometheus /metrics targets and remote-writes the samples (a Prometheus scrape config subset).',
    permissions: { net: true, read: true },
  },
  flags: scrapeFlags,
  parseConfig: parseScrapeConfig,
  setup: setupScrape,
});

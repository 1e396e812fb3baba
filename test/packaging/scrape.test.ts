// The built-in scrape component (plugins/component/scrape): its Prometheus config subset (other keys
// refused by name), the text exposition parser, and scrapes of a real loopback /metrics server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseScrapeConfig, parseExposition, TargetScraper } from '../../plugins/component/scrape/mod.ts';
import type { RecordedSample } from '../../lib/rules/mod.ts';

const RW = { remote_write: [{ url: 'http://127.0.0.1:19291/api/v1/receive' }] };

test('config: Prometheus defaults, per-job overrides, static targets and labels', () => {
  const c = parseScrapeConfig({
    ...RW,
    global: { scrape_interval: '30s' },
    scrape_configs: [
      { job_name: 'a', static_configs: [{ targets: ['127.0.0.1:1', 'localhost:2'], labels: { env: 'dev' } }] },
      { job_name: 'b', scrape_interval: '5s', metrics_path: '/m', scheme: 'https', static_configs: [{ targets: ['[::1]:3'] }] },
    ],
  });
  assert.equal(c.jobs.map((j) => [j.jobName, j.intervalMs, j.timeoutMs, j.metricsPath, j.scheme, j.targets.length]), [['a', 30_000, 10_000, '/metrics', 'http', 2], ['b', 5_000, 5_000, '/m', 'https', 1]]);
  assert.equal(c.jobs[0]!.targets[0]!.labels, { env: 'dev' });
  assert.is(c.remoteWrite[0]!.url, 'http://127.0.0.1:19291/api/v1/receive');
});

test('config: what is not implemented is refused by name; bad values name their key', () => {
  const bad = (cfg: unknown, re: RegExp) => assert.throws(() => parseScrapeConfig(cfg), re);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', relabel_configs: [] }] }, /scrape_configs\[0\]\.relabel_configs: "relabel_configs" is not implemented/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', honor_labels: true }] }, /honor_labels.*not implemented/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', file_sd_configs: [] }] }, /file_sd_configs.*not implemented/);
  bad({ ...RW, global: { external_labels: { a: 'b' } } }, /global\.external_labels.*not implemented/);
  bad({ ...RW, rule_files: [] }, /rule_files.*not implemented/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', static_configs: [{ targets: ['x'], foo: 1 }] }] }, /static_configs\[0\]\.foo/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', static_configs: [{ targets: ['no-port'] }] }] }, /targets\[0\]: "no-port" is not host:port/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', scrape_interval: '5s', scrape_timeout: '10s' }] }, /scrape timeout greater than scrape interval/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a' }, { job_name: 'a' }] }, /multiple scrape configs with job name "a"/);
  bad({ ...RW, scrape_configs: [{ job_name: 'a', scheme: 'ftp' }] }, /scheme: must be http or https/);
  bad({ remote_write: [{ url: 'http://x/', write_relabel_configs: [] }] }, /remote_write.*write_relabel_configs/);
});

test('exposition: labels, escapes, special values, timestamps; malformed lines and too many samples fail', () => {
  const s = parseExposition('# HELP a x\n# TYPE a counter\na_total{x="1",y="q\\"\\n\\\\"} 3\n\nb +Inf 1700000000000\nc{} NaN\nd{e=""} -1.5e3\n', 10);
  assert.equal(s.map((x) => [x.labels, x.v, x.t]), [
    [{ __name__: 'a_total', x: '1', y: 'q"\n\\' }, 3, undefined],
    [{ __name__: 'b' }, Infinity, 1700000000000],
    [{ __name__: 'c' }, NaN, undefined],
    [{ __name__: 'd' }, -1500, undefined],
  ]);
  assert.throws(() => parseExposition('a{x="1" 3\n', 10), /line 1/);
  assert.throws(() => parseExposition('a 1 2 3\n', 10), /line 1/);
  assert.throws(() => parseExposition('a{x="1",x="2"} 3\n', 10), /duplicate label x/);
  assert.throws(() => parseExposition('a 1\nb 2\nc 3\n', 2), /line 3: more than 2 samples/);
});

let server: Server;
let port = 0;
const bodies: Record<string, { status: number; body: string }> = {
  '/metrics': { status: 200, body: '# TYPE thanos_build_info gauge\nthanos_build_info{version="1"} 1\nclash{job="inner",instance="i"} 2\n' },
  '/missing': { status: 404, body: 'no' },
  '/huge': { status: 200, body: 'x 1\n'.repeat(5 << 20) },
};

test.before(async () => {
  server = createServer((req, res) => {
    const b = bodies[req.url ?? ''] ?? { status: 404, body: '' };
    res.writeHead(b.status, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(b.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
test.after(() => new Promise<void>((r) => server.close(() => r())));

async function scrape(path: string): Promise<{ got: RecordedSample[]; scraper: TargetScraper }> {
  const got: RecordedSample[] = [];
  // A long scrape timeout: these cases are about what is read, and under load the 16 MiB read before
  // /huge is refused took longer than a 5 s timeout (the error was then the timeout's, not the cap's).
  const job = { jobName: 'thanos', intervalMs: 60_000, timeoutMs: 60_000, metricsPath: path, scheme: 'http' as const, targets: [] };
  const scraper = new TargetScraper(job, { address: `127.0.0.1:${port}`, labels: { stack: 'aio' } }, fetch, (s) => got.push(...s));
  await scraper.scrapeOnce(1_000_000, new AbortController().signal);
  return { got, scraper };
}

const find = (got: RecordedSample[], name: string) => got.find((s) => s.labels.__name__ === name);

test('scrape: target labels attached (clashes kept as exported_*), report series written', async () => {
  const { got } = await scrape('/metrics');
  const instance = `127.0.0.1:${port}`;
  assert.equal(find(got, 'thanos_build_info'), { labels: { __name__: 'thanos_build_info', version: '1', stack: 'aio', job: 'thanos', instance }, t: 1_000_000, v: 1 });
  assert.equal(find(got, 'clash')!.labels, { __name__: 'clash', exported_job: 'inner', exported_instance: 'i', stack: 'aio', job: 'thanos', instance });
  assert.is(find(got, 'up')!.v, 1);
  assert.is(find(got, 'scrape_samples_scraped')!.v, 2);
  assert.is(find(got, 'scrape_series_added')!.v, 2);
  assert.ok(find(got, 'scrape_duration_seconds')!.v >= 0);
});

test('scrape: a failing target is up 0 with no samples; an oversized body is refused, not buffered', async () => {
  for (const p of ['/missing', '/huge']) {
    const { got, scraper } = await scrape(p);
    assert.is(find(got, 'up')!.v, 0, p);
    assert.is(find(got, 'scrape_samples_scraped')!.v, 0, p);
    assert.is(got.length, 5, p);
    assert.match(scraper.lastError, p === '/missing' ? /HTTP status 404/ : /body larger than/);
  }
});

test.run();

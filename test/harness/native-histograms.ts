// A real Prometheus 2.42 (`--enable-feature=native-histograms`) scraping a protobuf-exposition
// exporter of ours every second: the shared scaffolding of the native-histogram fixture generators
// (test/core/fixtures/histogram-242, test/tsdb/fixtures/histogram-block-242) and the receive peer
// test (test/receive/histogram-peer.test.ts).
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { freePort } from './ports.ts';
import { httpReady, startProc, waitFor, type Proc } from '../query/harness.ts';

// io.prometheus.client (prometheus/client_model metrics.proto): the fields a native histogram (and a
// float counter beside it) uses.
const root = protobuf.parse(`
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Counter { optional double value = 1; }
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Histogram {
  optional uint64 sample_count = 1; optional double sample_count_float = 4; optional double sample_sum = 2;
  optional sint32 schema = 5; optional double zero_threshold = 6; optional uint64 zero_count = 7;
  optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9; repeated sint64 negative_delta = 10; repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12; repeated sint64 positive_delta = 13; repeated double positive_count = 14;
}
message Metric { repeated LabelPair label = 1; optional Counter counter = 3; optional Histogram histogram = 7; optional int64 timestamp_ms = 6; }
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`).root;
export const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');

/** MetricType values. */
export const COUNTER = 0;
export const HISTOGRAM = 4;
export const GAUGE_HISTOGRAM = 5;

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** Absolute bucket counts → the deltas the integer histogram exposition carries. */
export function deltas(abs: number[]): number[] {
  let prev = 0;
  return abs.map((x) => {
    const d = x - prev;
    prev = x;
    return d;
  });
}

export interface Span { offset: number; length: number }

/** A native histogram with absolute bucket counts. */
export interface HistogramValue {
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: Span[];
  positive: number[];
  negativeSpans: Span[];
  negative: number[];
}

/** The Histogram message (plain object for MetricFamily.fromObject): float counts or integer deltas. */
export function histogramMessage(h: HistogramValue, float: boolean): Record<string, unknown> {
  const hist: Record<string, unknown> = {
    sampleSum: h.sum, schema: h.schema, zeroThreshold: h.zeroThreshold, positiveSpan: h.positiveSpans, negativeSpan: h.negativeSpans,
  };
  if (float) Object.assign(hist, { sampleCountFloat: h.count, zeroCountFloat: h.zeroCount, positiveCount: h.positive, negativeCount: h.negative });
  else Object.assign(hist, { sampleCount: h.count, zeroCount: h.zeroCount, positiveDelta: deltas(h.positive), negativeDelta: deltas(h.negative) });
  return hist;
}

/** A Metric message with a histogram. */
export function histogramMetric(labels: Record<string, string>, histogram: object): Record<string, unknown> {
  return { label: Object.entries(labels).map(([name, value]) => ({ name, value })), histogram };
}

/** Metric families (plain objects) → the delimited protobuf exposition. */
export function encodeExposition(families: readonly object[]): Uint8Array {
  return Buffer.concat(families.map((f) => MetricFamily.encodeDelimited(MetricFamily.fromObject(f as Record<string, unknown>)).finish()));
}

export interface ScrapedPrometheus {
  /** http://127.0.0.1:port */
  api: string;
  port: number;
  /** Prometheus's --storage.tsdb.path. */
  dataDir: string;
  /** Scrapes served so far (at most `scrapes`), with when each was served. */
  served: Array<{ k: number; at: number }>;
  scrapes(): number;
  /** Until `scrapes` scrapes were served. */
  waitScrapes(timeoutMs?: number): Promise<void>;
  logs(): string;
  proc: Proc;
  /** Kills Prometheus and closes the exporter. */
  stop(): Promise<void>;
}

/**
 * Starts the exporter serving `exposition(k)` at scrape k (1-based) for `scrapes` scrapes, then
 * (`after`) 503 or the last exposition again, and a Prometheus scraping it every second (job `job`),
 * with `--enable-feature=native-histograms`, writing its config and data under `dir`. Resolves once
 * Prometheus is ready.
 */
export async function startScrapedPrometheus(opts: {
  dir: string;
  exposition: (k: number) => Uint8Array;
  scrapes: number;
  after?: '503' | 'repeat';
  job?: string;
  /** remote_write URL (send_native_histograms: true). */
  remoteWrite?: string;
  extraArgs?: string[];
  binary?: string;
}): Promise<ScrapedPrometheus> {
  const { dir, exposition, scrapes } = opts;
  const served: Array<{ k: number; at: number }> = [];
  let k = 0;
  const exporter: Server = createServer((_req, res) => {
    if (k < scrapes) {
      k++;
      served.push({ k, at: Date.now() });
    } else if ((opts.after ?? '503') === '503') {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': PROTOBUF_CONTENT_TYPE });
    res.end(exposition(k));
  });
  const ePort = await freePort();
  await new Promise<void>((r) => exporter.listen(ePort, '127.0.0.1', r));
  const closeExporter = () => new Promise<void>((r) => exporter.close(() => r()));
  const port = await freePort();
  const lines = [
    'global: {scrape_interval: 1s, scrape_timeout: 1s}',
    'scrape_configs:',
    `  - {job_name: ${opts.job ?? 'hist'}, static_configs: [{targets: ['127.0.0.1:${ePort}']}]}`,
  ];
  if (opts.remoteWrite) {
    lines.push(
      'remote_write:',
      `  - url: ${opts.remoteWrite}`,
      '    send_native_histograms: true',
      '    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s, min_shards: 1, max_shards: 1}',
    );
  }
  writeFileSync(join(dir, 'prometheus.yml'), lines.join('\n') + '\n');
  const dataDir = join(dir, 'promdata');
  const proc = startProc('prometheus', opts.binary ?? process.env.PROMETHEUS ?? '/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=native-histograms', ...(opts.extraArgs ?? []),
  ], dir);
  const stop = async () => {
    await proc.kill();
    await closeExporter();
  };
  try {
    await waitFor(() => httpReady(port), 60_000, 'prometheus ready', proc.logs);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    api: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    served,
    scrapes: () => k,
    waitScrapes: (timeoutMs = 60_000 + 3000 * scrapes) => waitFor(async () => k >= scrapes, timeoutMs, `${scrapes} scrapes`, proc.logs),
    logs: proc.logs,
    proc,
    stop,
  };
}

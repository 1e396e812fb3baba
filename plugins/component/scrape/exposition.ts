// The Prometheus text exposition format (version 0.0.4), as a scrape reads it: `# HELP`/`# TYPE`
// and other comments skipped, blank lines allowed, `name{label="value",...} value [timestamp_ms]`.
// lib/tsdb/openmetrics.ts parses OpenMetrics for backfilling (timestamps mandatory, # EOF), which
// a /metrics page in text format is not. A malformed line fails the whole scrape, as in Prometheus.
import { parseOMFloat } from '../../../lib/tsdb/openmetrics.ts';

export interface ScrapedSample {
  /** Labels including __name__, unsorted, empty values dropped. */
  labels: Record<string, string>;
  v: number;
  /** Explicit timestamp in ms, if the line has one. */
  t?: number;
}

export class ExpositionError extends Error {
  constructor(lineNo: number, msg: string) {
    super(`line ${lineNo}: ${msg}`);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseExposition(text: string, maxSamples: number): ScrapedSample[] {
  const out: ScrapedSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (msg: string): never => { throw new ExpositionError(n + 1, msg); };
    const nm = METRIC_NAME.exec(line);
    if (!nm) fail('expected a metric name');
    const labels: Record<string, string> = { __name__: nm![0] };
    let i = nm![0].length;
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ') i++;
        if (line[i] === '}') break;
        const ln = LABEL_NAME.exec(line.slice(i));
        if (!ln) fail(`expected a label name at column ${i + 1}`);
        i += ln![0].length;
        if (line[i] !== '=' || line[i + 1] !== '"') fail(`expected =" after label ${ln![0]}`);
        i += 2;
        let v = '';
        for (;;) {
          if (i >= line.length) fail('unterminated label value');
          const c = line[i++]!;
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i++];
            v += e === 'n' ? '\n' : e === '"' || e === '\\' ? e : fail(`invalid escape \\${e ?? ''}`);
          } else v += c;
        }
        if (ln![0] in labels) fail(`duplicate label ${ln![0]}`);
        if (v !== '') labels[ln![0]] = v;
        while (line[i] === ' ') i++;
        if (line[i] === ',') { i++; continue; }
        if (line[i] !== '}') fail(`expected , or } at column ${i + 1}`);
      }
      i++;
    }
    const parts = line.slice(i).trim().split(/\s+/);
    if (parts.length < 1 || parts[0] === '' || parts.length > 2) fail('expected a value and an optional timestamp');
    const v = parseOMFloat(parts[0]!);
    if (v === undefined) fail(`invalid value ${JSON.stringify(parts[0])}`);
    let t: number | undefined;
    if (parts.length === 2) {
      if (!/^-?\d+$/.test(parts[1]!)) fail(`invalid timestamp ${JSON.stringify(parts[1])}`);
      t = Number(parts[1]);
    }
    if (out.length >= maxSamples) throw new ExpositionError(n + 1, `more than ${maxSamples} samples in one scrape`);
    out.push(t === undefined ? { labels, v: v! } : { labels, v: v!, t });
  }
  return out;
}

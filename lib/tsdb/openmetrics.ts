// A streaming OpenMetrics text parser for backfilling (the subset promtool's textparse accepts:
// HELP/TYPE/UNIT comments, samples with labels, optional exemplars, mandatory timestamps, # EOF).
import type { Label } from '../labels/mod.ts';
import { compareStrings } from '../labels/mod.ts';

export class OpenMetricsError extends Error {
  constructor(public readonly line: number, public readonly text: string, msg: string) {
    super(`line ${line}: ${msg}: ${JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text)}`);
    this.name = 'OpenMetricsError';
  }
}

export interface OMSample {
  labels: Label[]; // sorted, __name__ included
  t: number; // ms
  v: number;
  line: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);

/** Go's math.NaN() (0x7FF8000000000001): what promtool stores for "NaN"; V8 keeps the payload in typed arrays. */
export const GO_NAN: number = (() => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setUint32(0, 0x7ff80000);
  dv.setUint32(4, 1);
  return dv.getFloat64(0);
})();

export function parseOMFloat(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s[0] === '-' ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return GO_NAN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Parses one line; returns a sample, 'eof' for '# EOF', or null for metadata lines.
 * Throws OpenMetricsError naming the line.
 */
export function parseOMLine(text: string, lineNo: number): OMSample | 'eof' | null {
  const fail = (msg: string): never => { throw new OpenMetricsError(lineNo, text, msg); };
  if (text.startsWith('#')) {
    if (text === '# EOF') return 'eof';
    const m = /^# (HELP|TYPE|UNIT) ([^ ]+)(?: (.*))?$/.exec(text);
    if (!m) fail('invalid comment line (only # HELP, # TYPE, # UNIT and # EOF are allowed)');
    if (!METRIC_NAME.test(m![2]!) || METRIC_NAME.exec(m![2]!)![0] !== m![2]) fail(`invalid metric name ${JSON.stringify(m![2])}`);
    if (m![1] === 'TYPE' && !TYPES.has(m![3] ?? '')) fail(`invalid metric type ${JSON.stringify(m![3] ?? '')}`);
    return null;
  }
  if (text === '') fail('empty line');
  let i = 0;
  const nm = METRIC_NAME.exec(text);
  if (!nm) fail('expected metric name');
  const labels: Label[] = [{ name: '__name__', value: nm![0] }];
  i = nm![0].length;
  if (text[i] === '{') {
    i++;
    const seen = new Set<string>(['__name__']);
    while (text[i] !== '}') {
      const ln = LABEL_NAME.exec(text.slice(i));
      if (!ln) fail(`expected label name at column ${i + 1}`);
      i += ln![0].length;
      if (text[i] !== '=') fail(`expected = after label name at column ${i + 1}`);
      i++;
      if (text[i] !== '"') fail(`expected quoted label value at column ${i + 1}`);
      i++;
      let v = '';
      for (;;) {
        if (i >= text.length) fail('unterminated label value');
        const c = text[i++]!;
        if (c === '"') break;
        if (c === '\\') {
          const e = text[i++];
          if (e === 'n') v += '\n';
          else if (e === '"' || e === '\\') v += e;
          else fail(`invalid escape \\${e ?? ''} in label value`);
        } else v += c;
      }
      if (seen.has(ln![0])) fail(`duplicate label name ${JSON.stringify(ln![0])}`);
      seen.add(ln![0]);
      if (v !== '') labels.push({ name: ln![0], value: v });
      if (text[i] === ',') { i++; continue; }
      if (text[i] !== '}') fail(`expected , or } at column ${i + 1}`);
    }
    i++;
  }
  if (text[i] !== ' ') fail(`expected space before value at column ${i + 1}`);
  const rest = text.slice(i + 1);
  const ex = rest.indexOf(' # ');
  const body = ex >= 0 ? rest.slice(0, ex) : rest;
  const parts = body.split(' ');
  if (parts.length < 2 || parts[1] === '') fail('expected timestamp for series, got none (backfilling needs a timestamp on every sample)');
  if (parts.length > 2) fail('unexpected data after timestamp');
  const v = parseOMFloat(parts[0]!);
  if (v === undefined) fail(`invalid value ${JSON.stringify(parts[0])}`);
  const ts = parseOMFloat(parts[1]!);
  if (ts === undefined || !Number.isFinite(ts)) fail(`invalid timestamp ${JSON.stringify(parts[1])}`);
  labels.sort((a, b) => compareStrings(a.name, b.name));
  return { labels, t: Math.trunc(ts! * 1000), v: v!, line: lineNo };
}

/** Splits a byte stream into lines (\n), decoding UTF-8; yields [lineNo, text]. */
export async function* readLines(stream: ReadableStream<Uint8Array>, onBytes?: (n: number) => void): AsyncGenerator<[number, string]> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  let carry = '';
  let lineNo = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onBytes?.(value.length);
    const s = carry + dec.decode(value, { stream: true });
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      yield [++lineNo, s.slice(start, nl)];
      start = nl + 1;
    }
    carry = s.slice(start);
  }
  carry += dec.decode();
  if (carry !== '') yield [++lineNo, carry];
}

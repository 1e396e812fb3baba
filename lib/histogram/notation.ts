// The promqltest / promtool-unit-test notation of a native histogram: `{{schema:0 sum:5 count:4
// buckets:[1 2 1]}}` for one histogram, and `{{a}}xN`, `{{a}}+{{b}}xN`, `{{a}}-{{b}}xN` for a
// series of them, as Prometheus's series-description lexer and grammar read them
// (promql/parser/lex.go lexHistogram*, generated_parser.y histogram_series_value,
// parse.go buildHistogramFromMap / histogramsSeries). The reverse direction is
// FloatHistogram.toNotation (Prometheus TestExpression).
import { type CounterResetHint, FloatHistogram } from './float.ts';

export class HistogramNotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistogramNotationError';
  }
}

/** One histogram of a series description, and whether `counter_reset_hint` was written (promqltest compares the hint only then). */
export interface NotatedHistogram {
  h: FloatHistogram;
  counterResetHintSet: boolean;
}

const KEYS = new Set([
  'sum',
  'count',
  'schema',
  'offset',
  'n_offset',
  'buckets',
  'n_buckets',
  'z_bucket',
  'z_bucket_w',
  'custom_values',
  'counter_reset_hint',
]);
const HINTS: Record<string, CounterResetHint> = {
  unknown: 'unknown',
  reset: 'reset',
  not_reset: 'not_reset',
  gauge: 'gauge',
};

// A number as the PromQL lexer scans it: decimal with `_` separators, hex/octal/binary integers,
// Inf and NaN in any case. Signs are separate tokens in the grammar.
const NUMBER_RE = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?|\.[0-9_]+(?:[eE][+-]?[0-9_]+)?|[iI][nN][fF]|[nN][aA][nN])/;

/** Prometheus parser.number: strconv.ParseInt(s, 0, 64), else ParseFloat. */
function numberValue(tok: string): number {
  const lower = tok.toLowerCase();
  if (lower === 'inf') return Infinity;
  if (lower === 'nan') return NaN;
  const clean = tok.replace(/_/g, '');
  if (/^0[xX]/.test(clean)) return Number.parseInt(clean.slice(2), 16);
  if (/^0[bB]/.test(clean)) return Number.parseInt(clean.slice(2), 2);
  if (/^0[oO]/.test(clean)) return Number.parseInt(clean.slice(2), 8);
  // Go base 0: a leading 0 means octal for an integer literal ("010" is 8).
  if (/^0[0-7]+$/.test(clean)) return Number.parseInt(clean.slice(1), 8);
  const v = Number(clean);
  if (Number.isNaN(v)) throw new HistogramNotationError(`error parsing number: ${tok}`);
  return v;
}

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  eof(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  skipSpaces(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length && /[ \t]/.test(this.text[this.pos]!)) this.pos++;
    return this.pos > start;
  }
  expect(s: string): void {
    if (!this.text.startsWith(s, this.pos)) throw this.error(`expected ${JSON.stringify(s)}`);
    this.pos += s.length;
  }
  error(msg: string): HistogramNotationError {
    return new HistogramNotationError(`${msg} at position ${this.pos} in ${JSON.stringify(this.text)}`);
  }
  word(): string {
    const m = /^[A-Za-z_]+/.exec(this.text.slice(this.pos));
    if (!m) throw this.error('expected a histogram descriptor');
    this.pos += m[0].length;
    return m[0];
  }
  /** An unsigned number token. */
  unsigned(): number {
    const m = NUMBER_RE.exec(this.text.slice(this.pos));
    if (!m) throw this.error('expected a number');
    this.pos += m[0].length;
    return numberValue(m[0]);
  }
  /** signed_or_unsigned_number: an optional + or - and a number. */
  signed(allowPlus: boolean): number {
    const c = this.peek();
    if (c === '-' || (allowPlus && c === '+')) {
      this.pos++;
      const v = this.unsigned();
      return c === '-' ? -v : v;
    }
    return this.unsigned();
  }
  /** int: an optional - and a decimal integer. */
  int(): number {
    const neg = this.peek() === '-';
    if (neg) this.pos++;
    const m = /^[0-9]+/.exec(this.text.slice(this.pos));
    if (!m) throw this.error('expected an integer');
    this.pos += m[0].length;
    const v = Number(m[0]);
    if (!Number.isSafeInteger(v)) throw this.error('integer out of range');
    return neg ? -v : v;
  }
  bucketSet(): number[] {
    this.expect('[');
    const out: number[] = [];
    this.skipSpaces();
    while (this.peek() !== ']') {
      if (this.eof()) throw this.error('unterminated bucket list');
      out.push(this.signed(false));
      if (!this.skipSpaces() && this.peek() !== ']') throw this.error('invalid character in buckets description');
    }
    this.pos++;
    if (out.length === 0) throw this.error('empty bucket list');
    return out;
  }
}

/** Reads one `{{...}}` at the scanner position. */
function readHistogram(sc: Scanner): NotatedHistogram {
  sc.expect('{{');
  const seen = new Map<string, unknown>();
  sc.skipSpaces();
  while (!sc.text.startsWith('}}', sc.pos)) {
    if (sc.eof()) throw sc.error('histogram description incomplete');
    const word = sc.word();
    const key = word.toLowerCase();
    if (!KEYS.has(key)) throw sc.error(`bad histogram descriptor found: ${JSON.stringify(word)}`);
    if (sc.peek() !== ':') throw sc.error('missing `:` for histogram descriptor');
    sc.pos++;
    if (seen.has(key)) throw sc.error(`duplicate key "${key}" in histogram`);
    let value: unknown;
    switch (key) {
      case 'schema':
      case 'offset':
      case 'n_offset':
        value = sc.int();
        break;
      case 'sum':
      case 'count':
      case 'z_bucket':
        value = sc.signed(true);
        break;
      case 'z_bucket_w':
        value = sc.unsigned();
        break;
      case 'buckets':
      case 'n_buckets':
      case 'custom_values':
        value = sc.bucketSet();
        break;
      case 'counter_reset_hint': {
        const w = sc.word().toLowerCase();
        const hint = HINTS[w];
        if (hint === undefined) throw sc.error(`error parsing counter_reset_hint: ${JSON.stringify(w)}`);
        value = hint;
        break;
      }
    }
    seen.set(key, value);
    if (!sc.skipSpaces() && !sc.text.startsWith('}}', sc.pos)) throw sc.error('histogram description incomplete');
  }
  sc.pos += 2;
  const num = (k: string) => (seen.get(k) as number | undefined) ?? 0;
  const side = (bucketsKey: string, offsetKey: string) => {
    const buckets = (seen.get(bucketsKey) as number[] | undefined) ?? [];
    const spans = buckets.length > 0 ? [{ offset: num(offsetKey), length: buckets.length }] : [];
    return { buckets, spans };
  };
  const pos = side('buckets', 'offset');
  const neg = side('n_buckets', 'n_offset');
  const h = new FloatHistogram({
    schema: num('schema'),
    sum: num('sum'),
    count: num('count'),
    zeroCount: num('z_bucket'),
    zeroThreshold: num('z_bucket_w'),
    customValues: (seen.get('custom_values') as number[] | undefined) ?? [],
    counterResetHint: (seen.get('counter_reset_hint') as CounterResetHint | undefined) ?? 'unknown',
    positiveBuckets: pos.buckets,
    positiveSpans: pos.spans,
    negativeBuckets: neg.buckets,
    negativeSpans: neg.spans,
  });
  return { h, counterResetHintSet: seen.has('counter_reset_hint') };
}

/** Parses one `{{...}}` literal (the whole text, surrounding blanks allowed). */
export function parseHistogramNotation(text: string): FloatHistogram {
  return parseHistogramNotationWithHint(text).h;
}

/** parseHistogramNotation plus whether the literal wrote `counter_reset_hint`. */
export function parseHistogramNotationWithHint(text: string): NotatedHistogram {
  const sc = new Scanner(text.trim());
  const r = readHistogram(sc);
  if (!sc.eof()) throw sc.error('unexpected text after histogram');
  return r;
}

/**
 * The `{{a}}+{{b}}xN` / `{{a}}-{{b}}xN` expansion (Prometheus histogramsSeries): start, then
 * start±delta, … N times, each step an Add/Sub of delta into a copy of the previous one (not
 * compacted). Throws where Prometheus does: delta of a lower schema than the running histogram, or
 * a mix of exponential and custom buckets.
 */
export function expandHistogramSeries(
  start: FloatHistogram,
  delta: FloatHistogram,
  times: number,
  op: '+' | '-',
): FloatHistogram[] {
  const out = [start];
  let cur = start;
  for (let i = 1; i <= times; i++) {
    if (cur.schema > delta.schema) {
      throw new HistogramNotationError(`error combining histograms: cannot merge from schema ${delta.schema} to ${cur.schema}`);
    }
    const next = cur.copy();
    if (op === '+') next.add(delta);
    else next.sub(delta);
    out.push(next);
    cur = next;
  }
  return out;
}

/** The largest N accepted in `xN` (a series item expands to N+1 values; hostile input must not allocate without bound). */
export const MAX_HISTOGRAM_REPEAT = 1_000_000;

/**
 * One histogram item of a series description: `{{a}}`, `{{a}}xN` (N+1 copies), `{{a}}+{{b}}xN` or
 * `{{a}}-{{b}}xN` (N+1 values). Every value's counterResetHintSet is that of the literal written
 * last (for ±, the delta's), as in Prometheus's parser.
 */
export function parseHistogramSeriesItem(text: string): NotatedHistogram[] {
  const sc = new Scanner(text.trim());
  const first = readHistogram(sc);
  if (sc.eof()) return [first];
  const readTimes = (): number => {
    sc.expect('x');
    const m = /^[0-9]+$/.exec(sc.text.slice(sc.pos));
    if (!m) throw sc.error('invalid repetition in series values');
    const n = Number(m[0]);
    if (n > MAX_HISTOGRAM_REPEAT) throw sc.error(`repetition ${n} larger than ${MAX_HISTOGRAM_REPEAT}`);
    sc.pos = sc.text.length;
    return n;
  };
  const c = sc.peek();
  if (c === 'x') {
    const n = readTimes();
    // Prometheus repeats the same histogram value; copies keep callers from aliasing one object.
    return Array.from({ length: n + 1 }, () => ({ h: first.h.copy(), counterResetHintSet: first.counterResetHintSet }));
  }
  if (c !== '+' && c !== '-') throw sc.error('histogram description incomplete');
  sc.pos++;
  const delta = readHistogram(sc);
  const n = readTimes();
  return expandHistogramSeries(first.h, delta.h, n, c).map((h) => ({ h, counterResetHintSet: delta.counterResetHintSet }));
}

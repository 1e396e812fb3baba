// Pieces of the querier UI without a browser: Thanos's web prefix rules (GetWebPrefix /
// SanitizePrefix), Go's Duration.String for the analysis' executionTime, and the analysis tree
// the engine records for analyze=true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sanitizePrefix, webPrefixFor } from '../../lib/web/ui.ts';
import { formatGoDurationNs } from '../../lib/promql/analyze.ts';
import { Engine } from '../../lib/promql/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryQueryable } from '../../lib/promql/memory.ts';

test('sanitizePrefix: the path only, cleaned, no trailing slash', () => {
  assert.is(sanitizePrefix('/proxy'), '/proxy');
  assert.is(sanitizePrefix('/proxy/'), '/proxy');
  assert.is(sanitizePrefix('proxy'), '/proxy');
  assert.is(sanitizePrefix('https://evil.example/a//b/./c/../d'), '/a/b/d');
  assert.is(sanitizePrefix('/'), '');
  assert.is(sanitizePrefix(''), '');
  assert.is(sanitizePrefix('/a"b<c'), '/a%22b%3Cc');
});

test('webPrefixFor: --web.external-prefix wins, else the header, else the route prefix', () => {
  const req = (h?: string) => new Request('http://x/graph', { headers: h ? { 'X-Forwarded-Prefix': h } : {} });
  assert.is(webPrefixFor('/ext', 'X-Forwarded-Prefix', '/route')(req('/hdr')), '/ext');
  assert.is(webPrefixFor('', 'X-Forwarded-Prefix', '/route')(req('/hdr/')), '/hdr');
  assert.is(webPrefixFor('', 'X-Forwarded-Prefix', '/route')(req()), '/route');
  assert.is(webPrefixFor('', '', '/route')(req('/hdr')), '/route');
});

test('formatGoDurationNs: as Go prints a time.Duration', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'], [999, '999ns'], [1000, '1µs'], [1500, '1.5µs'], [1_234_567, '1.234567ms'], [2_000_000, '2ms'],
    [1_500_000_000, '1.5s'], [61_000_000_000, '1m1s'], [3_723_500_000_000, '1h2m3.5s'], [-1500, '-1.5µs'],
  ];
  for (const [ns, want] of cases) assert.is(formatGoDurationNs(ns), want, String(ns));
});

test('engine analyze: the operator tree with samples; none without analyze', async () => {
  const q = new MemoryQueryable();
  for (const job of ['a', 'b']) q.addSeries(labelsFromRecord({ __name__: 'm', job }), Float64Array.from([0, 60_000, 120_000]), Float64Array.from([1, 2, 3]));
  const engine = new Engine();
  const plain = await engine.instantQuery(q, 'sum(m) > 1', 120_000);
  assert.is(plain.analysis, undefined);
  const r = await engine.instantQuery(q, 'sum by (job) (m) > 1', 120_000, { analyze: true });
  const a = r.analysis!;
  assert.is(a.name, '[binaryOperator] >');
  assert.equal(a.children!.map((c) => c.name), ['[aggregate] sum by (job)', '[numberLiteral] 1']);
  assert.is(a.children![0]!.totalSamples, 2);
  assert.is(a.children![0]!.children![0]!.name, '[vectorSelector] m');
  assert.is(a.children![0]!.children![0]!.totalSamples, 2);
  assert.match(a.executionTime, /^\d+(\.\d+)?(ns|µs|ms|s)$/);
});

test.run();

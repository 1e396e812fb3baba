import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry, renderAll, processMetrics } from '../../host/metrics.ts';
import { createLogger } from '../../host/log.ts';

test('registry: counter, gauge, histogram in the text format', () => {
  const r = new Registry();
  const c = r.counter('app_requests_total', 'Requests.\nSecond line \\ backslash', ['code']);
  c.inc({ code: '200' });
  c.inc({ code: '200' }, 2);
  c.inc({ code: 'a"b\\c\nd' });
  const g = r.gauge('app_temperature', 'Temp.');
  g.set(-1.5);
  const h = r.histogram('app_latency_seconds', 'Latency.', [], [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  assert.is(r.render(), [
    '# HELP app_requests_total Requests.\\nSecond line \\\\ backslash',
    '# TYPE app_requests_total counter',
    'app_requests_total{code="200"} 3',
    'app_requests_total{code="a\\"b\\\\c\\nd"} 1',
    '# HELP app_temperature Temp.',
    '# TYPE app_temperature gauge',
    'app_temperature -1.5',
    '# HELP app_latency_seconds Latency.',
    '# TYPE app_latency_seconds histogram',
    'app_latency_seconds_bucket{le="0.1"} 1',
    'app_latency_seconds_bucket{le="1"} 2',
    'app_latency_seconds_bucket{le="+Inf"} 3',
    'app_latency_seconds_sum 5.55',
    'app_latency_seconds_count 3',
    '',
  ].join('\n'));
});

test('registry: a frozen label object is keyed once; others, and unknown labels, as before', () => {
  const r = new Registry();
  const h = r.histogram('app_size_bytes', 'Size.', ['tenant'], [10]);
  const a = Object.freeze({ tenant: 'a' });
  const b = Object.freeze({ tenant: 'b' });
  for (const labels of [a, a, b, { tenant: 'a' }, a]) h.observe(1, labels);
  const mutable: Record<string, string> = { tenant: 'c' };
  h.observe(1, mutable);
  mutable.tenant = 'd'; // a mutable object is keyed afresh every time
  h.observe(1, mutable);
  const text = r.render();
  assert.match(text, /app_size_bytes_count\{tenant="a"\} 4\n/);
  assert.match(text, /app_size_bytes_count\{tenant="b"\} 1\n/);
  assert.match(text, /app_size_bytes_count\{tenant="c"\} 1\n/);
  assert.match(text, /app_size_bytes_count\{tenant="d"\} 1\n/);
  assert.throws(() => h.observe(1, Object.freeze({ zone: 'x' })), /unknown label "zone"/);
  assert.throws(() => h.observe(1, Object.freeze({ zone: 'x' })), /unknown label "zone"/, 'a refused object is not remembered');
});

test('registry: re-registration shares, conflicts and bad names are errors', () => {
  const r = new Registry();
  const a = r.counter('x_total', 'x', ['l']);
  assert.is(r.counter('x_total', 'x', ['l']), a);
  assert.throws(() => r.gauge('x_total', 'x', ['l']), /already registered as counter/);
  assert.throws(() => r.counter('x_total', 'x', ['other']), /already registered/);
  assert.throws(() => r.counter('bad-name', 'x'), /invalid metric name/);
  assert.throws(() => r.counter('ok', 'x', ['__reserved']), /invalid label name/);
  assert.throws(() => a.inc({ nope: '1' }), /unknown label "nope"/);
  assert.throws(() => a.inc({ l: '1' }, -1), /cannot decrease/);
});

test('renderAll: a family appears once; process metrics render', () => {
  const a = new Registry();
  const b = new Registry();
  a.counter('shared_total', 'h').inc();
  b.counter('shared_total', 'h').inc(undefined, 5);
  b.gauge('only_b', 'h').set(2);
  const t = renderAll([a, b]);
  assert.is(t.match(/# TYPE shared_total/g)?.length, 1);
  assert.match(t, /^shared_total 1$/m);
  assert.match(t, /^only_b 2$/m);
  assert.match(processMetrics(), /^process_resident_memory_bytes \d(\.\d+)?(e\+\d\d)?$/m);
});

test('logger: logfmt quoting, levels, with(), json', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => void lines.push(l) }).with({ component: 'store' });
  log.debug('hidden');
  log.info('synced blocks', { loaded: 3, path: '/a b', q: 'say "hi"', empty: '', err: new Error('boom') });
  assert.is(lines.length, 1);
  assert.match(lines[0]!, /^ts=\d{4}-\d\d-\d\dT[\d:.]+Z caller=metrics-log\.test\.ts:\d+ level=info component=store msg="synced blocks" loaded=3 path="\/a b" q="say \\"hi\\"" empty="" err=boom\n$/);
  const j: string[] = [];
  createLogger({ level: 'debug', format: 'json', write: (l) => void j.push(l) }).debug('x', { n: 1 });
  const rec = JSON.parse(j[0]!);
  assert.equal([rec.level, rec.msg, rec.n], ['debug', 'x', 1]);
});

test.run();

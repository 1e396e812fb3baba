import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatFloatF, formatJsonFloat, formatSampleValue, formatTimestamp, goJsonString, parseApiDuration, parseGoBool, parseTime,
  ParamError, formatGoDuration,
} from '../../lib/query/format.ts';

test('sample values as Prometheus writes them', () => {
  const cases: Array<[number, string]> = [
    [1, '1'], [0, '0'], [-0, '-0'], [1.5, '1.5'], [-2.25, '-2.25'], [0.1, '0.1'], [336.6666666666667, '336.6666666666667'],
    [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [1e-7, '1e-07'], [1.5e21, '1.5e+21'], [1e21, '1e+21'],
    [1e20, '100000000000000000000'], [0.000001, '0.000001'], [123456789012, '123456789012'], [1e300, '1e+300'], [5e-324, '5e-324'],
  ];
  for (const [v, s] of cases) assert.is(formatSampleValue(v), s, String(v));
});

test("FormatFloat 'f' -1", () => {
  assert.is(formatFloatF(1e21), '1000000000000000000000');
  assert.is(formatFloatF(1e-7), '0.0000001');
  assert.is(formatFloatF(1.25e-8), '0.0000000125');
  assert.is(formatFloatF(2.5e22), '25000000000000000000000');
  assert.is(formatFloatF(-3), '-3');
  assert.is(formatFloatF(Infinity), '+Inf');
});

test('timestamps', () => {
  assert.is(formatTimestamp(1435781451781), '1435781451.781');
  assert.is(formatTimestamp(1000), '1');
  assert.is(formatTimestamp(1005), '1.005');
  assert.is(formatTimestamp(1050), '1.050');
  assert.is(formatTimestamp(-1500), '-1.500');
  assert.is(formatTimestamp(0), '0');
  assert.is(formatJsonFloat(1435781451781 / 1000), '1435781451.781');
  assert.is(formatJsonFloat(1.5), '1.5');
  assert.is(formatJsonFloat(1e-7), '1e-7');
});

test('Go JSON strings', () => {
  assert.is(goJsonString('a"b\\c'), '"a\\"b\\\\c"');
  assert.is(goJsonString('<a&b>'), '"\\u003ca\\u0026b\\u003e"');
  assert.is(goJsonString('\n\t\r\b\f\x01'), '"\\n\\t\\r\\u0008\\u000c\\u0001"');
  assert.is(goJsonString('\u2028é😀'), '"\\u2028é😀"');
  assert.is(goJsonString('x\ud800y'), '"x\ufffdy"');
});

test('parseTime: unix seconds and RFC3339', () => {
  assert.is(parseTime('1435781451.781'), 1435781451781);
  assert.is(parseTime('1435781451'), 1435781451000);
  assert.is(parseTime('1.0006'), 1001); // rounded to ms
  assert.is(parseTime('1.0005'), 1000); // 0.0005 is just below half in binary, as in Go
  assert.is(parseTime('-1.5'), -1500);
  assert.is(parseTime('1e3'), 1_000_000);
  assert.is(parseTime('2015-07-01T20:10:51.781Z'), 1435781451781);
  assert.is(parseTime('2015-07-01T20:10:51Z'), 1435781451000);
  assert.is(parseTime('2015-07-01T22:10:51.7819+02:00'), 1435781451781);
  assert.is(parseTime('2016-02-29T00:00:00Z'), Date.UTC(2016, 1, 29));
  for (const bad of ['', 'abc', '2015-07-01', '2015-02-30T00:00:00Z', '2015-07-01T20:10:51', '1h']) {
    assert.throws(() => parseTime(bad), (e: unknown) => e instanceof ParamError && e.message === `cannot parse ${JSON.stringify(bad)} to a valid timestamp`, bad);
  }
});

test('parseApiDuration: float seconds and Prometheus durations', () => {
  assert.is(parseApiDuration('15'), 15_000);
  assert.is(parseApiDuration('0.5'), 500);
  assert.is(parseApiDuration('1m'), 60_000);
  assert.is(parseApiDuration('1h30m'), 5_400_000);
  assert.is(parseApiDuration('1d'), 86_400_000);
  assert.is(parseApiDuration('2w'), 14 * 86_400_000);
  assert.is(parseApiDuration('100ms'), 100);
  assert.is(parseApiDuration('0'), 0);
  assert.is(parseApiDuration('-5'), -5000);
  assert.throws(() => parseApiDuration('5x'), /cannot parse "5x" to a valid duration/);
  assert.throws(() => parseApiDuration('1e20'), /It overflows int64/);
  assert.throws(() => parseApiDuration('m'), /cannot parse/);
});

test('parseGoBool and Go durations', () => {
  assert.is(parseGoBool('true'), true);
  assert.is(parseGoBool('0'), false);
  assert.is(parseGoBool('F'), false);
  assert.throws(() => parseGoBool('yes'), /strconv.ParseBool: parsing "yes": invalid syntax/);
  assert.is(formatGoDuration(300_000), '5m0s');
  assert.is(formatGoDuration(7_200_000), '2h0m0s');
  assert.is(formatGoDuration(1500), '1.5s');
  assert.is(formatGoDuration(0), '0s');
});

test.run();

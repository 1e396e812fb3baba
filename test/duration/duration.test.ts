// The two duration grammars of lib/duration. The tables are transcribed from memory of the
// upstream tests: prometheus/common model/time_test.go (TestParseDuration, TestParseBadDuration)
// and Go's src/time/time_test.go (parseDurationTests, parseDurationErrorTests), not copied from a
// checkout; values are nanoseconds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DurationError, formatPromDuration, parseAnyDuration, parseGoDuration, parseGoDurationNs, parsePromDuration,
  parsePromDurationNs, tryParseGoDuration, tryParsePromDuration,
} from '../../lib/duration/mod.ts';

const ns = 1n, us = 1000n * ns, ms = 1000n * us, s = 1000n * ms, m = 60n * s, h = 60n * m, d = 24n * h, w = 7n * d, y = 365n * d;

test('model.ParseDuration: upstream good cases', () => {
  const cases: Array<[string, bigint, string?]> = [
    ['0', 0n, '0s'], ['0w', 0n, '0s'], ['0s', 0n, '0s'], ['324ms', 324n * ms], ['3s', 3n * s], ['5m', 5n * m], ['1h', h],
    ['4d', 4n * d], ['4d1h', 4n * d + h], ['14d', 14n * d, '2w'], ['3w', 3n * w], ['3w2d1h', 3n * w + 2n * d + h, '3w2d1h'],
    ['10y', 10n * y], ['1y2w3d4h5m6s7ms', y + 2n * w + 3n * d + 4n * h + 5n * m + 6n * s + 7n * ms],
  ];
  for (const [inp, want, str] of cases) {
    assert.is(parsePromDurationNs(inp), want, inp);
    assert.is(parsePromDuration(inp), Number(want / ms), inp);
    assert.is(formatPromDuration(parsePromDuration(inp)), str ?? inp, `${inp} String()`);
  }
});

test('model.ParseDuration: upstream bad cases, and what Go allows but model does not', () => {
  for (const bad of ['1', '1y1m1d', '-1w', '1.5d', 'd', '294y', '200y10400w', '107675d', '2584200h', '', '1h1h', '1m1h', '+1h', '1.5h', '1ns', '1us', ' 1h', '1h ']) {
    assert.throws(() => parsePromDurationNs(bad), (e: unknown) => e instanceof DurationError, JSON.stringify(bad));
    assert.is(tryParsePromDuration(bad), null, JSON.stringify(bad));
  }
  assert.throws(() => parsePromDuration('5x'), /unknown unit "x" in duration "5x"/);
  assert.throws(() => parsePromDuration('1m1h'), /not a valid duration string: "1m1h"/);
  assert.throws(() => parsePromDuration(''), /empty duration string/);
  assert.throws(() => parsePromDuration('294y'), /duration out of range/);
});

test('time.ParseDuration: upstream good cases', () => {
  const cases: Array<[string, bigint]> = [
    ['0', 0n], ['5s', 5n * s], ['30s', 30n * s], ['1478s', 1478n * s],
    ['-5s', -5n * s], ['+5s', 5n * s], ['-0', 0n], ['+0', 0n],
    ['5.0s', 5n * s], ['5.6s', 5n * s + 600n * ms], ['5.s', 5n * s], ['.5s', 500n * ms], ['1.0s', s], ['1.00s', s],
    ['1.004s', s + 4n * ms], ['1.0040s', s + 4n * ms], ['100.00100s', 100n * s + ms],
    ['10ns', 10n * ns], ['11us', 11n * us], ['12µs', 12n * us], ['12μs', 12n * us], ['13ms', 13n * ms], ['14s', 14n * s], ['15m', 15n * m], ['16h', 16n * h],
    ['3h30m', 3n * h + 30n * m], ['10.5s4m', 4n * m + 10n * s + 500n * ms], ['-2m3.4s', -(2n * m + 3n * s + 400n * ms)],
    ['1h2m3s4ms5us6ns', h + 2n * m + 3n * s + 4n * ms + 5n * us + 6n * ns], ['39h9m14.425s', 39n * h + 9n * m + 14n * s + 425n * ms],
    ['52763797000ns', 52763797000n], ['0.3333333333333333333h', 20n * m], ['9007199254740993ns', (1n << 53n) + 1n],
    ['9223372036854775807ns', (1n << 63n) - 1n], ['9223372036854775.807us', (1n << 63n) - 1n], ['9223372036s854ms775us807ns', (1n << 63n) - 1n],
    ['-9223372036854775808ns', -(1n << 63n)], ['-9223372036854775.808us', -(1n << 63n)], ['-9223372036s854ms775us808ns', -(1n << 63n)],
    ['-2562047h47m16.854775808s', -(1n << 63n)], ['0.100000000000000000000h', 6n * m], ['0.830103483285477580700h', 49n * m + 48n * s + 372539827n * ns],
    // Go allows repeated units and any order.
    ['1s1s', 2n * s], ['1m1h', h + m],
  ];
  for (const [inp, want] of cases) assert.is(parseGoDurationNs(inp), want, inp);
  assert.is(parseGoDuration('1.5h'), 5_400_000);
  assert.is(parseGoDuration('300ms'), 300);
  assert.is(parseGoDuration('-1.5h'), -5_400_000);
  assert.is(parseGoDuration('2h45m'), 9_900_000);
  assert.is(parseGoDuration('1500us'), 1.5);
});

test('time.ParseDuration: upstream error cases, and what model allows but Go does not', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /time: invalid duration ""/], ['3', /time: missing unit in duration "3"/], ['-', /invalid duration/], ['s', /invalid duration/],
    ['.', /invalid duration/], ['-.', /invalid duration/], ['.s', /invalid duration/], ['+.s', /invalid duration/],
    ['1d', /time: unknown unit "d" in duration "1d"/], ['\x85\x85', /invalid duration/], ['\xffff', /invalid duration/],
    ['hello \xffff world', /invalid duration/], ['9223372036854775810ns', /invalid duration/], ['9223372036854775808ns', /invalid duration/],
    ['9223372036854775.808us', /invalid duration/], ['9223372036854ms775us808ns', /invalid duration/], ['-9223372036854775809ns', /invalid duration/],
    ['2w', /unknown unit "w"/], ['1y', /unknown unit "y"/], [' 1h', /invalid duration/],
  ];
  for (const [inp, re] of cases) {
    assert.throws(() => parseGoDurationNs(inp), (e: unknown) => e instanceof DurationError && re.test(e.message), JSON.stringify(inp));
    assert.is(tryParseGoDuration(inp), null);
  }
});

test('parseAnyDuration: either grammar', () => {
  assert.is(parseAnyDuration('1.5h'), 5_400_000);
  assert.is(parseAnyDuration('2w'), 14 * 86_400_000);
  assert.is(parseAnyDuration('1d12h'), 36 * 3_600_000);
  assert.throws(() => parseAnyDuration('1.5d'), (e: unknown) => e instanceof DurationError);
  assert.throws(() => parseAnyDuration('soon'), (e: unknown) => e instanceof DurationError);
});

test.run();

// Which grammar each duration reader speaks (lib/duration's two): Thanos's model.Duration flags and
// objstore YAML, Go time.Duration flags, rule files, the HTTP API, and the generic flag syntax check.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { durationValue, goDurationValue, parseGoDurationFlag, parseModelDurationFlag, parseTimeOrDuration, timeOrDurationClock } from '../../lib/store/blocksync/timeflags.ts';
import { configDuration, configGoDuration, configPromDuration } from '../../lib/config/fields.ts';
import { parseFlagDuration as flagDuration } from '../../lib/sdk/flags.ts';
import { parseApiDuration as apiDuration } from '../../lib/query/format.ts';
import { parseRuleFile } from '../../lib/rules/parse.ts';

test('model.Duration flags (timeflags.parseModelDurationFlag, durationValue, configPromDuration)', () => {
  assert.is(parseModelDurationFlag('1d12h'), 36 * 3_600_000);
  assert.is(durationValue('2w', 'x'), 14 * 86_400_000);
  assert.is(durationValue(1500, 'x'), 1500);
  for (const bad of ['1.5h', '30m1h', '1h1h', '-1h', '100us']) {
    assert.throws(() => parseModelDurationFlag(bad), /invalid duration/, bad);
    assert.throws(() => configPromDuration({ k: bad }, 'k', '0s'), /invalid duration/, bad);
  }
  assert.is(configPromDuration({}, 'k', '24h'), 86_400_000);
});

test('time.Duration flags (parseGoDurationFlag, goDurationValue, configGoDuration)', () => {
  assert.is(parseGoDurationFlag('30m'), 1_800_000);
  assert.is(parseGoDurationFlag('1.5h'), 5_400_000);
  assert.throws(() => parseGoDurationFlag('2d'), /invalid duration "2d"/);
  assert.is(goDurationValue('1.5h', 'x'), 5_400_000);
  assert.is(configGoDuration({ k: '2h45m' }, 'k', '0s'), 9_900_000);
  assert.is(configGoDuration({ k: '300ms' }, 'k', '0s'), 300);
  assert.throws(() => configGoDuration({ k: '2d' }, 'k', '0s'), /invalid duration/);
  assert.throws(() => configGoDuration({ k: '-1m' }, 'k', '0s', { nonNegative: true }), /must not be negative/);
});

test('time or duration: RFC3339, or a model.Duration with an optional leading -', () => {
  const now = 1_700_000_000_000;
  assert.is(parseTimeOrDuration('-2w', now), now - 14 * 86_400_000);
  assert.is(parseTimeOrDuration('1h', now), now + 3_600_000);
  assert.is(parseTimeOrDuration('0', now), now);
  assert.throws(() => parseTimeOrDuration('-1.5h', now), /RFC3339/);
  assert.throws(() => parseTimeOrDuration('+1h', now), /RFC3339/);
});

test('time or duration parsed once (per-request --min-time/--max-time): a relative value still follows the clock', () => {
  const rel = timeOrDurationClock('-2w');
  assert.is(rel(1_700_000_000_000), 1_700_000_000_000 - 14 * 86_400_000);
  assert.is(rel(1_800_000_000_000), 1_800_000_000_000 - 14 * 86_400_000);
  const t0 = Date.now();
  const v = rel();
  assert.ok(v >= t0 - 14 * 86_400_000 && v <= Date.now() - 14 * 86_400_000, 'default now: the current time');
  const abs = timeOrDurationClock('2023-11-14T22:13:20Z');
  assert.is(abs(1), 1_700_000_000_000);
  assert.is(abs(9e12), 1_700_000_000_000);
  assert.throws(() => timeOrDurationClock('-1.5h'), /RFC3339/, 'refused when parsed, not on first use');
});

test('the flag syntax check and configDuration take either grammar, unsigned', () => {
  assert.is(flagDuration('1.5h'), 5_400_000);
  assert.is(flagDuration('2w'), 14 * 86_400_000);
  assert.throws(() => flagDuration('-1h'), /invalid duration/);
  assert.throws(() => flagDuration('1.5d'), /invalid duration/);
  assert.is(configDuration({ k: '1d' }, 'k', '0s'), 86_400_000);
  assert.is(configDuration({ k: '90s' }, 'k', '0s'), 90_000);
  assert.throws(() => configDuration({ k: '-1m' }, 'k', '0s'), /non-negative/);
});

test('HTTP API durations: float seconds or model.Duration; rule files: model.Duration', () => {
  assert.is(apiDuration('1.5'), 1500);
  assert.is(apiDuration('1m30s'), 90_000);
  assert.throws(() => apiDuration('1.5m'), /cannot parse "1.5m" to a valid duration/);
  const ok = parseRuleFile('r.yml', 'groups:\n  - name: g\n    interval: 1m\n    rules:\n      - alert: A\n        expr: up\n        for: 1h30m\n');
  assert.equal(ok.errors, []);
  assert.is(ok.groups[0]!.intervalMs, 60_000);
  const bad = parseRuleFile('r.yml', 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 1.5h\n');
  assert.is(bad.errors.length, 1);
  assert.match(bad.errors[0]!, /for: unknown unit "." in duration "1.5h"/);
});

test.run();

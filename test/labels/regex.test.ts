// Issue #21 item 1: regex matchers, label_replace, relabelling and rule templates go through one
// linear-time RE2 engine (lib/labels/regex.ts), anchored as Prometheus anchors, with Prometheus's
// shortcuts. The old JS RegExp path backtracked: (a+)+$ on a 32-character value took 22 s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMatcher, compileRegex, goMatchString, goReplaceAllString, labelsFromRecord, MatcherError, Regex } from '../../lib/labels/mod.ts';
import { Engine, MemoryQueryable } from '../../lib/promql/mod.ts';
import { parseRelabelConfigs, relabel } from '../../lib/store/blocksync/relabel.ts';
import { expandTemplate } from '../../lib/rules/template.ts';
import { globRegExp } from '../../lib/receive/hashring.ts';
import { rng } from '../core/helpers.ts';

const m = (re: string, v: string): boolean => compileRegex(re).matches(v);

function regexError(src: string): string {
  try {
    compileRegex(src);
  } catch (e) {
    assert.instance(e, MatcherError);
    return (e as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(src)} to be refused`);
}

test('catastrophic patterns finish in linear time on 32 to 10k characters', () => {
  // Each of these backtracks exponentially (or polynomially, with a high power) in a JS RegExp;
  // under RE2 they are linear. The bound is generous (CPU contention); the old path did not
  // finish 32 characters of the first one in 20 s.
  const patterns = ['(a+)+$', '(a|aa)+$', '(.*a){20}', '(a*)*b', '(x+x+)+y', '([a-z]+)*[0-9]', '(\\w+\\s?)+$', '(.*)*c(.*)*d', '(a|a?)+b'];
  for (const len of [32, 1000, 10_000]) {
    const values = ['a'.repeat(len) + 'b', 'a'.repeat(len) + '!', 'x'.repeat(len), 'ab'.repeat(len / 2) + '\n'];
    for (const p of patterns) {
      const t0 = performance.now();
      const re = compileRegex(p);
      const cm = compileMatcher({ type: '!~', name: 'v', value: p });
      for (const v of values) {
        assert.is(re.matches(v), re.engineMatches(v), `${p} on ${len}`);
        cm.matches(v);
        re.exec(v); // the label_replace path (captures) too
      }
      const ms = performance.now() - t0;
      assert.ok(ms < 2000, `${p} on ${len} characters took ${ms.toFixed(0)} ms`);
    }
  }
  assert.is(m('(a+)+$', 'a'.repeat(32)), true);
  assert.is(m('(a+)+$', 'a'.repeat(32) + 'b'), false);
});

test('anchoring: the whole value must match, as ^(?s:re)$', () => {
  assert.is(m('foo', 'foo'), true);
  assert.is(m('foo', 'xfoo'), false);
  assert.is(m('foo', 'foox'), false);
  assert.is(m('a|b', 'ab'), false);
  assert.is(m('a|ab', 'ab'), true); // the alternative that reaches the end
  assert.is(m('^foo$', 'foo'), true);
  assert.is(m('^foo', 'foobar'), false);
  assert.is(m('', ''), true);
  assert.is(m('', 'x'), false);
  assert.is(m('^$', ''), true);
  assert.is(m('.*', ''), true);
  assert.is(m('.+', ''), false);
  assert.is(m('(foo|bar)', 'foobar'), false);
  assert.is(m('foo|bar.*', 'barx'), true);
  assert.is(m('foo|bar.*', 'foox'), false);
  // A pattern cannot escape the anchoring group: a)|(b is refused (2.42 accepted it as ^(?:a)|(b)$).
  assert.match(regexError('a)|(b'), /^error parsing regexp: unexpected \): `a\)\|\(b`$/);
});

test('RE2 semantics: (?i), newlines, Unicode, classes and escapes', () => {
  // (?i) with Unicode simple case folding, as Go: s ~ ſ, k ~ K (Kelvin sign).
  assert.is(m('(?i)foo', 'FoO'), true);
  assert.is(m('(?i:foo)bar', 'FOObar'), true);
  assert.is(m('(?i:foo)bar', 'FOOBAR'), false);
  assert.is(m('(?i)s', 'ſ'), true);
  assert.is(m('(?i)k', '\u212a'), true);
  assert.is(m('(?i).*foo.*', 'xſFOOx'), true);
  assert.is(m('(?i)ſſs', 'SSS'), true);
  // Prometheus 3: `.` matches a newline unless (?-s).
  assert.is(m('a.b', 'a\nb'), true);
  assert.is(m('.*', 'foo\nbar'), true);
  assert.is(m('(?-s:a.b)', 'a\nb'), false);
  assert.is(m('(?-s).*', 'a\n'), false);
  assert.is(m('foo\\n.*', 'foo\nbar'), true);
  // `.` is one code point, not one UTF-16 unit.
  assert.is(m('.', '😀'), true);
  assert.is(m('..', '😀'), false);
  assert.is(m('.?', '😀'), true);
  assert.is(m('fo.?', 'fo😀'), true);
  assert.is(m('.{2}', 'é😀'), true);
  assert.is(m('\\pL+', 'äöü'), true);
  assert.is(m('\\p{Greek}+', 'αβγ'), true);
  assert.is(m('[[:alpha:]]+', 'abc'), true);
  assert.is(m('[[:alpha:]]+', 'äö'), false); // POSIX classes are ASCII
  // Perl classes are ASCII in RE2 (JS's \s also takes Unicode spaces).
  assert.is(m('\\d', '٣'), false);
  assert.is(m('\\w+', 'é'), false);
  assert.is(m('\\s', '\u00a0'), false);
  assert.is(m('\\s', '\t'), true);
  assert.is(m('\\Q.*+\\E', '.*+'), true);
  assert.is(m('\\Q.*+\\E', 'x'), false);
  assert.is(m('\\Aab\\z', 'ab'), true);
  assert.is(m('(?P<name>a+)b', 'aab'), true);
  assert.is(m('(?U)a+', 'aaa'), true);
  assert.is(m('x{2,3}', 'xxx'), true);
  assert.is(m('x{2,3}', 'xxxx'), false);
  assert.is(m('a{', 'a{'), true); // not a repeat: a literal {
  assert.is(m('\\x41\\x{263a}', 'A☺'), true);
  assert.is(m('\\101', 'A'), true); // octal
  assert.is(m('[^a]', '\n'), true);
  assert.is(m('10\\.0\\.(1|2)\\.+', '10.0.1.'), true);
  assert.is(m('10\\.0\\.(1|2)\\.+', '10.0.1.20'), false);
});

test('RE2 syntax errors are refused with Go\'s wording', () => {
  // Worded for ^(?:re)$ where that form is the one in error, as the recorded Prometheus answers.
  assert.is(regexError('('), 'error parsing regexp: missing closing ): `^(?:()$`');
  assert.is(regexError('a))'), 'error parsing regexp: unexpected ): `^(?:a)))$`');
  assert.is(regexError('*'), 'error parsing regexp: missing argument to repetition operator: `*`');
  assert.is(regexError('a**'), 'error parsing regexp: invalid nested repetition operator: `**`');
  assert.is(regexError('[z-a]'), 'error parsing regexp: invalid character class range: `z-a`');
  assert.is(regexError('x{1001}'), 'error parsing regexp: invalid repeat count: `{1001}`');
  // Perl/JS syntax RE2 does not have: lookaround, backreferences.
  assert.match(regexError('(?=a)'), /^error parsing regexp: invalid or unsupported Perl syntax/);
  assert.match(regexError('(a)\\1'), /^error parsing regexp: invalid escape sequence: `\\1`/);
  assert.throws(() => compileMatcher({ type: '=~', name: 'a', value: '(' }), (e: unknown) => e instanceof MatcherError);
});

test('set matches: literal alternations give the values to look up', () => {
  const set = (v: string) => compileMatcher({ type: '=~', name: 'a', value: v }).setMatches;
  assert.equal(set('foo'), ['foo']);
  assert.equal(set('foo|bar|baz'), ['foo', 'bar', 'baz']);
  assert.equal(set('(foo|bar)'), ['foo', 'bar']);
  assert.equal(set('api_(v1|v2)'), ['api_v1', 'api_v2']);
  assert.equal(set('a-b/c d:e'), ['a-b/c d:e']);
  assert.is(set('(?i)foo'), undefined); // not a set of exact values
  assert.is(set('foo.*'), undefined);
  assert.is(set('foo|.*'), undefined);
  assert.is(compileMatcher({ type: '!~', name: 'a', value: 'foo|bar' }).setMatches, undefined);
  // The shortcut paths Prometheus takes (so ordinary matchers skip the engine).
  const path = (v: string) => compileRegex(v).path;
  assert.is(path('foo|bar'), 'set');
  assert.is(path('foo.*'), 'fast');
  assert.is(path('.*foo.*|.*bar.*'), 'fast');
  assert.is(path('(?i)report.scheduled.job_runscheduledreports'), 'fast');
  assert.is(path('foo[0-9]+bar'), 'prefilter');
  assert.is(path('(a+)+$'), 'engine');
  // matchesEmpty
  assert.is(compileMatcher({ type: '=~', name: 'a', value: 'foo|' }).matchesEmpty, true);
  assert.is(compileMatcher({ type: '=~', name: 'a', value: '.+' }).matchesEmpty, false);
  assert.is(compileMatcher({ type: '!~', name: 'a', value: '.+' }).matchesEmpty, true);
});

// Prometheus's regexp_test.go patterns and values (model/labels), plus random ones.
const promRegexes = [
  '', 'foo', '^foo', '(foo|bar)', 'foo.*', '.*foo', '^.*foo$', '^.+foo$', '.?', '.*', '.+', 'foo.+', '.+foo', 'foo\n.+', 'foo\n.*',
  '.*foo.*', '.+foo.+', '.*foo.*|', '(?i).*foo.*', '.*foo.*|bar.*', 'foo.*|.*bar.*', '.*foo.*|.*bar.*', '.*foo.*bar.*|.*hello.*',
  '.*foo.*|.*bar.*|.*hello.*', '.+.*foo.*|.*bar.*', '(?s:.*)', '(?s:.+)', '(?s:^.*foo$)', '(?i:foo)', '(?i:(foo|bar))', '(?i:(foo1|foo2|bar))',
  '^(?i:foo|oo)|(bar)$', '((.*)(bar|b|buzz)(.+)|foo)$', '^$', '(prometheus|api_prom)_api_v1_.+', '10\\.0\\.(1|2)\\.+', '10\\.0\\.(1|2).+',
  '((fo(bar))|.+foo)', '(?i)report.scheduled.job_runscheduledreports', 'report.scheduled.job_runscheduledreports',
  '(?i:(AAAAAAAAAAAAAAAAAAAAAAAA|BBBBBBBBBBBBBBBBBBBBBBBB|cccccccccccccccccccccccC|ſſſſſſſſſſſſſſſſſſſſſſſſS|SSSSSSSSSSSSSSSSSSSSSSSSſ))',
  '(?i:(zQPbMkNO.*|NNSPdvMi.*|iWuuSoAl.*))', '(?i:(.*zQPbMkNO|.*NNSPdvMi|.*iWuuSoAl))',
  'fo.?', 'foo.?', 'f.?o', '.*foo.?', '.?foo.+', 'foo.?|bar', 'ſſs', '.*-.*-.*-.*-.*', '.+-.*-.*-.*-.+', '-.*-.*-.*-.*', '.*-.*-.*-.*-',
  '(.+)-(.+)-(.+)-(.+)-(.+)', '((.*))(?i:f)((.*))o((.*))o((.*))', '((.*))f((.*))(?i:o)((.*))o((.*))', '(.*0.*)',
];
const promValues = [
  'foo', ' foo bar', 'bar', 'buzz\nbar', 'bar foo', 'bfoo', '\n', '\nfoo', 'foo\n', 'hello foo world', 'hello foo\n world', '',
  'FOO', 'Foo', 'fOo', 'foO', 'OO', 'Oo', '\nfoo\n', 'f'.repeat(20), 'prometheus', 'prometheus_api_v1', 'prometheus_api_v1_foo',
  '10.0.1.20', '10.0.2.10', '10.0.3.30', '10.0.4.40',
  'report.scheduled.job_runscheduledreports', 'Report.Scheduled.JobRunScheduledReports', 'Report.Scheduled.Job_RunScheduledReports',
  'foofoo0', 'foofoo', '😀foo0', 'ſſs', 'ſſS', 'AAAAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBBBB', 'cccccccccccccccccccccccC',
  'ſſſſſſſſſſſſſſſſſſſſſſſſS', 'SSSSSSSSSSSSSSSSSSSSSSSSſ', 'a-b-c-d-e', 'aaaaaa-bbbbbb-cccccc-dddddd-eeeeee', 'aaaaaa----eeeeee', '----', '-a-a-a-',
  'zQPbMkNO', 'zQPbMkNo', 'NNSPdvMi', 'NNSPdvMiXXX', 'NNSPdvMixxx', 'nnSPdvMi', 'nnSPdvMiXXX', '\ufffdfoo', 'foo\ufffd',
];

test('shortcuts agree with the engine on Prometheus\'s cases and a random corpus', () => {
  const r = rng(21);
  const alphabet = ['f', 'o', 'b', 'a', 'r', 'F', 'O', '-', '.', '\n', 'ſ', 'K', '\u212a', '😀', 'x', '0', ' '];
  const values = [...promValues];
  for (let i = 0; i < 300; i++) {
    let s = '';
    const n = Math.floor(r() * 14);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(r() * alphabet.length)];
    values.push(s);
  }
  // Random patterns from pieces the shortcuts model (and a few they do not).
  const atoms = ['foo', 'bar', 'f', 'o', 'fo', '.*', '.+', '.?', '.', '-', '\\.', 'ſ', '😀', '(?i:foo)', '(?i:o)', '[a-z]', 'x*', '\\n', '0',
    '(?i)', '(?m)', '\\*', '\\{', '/', '(?-s:.)', '.{2}', '(?P<n>o)', '\\Qf.\\E', 'o{1,2}', '\\x{1F600}', '^', '$'];
  const patterns = [...promRegexes];
  const gen = (depth: number): string => {
    const parts: string[] = [];
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const x = r();
      if (depth < 2 && x < 0.15) parts.push(`(${gen(depth + 1)}|${gen(depth + 1)})`);
      else if (depth < 2 && x < 0.2) parts.push(`(?i:${gen(depth + 1)})`);
      else parts.push(atoms[Math.floor(r() * atoms.length)]!);
    }
    return parts.join('');
  };
  for (let i = 0; i < 400; i++) patterns.push(r() < 0.3 ? `${gen(0)}|${gen(0)}` : gen(0));
  const paths: Record<string, number> = {};
  let checked = 0;
  for (const p of patterns) {
    let re: Regex;
    try {
      re = new Regex(p); // uncached: a fresh compile of each
    } catch (e) {
      assert.instance(e, MatcherError); // e.g. a repeated (?P<n>...)
      paths.error = (paths.error ?? 0) + 1;
      continue;
    }
    paths[re.path] = (paths[re.path] ?? 0) + 1;
    for (const v of values) {
      if (re.matches(v) !== re.engineMatches(v)) assert.unreachable(`${JSON.stringify(p)} (${re.path}) on ${JSON.stringify(v)}: shortcut says ${re.matches(v)}`);
      checked++;
    }
  }
  // The corpus must exercise the shortcuts, not only the engine.
  assert.ok((paths.fast ?? 0) > 100 && (paths.set ?? 0) > 20 && (paths.prefilter ?? 0) > 10, JSON.stringify(paths));
  assert.ok(checked > 100_000);
});

test('capture groups and Go Expand: $1, ${1}, $name, $$, $1x', () => {
  const re = compileRegex('(?P<x>a+)(b*)(c)?');
  const g = re.exec('aab')!;
  assert.equal(g.groups, ['aab', 'aa', 'b', undefined]);
  assert.is(re.expand('$1-${2}-$x-${x}-$$-$3-$9-$1x-${1}x-$-${', g), 'aa-b-aa-aa-$----aax-$-${');
  assert.is(re.exec('xaab'), null); // anchored
  // Leftmost-first submatches among the matches that span the whole value (Go's semantics).
  assert.equal(compileRegex('(a|ab)(c|bcd)?(d*)').exec('abcd')!.groups, ['abcd', 'a', 'bcd', '']);
  assert.equal(compileRegex('(a*)(a*)').exec('aaa')!.groups, ['aaa', 'aaa', '']);
  assert.equal(compileRegex('(?U)(a+)(a*)').exec('aaa')!.groups, ['aaa', 'a', 'aa']);
});

test('label_replace: RE2, anchored, Go Expand, linear time', async () => {
  const q = new MemoryQueryable();
  q.add(labelsFromRecord({ __name__: 'x', src: 'a'.repeat(32) + 'b', s2: 'host-01:9090' }), 0, 1);
  const eng = new Engine();
  const run = async (expr: string) => {
    const res = await eng.instantQuery(q, expr, 0);
    return (res.result as Array<{ metric: ReturnType<typeof labelsFromRecord> }>).map((s) => Object.fromEntries(s.metric.map((l) => [l.name, l.value])));
  };
  const t0 = performance.now();
  let out = await run('label_replace(x, "d", "m", "src", "(a+)+$")');
  assert.ok(performance.now() - t0 < 20_000);
  assert.is(out[0]!.d, undefined); // no match (anchored; the value ends in b)
  out = await run('label_replace(x, "d", "$1", "src", "(a+)+b")');
  assert.is(out[0]!.d, 'a'.repeat(32));
  out = await run('label_replace(x, "host", "${h}_$2x_${2}x_$$", "s2", "(?P<h>[^:]+):([0-9]+)")');
  assert.is(out[0]!.host, 'host-01_9090x_$'); // $2x_ is the group named "2x_" (none)
  out = await run('label_replace(x, "d", "y", "s2", "host")'); // anchored: "host" does not match "host-01:9090"
  assert.is(out[0]!.d, undefined);
  let err = '';
  await run('label_replace(x, "d", "y", "s2", "(?=a)")').catch((e: Error) => (err = e.message));
  assert.match(err, /invalid regular expression in label_replace\(\): \(\?=a\)/);
});

test('relabel: RE2 regex, anchored, Go Expand in target_label and replacement', () => {
  const cfg = parseRelabelConfigs(`
- source_labels: [a, b]
  regex: '(?P<first>[^;]+);(.*)'
  target_label: '\${first}_x'
  replacement: '$2-$1-$$-$first'
- source_labels: [c]
  regex: '(a+)+$'
  action: drop
- action: labelmap
  regex: 'm_(.+)'
  replacement: 'mapped_$1'
`);
  const t0 = performance.now();
  const out = relabel({ a: 'one', b: 'two', c: 'a'.repeat(32) + 'b', m_k: 'v' }, cfg);
  assert.ok(performance.now() - t0 < 20_000);
  assert.equal(out, { a: 'one', b: 'two', c: 'a'.repeat(32) + 'b', m_k: 'v', one_x: 'two-one-$-one', mapped_k: 'v' });
  assert.is(relabel({ c: 'aaaa' }, cfg.slice(1, 2)), null);
  assert.throws(() => parseRelabelConfigs('- regex: "(?=x)"\n  action: keep\n  source_labels: [a]'), /invalid regex: error parsing regexp/);
});

test('rule templates: match and reReplaceAll as Go (unanchored, Expand, empty matches)', () => {
  assert.is(goMatchString('o+', 'foo'), true);
  assert.is(goMatchString('^o', 'foo'), false);
  // Go's documentation examples for Regexp.ReplaceAllString.
  assert.is(goReplaceAllString('a(x*)b', '-ab-axxb-', 'T'), '-T-T-');
  assert.is(goReplaceAllString('a(x*)b', '-ab-axxb-', '$1'), '--xx-');
  assert.is(goReplaceAllString('a(x*)b', '-ab-axxb-', '$1W'), '---');
  assert.is(goReplaceAllString('a(x*)b', '-ab-axxb-', '${1}W'), '-W-xxW-');
  assert.is(goReplaceAllString('a*', 'baaac', 'x'), 'xbxcx');
  assert.is(goReplaceAllString('', '😀a', '-'), '-😀-a-');
  const t0 = performance.now();
  assert.is(goReplaceAllString('(a+)+$', 'a'.repeat(5000) + 'b', 'x'), 'a'.repeat(5000) + 'b');
  assert.ok(performance.now() - t0 < 20_000);
  const data = { labels: { instance: 'host-01:9090' }, externalLabels: {}, externalURL: '', value: 1 };
  assert.is(expandTemplate('{{ reReplaceAll "(.*):(.*)" "$2/$1" $labels.instance }}', 't', data), '9090/host-01');
  assert.is(expandTemplate('{{ if match "^host" $labels.instance }}yes{{ end }}', 't', data), 'yes');
});

test('receive hashring tenant globs are RE2 too: a glob with several * against a long tenant header', () => {
  // As a JS RegExp, ^[^/]*a[^/]*a[^/]*a[^/]*b$ took 1.3 s on 200 characters and 82 s on 800.
  const g = globRegExp('*a*a*a*b');
  const t0 = performance.now();
  assert.is(g.test('a'.repeat(16_000)), false);
  assert.is(g.test('a'.repeat(16_000) + 'b'), true);
  assert.ok(performance.now() - t0 < 20_000);
  assert.is(globRegExp('t-*').test('t-a/b'), false); // * stops at /
});

test.run();

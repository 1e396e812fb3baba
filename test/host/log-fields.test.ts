// Thanos's go-kit log fields: ts (RFC 3339 UTC, trailing zeros of the fraction dropped), caller
// (file:line of the log call), level, the logger's fields (component), msg, then the call's fields;
// logfmt in that order, JSON with the same keys sorted as go-kit's JSON logger writes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, goTimestamp } from '../../host/log.ts';

/** The line this function is called from. */
function here(): number {
  return Number(/:(\d+):\d+\)?$/.exec(new Error().stack!.split('\n')[2]!)![1]);
}

const at = (ms: number) => () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, ms));

test('logfmt: ts, caller, level, component, msg, fields, in that order', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => void lines.push(l), now: at(120) }).with({ component: 'query' });
  const line = here(); log.info('starting query node', { addr: '0.0.0.0:10902' });
  assert.is(lines[0], `ts=2026-01-02T03:04:05.12Z caller=log-fields.test.ts:${line} level=info component=query msg="starting query node" addr=0.0.0.0:10902\n`);
});

test('json: the same keys, sorted; the caller is the call site at every level', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (l) => void lines.push(l), now: at(0) }).with({ component: 'store' });
  const l1 = here(); log.debug('a');
  const l2 = here(); log.warn('b', { err: new Error('boom') });
  const l3 = here(); log.error('c');
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(Object.keys(recs[1]!), ['caller', 'component', 'err', 'level', 'msg', 'ts']);
  assert.equal(recs[0], { caller: `log-fields.test.ts:${l1}`, component: 'store', level: 'debug', msg: 'a', ts: '2026-01-02T03:04:05Z' });
  assert.is(recs[1]!.caller, `log-fields.test.ts:${l2}`);
  assert.is(recs[1]!.err, 'boom');
  assert.is(recs[2]!.caller, `log-fields.test.ts:${l3}`);
  const logfmt: string[] = [];
  createLogger({ write: (l) => void logfmt.push(l) }).with({ component: 'store' }).warn('b', { err: 'boom' });
  const keys = logfmt[0]!.trim().split(' ').map((kv) => kv.split('=')[0]);
  assert.equal([...keys].sort(), Object.keys(recs[1]!), 'logfmt and json carry identical keys');
});

test('the caller is the code that logs, also through with() and helpers passing the logger on', () => {
  const lines: string[] = [];
  const base = createLogger({ write: (l) => void lines.push(l) });
  const child = base.with({ component: 'compact' }).with({ group: 'g1' });
  function helper(): number {
    const line = here(); child.info('from helper');
    return line;
  }
  const line = helper();
  assert.match(lines[0]!, new RegExp(`^ts=\\S+ caller=log-fields\\.test\\.ts:${line} level=info component=compact group=g1 msg="from helper"\\n$`));
});

test('timestamps as Go RFC3339Nano', () => {
  assert.is(goTimestamp(new Date(Date.UTC(2026, 11, 6, 22, 0, 0, 0))), '2026-12-06T22:00:00Z');
  assert.is(goTimestamp(new Date(Date.UTC(2026, 11, 6, 22, 0, 0, 500))), '2026-12-06T22:00:00.5Z');
  assert.is(goTimestamp(new Date(Date.UTC(2026, 11, 6, 22, 0, 0, 7))), '2026-12-06T22:00:00.007Z');
});

test('a filtered level writes nothing', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', write: (l) => void lines.push(l) });
  log.debug('x');
  log.info('y');
  assert.is(lines.length, 0);
});

test.run();

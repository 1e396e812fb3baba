// lib/net/hostport.ts: the one host:port splitter for listen addresses (receive, tools bucket web).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { splitHostPort } from '../../lib/net/hostport.ts';

test('host:port, [v6]:port, empty host, bad ports', () => {
  assert.equal(splitHostPort('127.0.0.1:19291'), { hostname: '127.0.0.1', port: 19291 });
  assert.equal(splitHostPort('[::1]:10902'), { hostname: '::1', port: 10902 });
  assert.equal(splitHostPort(':10902'), { hostname: '', port: 10902 });
  assert.equal(splitHostPort(':10902', '0.0.0.0'), { hostname: '0.0.0.0', port: 10902 });
  assert.throws(() => splitHostPort('localhost'), /expected host:port, got "localhost"/);
  assert.throws(() => splitHostPort('h:99999'), /bad port in "h:99999"/);
  assert.throws(() => splitHostPort('h:x'), /bad port/);
});

test.run();

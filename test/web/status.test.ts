// lib/web/status.ts, the status API and pages the querier, ruler, sidecar and receiver share: the
// flags JSON as Go encodes a map (byte-ordered keys, <>& escaped), the flag values a component
// shows (given, else default; refused flags left out), and the routes statusPages() answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { buildInfoJson, flagsJson, flagValuesOf, flagValuesOfConfig, rememberRawConfig, statusPages } from '../../lib/web/status.ts';
import type { FlagSpec } from '../../lib/sdk/mod.ts';

const UI_DIR = new URL('../../plugins/component/query/ui/', import.meta.url).pathname;

const SPECS: FlagSpec[] = [
  { name: 'b.dur', key: 'bDur', type: 'duration', default: '30s', help: '' },
  { name: 'a.list', key: 'aList', type: 'strings', default: [], help: '' },
  { name: 'c.bool', key: 'cBool', type: 'bool', default: false, help: '' },
  { name: 'gone', key: 'gone', type: 'string', refused: 'is not implemented yet', help: '' },
];

test('flagsJson: keys in byte order, values escaped as Go does', () => {
  assert.is(flagsJson({ b: '<x&y>', a: '1', B: '' }), '{"B":"","a":"1","b":"\\u003cx\\u0026y\\u003e"}');
  // inline configs that can hold credentials are masked (Thanos masks objstore.config); empty stays empty
  assert.is(flagsJson({ 'objstore.config': 'type: S3\nconfig: {secret_key: s3cr3t}', 'prometheus.http-client': 'basic_auth: {password: p}', 'tracing.config': '', 'objstore.config-file': 'b.yml' }),
    '{"objstore.config":"\\u003cREDACTED\\u003e","objstore.config-file":"b.yml","prometheus.http-client":"\\u003cREDACTED\\u003e","tracing.config":""}');
});

test('flagValuesOf: given values, defaults, lists joined, refused flags left out, the host addresses', () => {
  assert.equal(flagValuesOf(SPECS, { aList: ['x', 'y'], cBool: true }, { http: '127.0.0.1:1' }), {
    'b.dur': '30s', 'a.list': 'x,y', 'c.bool': 'true', 'http-address': '127.0.0.1:1', 'grpc-address': '',
  });
  const parse = rememberRawConfig((raw: unknown) => ({ parsed: raw }));
  const cfg = parse({ bDur: '1m' });
  assert.is(flagValuesOfConfig(cfg, SPECS)['b.dur'], '1m');
  assert.is(flagValuesOfConfig({}, SPECS)['b.dur'], '30s', 'a config not parsed through rememberRawConfig shows the defaults');
});

test('buildInfoJson without a build: version unknown', () => {
  assert.equal(JSON.parse(buildInfoJson(undefined)), { version: 'unknown', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' });
});

test('statusPages: / → /status, the pages and API; other paths and methods 404; handler names', async () => {
  const web = statusPages({ readFile: async (p) => new Uint8Array(await readFile(p)), uiDir: UI_DIR, build: undefined, flags: () => ({ 'x.y': 'z' }) });
  const get = (path: string, method = 'GET') => web.fetch(new Request(`http://h${path}`, { method }));
  const root = await get('/');
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/status');
  for (const p of ['/status', '/flags', '/static/status.js', '/static/style.css']) assert.is((await get(p)).status, 200, p);
  assert.match(await (await get('/status')).text(), 'href="/flags"');
  assert.equal(await (await get('/api/v1/status/flags')).json(), { status: 'success', data: { 'x.y': 'z' } });
  assert.is((await get('/api/v1/status/flags', 'POST')).status, 404);
  for (const p of ['/graph', '/alerts', '/api/v1/query', '/api/v1/status/tsdb']) assert.is((await get(p)).status, 404, p);
  const name = (path: string) => web.http.handlerName(new Request(`http://h${path}`));
  assert.is(name('/api/v1/status/flags'), 'status_flags');
  assert.is(name('/status'), 'react-static');
  assert.is(name('/graph'), undefined);
});

test.run();

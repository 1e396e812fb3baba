// Receive hashrings: the hash is Thanos's (XXH64 vectors from the reference C library libxxhash;
// HashWithPrefix bytes, also past Go's 1 KiB streaming threshold), ketama places series exactly as
// upstream's TestKetamaHashringGet expects (10 sections per node), hashmod as (hash + n) mod #nodes
// over address-sorted endpoints, tenants match per hashring (exact, Go filepath.Match globs, the
// default hashring), and the JSON configuration is Thanos's with bad input refused by name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Label } from '../../lib/labels/mod.ts';
import { xxhash64 } from '../../lib/receive/xxhash64.ts';
import {
  HashmodHashring, KetamaHashring, SingleNodeHashring, globRegExp, hashWithPrefix, newMultiHashring, parseHashringsConfig, type Endpoint,
} from '../../lib/receive/hashring.ts';
import { writeQuorum, determineMode } from '../../lib/receive/forward.ts';

const L = (...kv: string[]): Label[] => {
  const out: Label[] = [];
  for (let i = 0; i < kv.length; i += 2) out.push({ name: kv[i]!, value: kv[i + 1]! });
  return out;
};
const eps = (...a: string[]): Endpoint[] => a.map((address) => ({ address, az: '' }));

test('xxhash64 equals libxxhash XXH64 (seed 0) across lane boundaries', () => {
  const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
  const vectors: Array<[Uint8Array, string]> = [
    [new Uint8Array(0), '17241709254077376921'],
    [hex('61'), '15154266338359012955'],
    [hex('616263'), '4952883123889572249'],
    [hex('6162636465666768'), '4238821247360054455'],
    [hex('6162636465666768696a6b'), '9317425860326684896'],
    [new Uint8Array(31).fill(0x78), '6979749295578388976'],
    [new Uint8Array(32).fill(0x79), '7267155159012462182'],
    [new Uint8Array(33).fill(0x7a), '14205499275651973736'],
    [Uint8Array.from({ length: 768 }, (_, i) => i & 0xff), '10233242924474565487'],
    [new TextEncoder().encode('127.0.0.1:10901:1'), '8475820902648316553'],
  ];
  for (const [b, want] of vectors) assert.is(xxhash64(b).toString(), want, `${b.length} bytes`);
});

test("hashWithPrefix is Thanos's labelpb.HashWithPrefix (tenant 0xff name 0xff value 0xff ...)", () => {
  assert.is(hashWithPrefix('tenant', L('foo', 'bar', 'baz', 'qux')).toString(), '16218428248871064901');
  assert.is(hashWithPrefix('', L('__name__', 'up', 'job', 'prom')).toString(), '14504708185702519619');
  // > 1 KiB: Go switches to a streaming digest over the same bytes; UTF-8 encoded
  assert.is(hashWithPrefix('t-1', L('__name__', 'big', 'v', 'é'.repeat(700))).toString(), '5352729754880133947');
});

test('hashmod: (hash + n) mod #endpoints over endpoints sorted by address', () => {
  const h = new HashmodHashring(eps('node3', 'node1', 'node2'));
  const ts = L('foo', 'bar', 'baz', 'qux');
  // hash mod 3 = 1, so node2, then node3, node1
  assert.equal([0, 1, 2].map((n) => h.getN('tenant', ts, n).address), ['node2', 'node3', 'node1']);
  assert.throws(() => h.getN('tenant', ts, 3), /insufficient nodes; have 3, want 4/);
  assert.throws(() => new HashmodHashring([{ address: 'a:1', az: 'z1' }]), /Hashmod algorithm does not support AZ aware hashring configuration/);
  assert.throws(() => new SingleNodeHashring('x').getN('t', ts, 1), /insufficient nodes; have 1, want 2/);
});

test("ketama: upstream TestKetamaHashringGet's placements (10 sections per node)", () => {
  const nginx = L('pod', 'nginx');
  const cases: Array<[string[], Label[], number, string]> = [
    [['node-1', 'node-2', 'node-3'], nginx, 0, 'node-2'],
    [['node-1', 'node-2', 'node-3'], nginx, 1, 'node-1'],
    [['node-1', 'node-2', 'node-3'], nginx, 2, 'node-3'],
    [['node-1', 'node-3', 'node-2'], nginx, 2, 'node-3'],
    [['node-0', 'node-1', 'node-2', 'node-3'], nginx, 0, 'node-2'],
    [['node-1', 'node-2', 'node-3', 'node-4'], nginx, 0, 'node-2'],
    [['node-1', 'node-2', 'node-3'], L('pod', 'thanos'), 0, 'node-3'],
  ];
  for (const [nodes, ts, n, want] of cases) {
    assert.is(new KetamaHashring(eps(...nodes), n + 1, 10).getN('tenant', ts, n).address, want, `${nodes} n=${n}`);
  }
  assert.throws(() => new KetamaHashring(eps('a', 'b'), 3), /ketama: amount of endpoints needs to be larger than replication factor/);
});

test('ketama: replicas are distinct endpoints; growing 3 → 4 nodes moves about a quarter of the series', () => {
  const r3 = new KetamaHashring(eps('127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'), 3);
  const r4 = new KetamaHashring(eps('127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4'), 3);
  let moved = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    const ts = L('__name__', 'm', 'i', String(i));
    const set = new Set([0, 1, 2].map((n) => r3.getN('t', ts, n).address));
    assert.is(set.size, 3);
    if (r3.getN('t', ts, 0).address !== r4.getN('t', ts, 0).address) moved++;
  }
  assert.ok(moved > N * 0.1 && moved < N * 0.4, `moved ${moved} of ${N}`);
});

test('ketama with zones: the replicas of a series span every zone', () => {
  const zoned: Endpoint[] = [
    { address: 'a1', az: 'a' }, { address: 'a2', az: 'a' }, { address: 'b1', az: 'b' }, { address: 'b2', az: 'b' }, { address: 'c1', az: 'c' }, { address: 'c2', az: 'c' },
  ];
  const h = new KetamaHashring(zoned, 3);
  for (let i = 0; i < 300; i++) {
    const ts = L('i', String(i));
    const zones = new Set([0, 1, 2].map((n) => zoned.find((e) => e.address === h.getN('t', ts, n).address)!.az));
    assert.is(zones.size, 3, `series ${i}`);
  }
});

test('tenants per hashring: exact, glob (Go filepath.Match), default; no match is an error', () => {
  const cfg = parseHashringsConfig(JSON.stringify([
    { hashring: 'globs', tenants: ['t1-*', 't2', 't3-[0-9]'], tenant_matcher_type: 'glob', endpoints: ['node1', 'node2', 'node3'] },
    { hashring: 'exact', tenants: ['team-a'], endpoints: [{ address: 'node7' }] },
    { hashring: 'default', endpoints: ['node4', 'node5', 'node6'], algorithm: 'ketama' },
  ]));
  const h = newMultiHashring('hashmod', 1, cfg);
  const ts = L('foo', 'bar');
  const ring = (t: string) => h.getN(t, ts, 0).address;
  assert.ok(['node1', 'node2', 'node3'].includes(ring('t1-x')));
  assert.ok(['node1', 'node2', 'node3'].includes(ring('t2')));
  assert.ok(['node1', 'node2', 'node3'].includes(ring('t3-7')));
  assert.ok(['node4', 'node5', 'node6'].includes(ring('t3-x')));
  assert.is(ring('team-a'), 'node7');
  assert.ok(['node4', 'node5', 'node6'].includes(ring('suffix-1')));
  assert.equal(h.nodes().map((e) => e.address), ['node1', 'node2', 'node3', 'node4', 'node5', 'node6', 'node7']);
  const only = newMultiHashring('hashmod', 1, parseHashringsConfig('[{"tenants":["a"],"endpoints":["n1"]}]'));
  assert.throws(() => only.getN('b', ts, 0), /no matching hashring to handle tenant/);
  // filepath.Match: '*' and '?' stop at '/', '[^...]' negates, '\' escapes
  assert.ok(globRegExp('t1-*').test('t1-abc'));
  assert.not.ok(globRegExp('t1-*').test('t1-a/b'));
  assert.ok(globRegExp('t?').test('tx'));
  assert.ok(globRegExp('[^a]x').test('bx'));
  assert.not.ok(globRegExp('[^a]x').test('ax'));
  assert.ok(globRegExp('a\\*').test('a*'));
  assert.not.ok(globRegExp('a\\*').test('ab'));
  assert.throws(() => globRegExp('a['), /syntax error in pattern/);
  assert.throws(() => globRegExp('[z-a]'), /syntax error in pattern/);
});

test("configuration: Thanos's JSON; hostile or unsupported input refused by name", () => {
  const c = parseHashringsConfig('[{"hashring":"h","tenants":["x"],"endpoints":["a:1",{"address":"b:1","az":"z"},{"address":"c:1","capnproto_address":"c:19391"}],"algorithm":"ketama"}]');
  assert.equal(c, [{ hashring: 'h', tenants: ['x'], tenantMatcherType: 'exact', algorithm: 'ketama', endpoints: [{ address: 'a:1', az: '' }, { address: 'b:1', az: 'z' }, { address: 'c:1', az: '' }] }]);
  assert.equal(parseHashringsConfig('null'), []);
  const bad: Array<[string, RegExp]> = [
    ['{', /configuration file is not parsable/],
    ['{"endpoints":[]}', /want a JSON array/],
    ['[{"endpoints":["a"],"tenant":["x"]}]', /hashring 0: unknown key "tenant"/],
    ['[{"endpoints":[""]}]', /endpoint address must be set/],
    ['[{"endpoints":[{"addr":"a"}]}]', /unknown key "addr"/],
    ['[{"endpoints":["a","a"]}]', /endpoint "a" listed twice/],
    ['[{"endpoints":["a"],"algorithm":"ketema"}]', /unknown algorithm "ketema"/],
    ['[{"endpoints":["a"],"tenant_matcher_type":"regex"}]', /tenant_matcher_type must be "exact" or "glob"/],
    ['[{"endpoints":["a"],"tenants":["["],"tenant_matcher_type":"glob"}]', /syntax error in pattern/],
    ['[{"endpoints":["a"],"external_labels":{"a":"b"}}]', /external_labels is not implemented yet/],
    ['[{"endpoints":["a"],"shuffle_sharding_config":{"shard_size":2}}]', /shuffle_sharding_config is not implemented yet/],
    ['[{"endpoints":"a"}]', /endpoints must be a list/],
    ['[{"endpoints":[1]}]', /want "host:port"/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseHashringsConfig(text), re, text);
  assert.throws(() => newMultiHashring('hashmod', 1, parseHashringsConfig('[{"hashring":"z","endpoints":[{"address":"a","az":"1"}]}]')), /hashring "z": Hashmod algorithm does not support AZ/);
});

test("quorum and modes as Thanos's writeQuorum and determineMode", () => {
  assert.equal([1, 2, 3, 4, 5].map(writeQuorum), [1, 1, 2, 3, 3]);
  assert.is(determineMode(true, '127.0.0.1:1'), 'RouterIngestor');
  assert.is(determineMode(true, ''), 'RouterOnly');
  assert.is(determineMode(false, '127.0.0.1:1'), 'IngestorOnly');
  assert.is(determineMode(false, ''), 'IngestorOnly');
});

test.run();

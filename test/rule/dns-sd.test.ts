// Thanos's DNS service discovery in the ruler (issue #16): ctx.resolve (checked against the `net`
// grant), the dns+/dnssrv+/dnssrvnoa+ address semantics (SRV through an injected resolver: there is
// no SRV server here), the provider keeping a failed lookup's previous answer, and the ruler in
// process reaching a loopback query API and a loopback Alertmanager through `dns+localhost:PORT`
// (localhost from /etc/hosts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsProvider, EndpointsResolver, parseAlertmanagersConfig, parseDnsAddr, resolveDnsAddr, type DnsResolver } from '../../lib/rules/mod.ts';
import { createRule, parseRuleConfig } from '../../plugins/component/rule/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { PermissionDenied, type ComponentContext, type PermissionRequest } from '../../host/index.ts';
import type { SrvRecord } from '../../lib/sdk/mod.ts';
import { freePort } from '../harness/ports.ts';
import { stubComponentCtx } from '../harness/componentctx.ts';

const fs = nodeFs();

function caps(grant: PermissionRequest) {
  const permissions = new Permissions({ pluginId: 'component:rule', request: { net: true }, grant, grantKey: 'components[0].permissions', grantBaseDir: '/' });
  return createCapabilities({ permissions, log: createLogger({ level: 'error', write: () => {} }), metrics: new Registry() });
}

/** A resolver answering from tables; a name in `fail` rejects as a SERVFAIL would. */
function fakeResolver(a: Record<string, string[]>, srv: Record<string, SrvRecord[]>, fail = new Set<string>()): DnsResolver {
  return (async (name: string, type: 'A' | 'AAAA' | 'SRV') => {
    if (fail.has(name)) throw Object.assign(new Error(`query ${name}: SERVFAIL`), { code: 'ESERVFAIL' });
    if (type === 'SRV') {
      if (!srv[name]) throw Object.assign(new Error(`${name} ENOTFOUND`), { code: 'ENOTFOUND' });
      return srv[name];
    }
    const ips = (a[name] ?? []).filter((ip) => ip.includes(':') === (type === 'AAAA'));
    if (ips.length === 0) throw Object.assign(new Error(`${name} ENOTFOUND`), { code: 'ENOTFOUND' });
    return ips;
  }) as DnsResolver;
}

test('ctx.resolve: A from the hosts file when the grant covers the name; a name the grant does not cover is denied naming the plugins.yaml key', async () => {
  const ok = caps({ net: ['localhost', '127.0.0.1'] });
  assert.ok((await ok.resolve!('localhost', 'A')).includes('127.0.0.1'));
  for (const grant of [['127.0.0.1:*'], ['localhost:9093'], ['example.com']]) {
    try {
      await caps({ net: grant }).resolve!('localhost', 'A');
      assert.unreachable(`resolve allowed with grant ${grant}`);
    } catch (e) {
      assert.instance(e, PermissionDenied, String(e));
      assert.match((e as Error).message, /plugin component:rule called resolve\(localhost\); grant it with components\[0\]\.permissions\.net in plugins\.yaml/);
    }
  }
  // `name:*` covers every port, so it grants the lookup too; a deny entry wins.
  assert.ok((await caps({ net: ['localhost:*'] }).resolve!('localhost', 'A')).length > 0);
  try {
    await caps({ net: { allow: true, deny: ['localhost'] } }).resolve!('localhost', 'A');
    assert.unreachable('deny ignored');
  } catch (e) {
    assert.match((e as Error).message, /denied by components\[0\]\.permissions\.net\.deny/);
  }
  for (const bad of ['', 'a/b', 'localhost:80', 'user@host']) {
    try {
      await ok.resolve!(bad, 'A');
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.match((e as Error).message, /invalid host name/);
    }
  }
  try {
    await ok.resolve!('localhost', 'MX' as 'A');
    assert.unreachable('MX accepted');
  } catch (e) {
    assert.match((e as Error).message, /unsupported record type "MX"/);
  }
});

test('dns+/dnssrv+/dnssrvnoa+ addresses: parsing and what is refused', () => {
  assert.equal(parseDnsAddr('dns+localhost:9090'), { qtype: 'dns', scheme: '', host: 'localhost', port: '9090', rest: '' });
  assert.equal(parseDnsAddr('dns+http://q.example:9090/prefix/'), { qtype: 'dns', scheme: 'http:', host: 'q.example', port: '9090', rest: '/prefix' });
  assert.equal(parseDnsAddr('dnssrv+_http._tcp.am.svc'), { qtype: 'dnssrv', scheme: '', host: '_http._tcp.am.svc', port: '', rest: '' });
  assert.equal(parseDnsAddr('dnssrvnoa+https://_web._tcp.q:8443'), { qtype: 'dnssrvnoa', scheme: 'https:', host: '_web._tcp.q', port: '8443', rest: '' });
  assert.throws(() => parseDnsAddr('dns+localhost'), /missing port in address given for dns lookup: dns\+localhost/);
  assert.throws(() => parseDnsAddr('dns+ftp://h:1'), /unsupported scheme ftp/);
  assert.throws(() => parseDnsAddr('dns+h:99999'), /invalid port "99999"/);
  assert.throws(() => parseDnsAddr('dnssrv+:1'), /invalid host name/);
  assert.throws(() => parseDnsAddr('dns+u@h:1'), /invalid host name/);
  // Flags: accepted with a prefix, malformed ones refused naming the key.
  const c = parseRuleConfig({ queries: ['dnssrv+_http._tcp.q'], alertmanagersUrls: ['dns+http://am:9093'], querySdDnsInterval: '5s' });
  assert.equal(c.queries, ['dnssrv+_http._tcp.q']);
  assert.is(c.queryDnsIntervalMs, 5000);
  assert.is(c.alertmanagersDnsIntervalMs, 30_000);
  assert.throws(() => parseRuleConfig({ queries: ['dns+q'] }), /queries.*missing port/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q:1'], alertmanagersUrls: ['dnssrv+x:y'] }), /alertmanagersUrls.*invalid port/);
  assert.throws(() => parseRuleConfig({ queries: ['http://q:1'], alertmanagersSdDnsInterval: '0s' }), /alertmanagersSdDnsInterval.*positive/);
});

test('resolution semantics (injected resolver): dns+ A/AAAA, dnssrv+ SRV then A/AAAA, dnssrvnoa+ SRV target as is, address port over the record port', async () => {
  const r = fakeResolver(
    { 'q.example': ['10.0.0.1', 'fd00::1'], 'am-0.svc': ['10.0.1.1'], 'am-1.svc': ['10.0.1.2'] },
    { '_web._tcp.am': [{ name: 'am-0.svc', port: 9093, priority: 0, weight: 0 }, { name: 'am-1.svc.', port: 9094, priority: 0, weight: 0 }] },
  );
  assert.equal(await resolveDnsAddr(r, 'dns+q.example:9090'), ['10.0.0.1:9090', '[fd00::1]:9090']);
  assert.equal(await resolveDnsAddr(r, 'dns+http://q.example:9090/p'), ['http://10.0.0.1:9090/p', 'http://[fd00::1]:9090/p']);
  assert.equal(await resolveDnsAddr(r, 'dnssrv+_web._tcp.am'), ['10.0.1.1:9093', '10.0.1.2:9094']);
  assert.equal(await resolveDnsAddr(r, 'dnssrv+_web._tcp.am:8080'), ['10.0.1.1:8080', '10.0.1.2:8080']);
  assert.equal(await resolveDnsAddr(r, 'dnssrvnoa+_web._tcp.am'), ['am-0.svc:9093', 'am-1.svc:9094']);
  // A name that does not exist answers nothing (not an error), as Thanos's resolver.
  assert.equal(await resolveDnsAddr(r, 'dns+nowhere:1'), []);
  assert.equal(await resolveDnsAddr(r, 'dnssrv+_none._tcp'), []);
});

test('provider: re-resolution replaces the set; a failed lookup keeps its previous answer; EndpointsResolver uses it for static_configs', async () => {
  const table: Record<string, string[]> = { 'am.svc': ['10.0.0.1'] };
  const fail = new Set<string>();
  const errors: string[] = [];
  const resolve = fakeResolver(table, {}, fail);
  const [c] = parseAlertmanagersConfig('alertmanagers:\n  - static_configs: ["dns+am.svc:9093", "10.9.9.9:9093"]\n    path_prefix: /am\n');
  const er = new EndpointsResolver(c!, fs, (m) => errors.push(m), resolve);
  assert.equal((await er.targets()).map((t) => t.base), ['http://10.9.9.9:9093/am'], 'nothing resolved before the first lookup');
  await er.refreshDns();
  assert.equal((await er.targets()).map((t) => t.base), ['http://10.0.0.1:9093/am', 'http://10.9.9.9:9093/am']);
  table['am.svc'] = ['10.0.0.2', '10.0.0.3'];
  await er.refreshDns();
  assert.equal((await er.targets()).map((t) => t.base), ['http://10.0.0.2:9093/am', 'http://10.0.0.3:9093/am', 'http://10.9.9.9:9093/am']);
  fail.add('am.svc');
  await er.refreshDns();
  assert.equal((await er.targets()).map((t) => t.base), ['http://10.0.0.2:9093/am', 'http://10.0.0.3:9093/am', 'http://10.9.9.9:9093/am'], 'kept on failure');
  assert.match(errors.join('\n'), /dns lookup of dns\+am\.svc:9093: query am\.svc: SERVFAIL/);
  fail.clear();
  delete table['am.svc'];
  await er.refreshDns();
  assert.equal((await er.targets()).map((t) => t.base), ['http://10.9.9.9:9093/am'], 'a name gone from DNS answers nothing');
  // Without a resolver a DNS address finds nothing, and says why.
  const errs2: string[] = [];
  const none = new EndpointsResolver(c!, fs, (m) => errs2.push(m));
  await none.refreshDns();
  assert.equal((await none.targets()).map((t) => t.base), ['http://10.9.9.9:9093/am']);
  assert.match(errs2.join(''), /no resolve capability/);
  const p = new DnsProvider(resolve);
  await p.refresh(['plain:1']);
  assert.equal(p.addresses(['plain:1', 'dns+x:1']), ['plain:1']);
});

function ctx(dataDir: string, resolve: ComponentContext['resolve'] | undefined): ComponentContext {
  return stubComponentCtx({
    pluginId: 'component:rule',
    dataDir,
    fetch: (input, init) => fetch(input, init),
    ...(resolve ? { resolve } : {}),
    fs,
    addresses: { http: '127.0.0.1:10902' },
  });
}

async function listen(s: Server, port: number): Promise<void> {
  await new Promise<void>((r, j) => { s.once('error', j); s.listen(port, '127.0.0.1', () => r()); });
}

test('the ruler with --query=dns+localhost:PORT and --alertmanagers.url=dns+http://localhost:PORT queries the loopback query API and alerts the loopback Alertmanager', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rule-dns-sd-'));
  const servers: Server[] = [];
  const ac = new AbortController();
  let running: Promise<void> | undefined;
  try {
    const qPort = await freePort();
    const queried: string[] = [];
    servers.push(createServer((req, res) => {
      queried.push(req.headers.host ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { src: 'dns' }, value: [1, '1'] }] } }));
    }));
    await listen(servers[0]!, qPort);
    const amPort = await freePort();
    const alerts: Array<{ path: string; body: Array<{ labels: Record<string, string> }> }> = [];
    servers.push(createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        alerts.push({ path: req.url ?? '', body: JSON.parse(b || '[]') });
        res.writeHead(200).end('');
      });
    }));
    await listen(servers[1]!, amPort);
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: ViaDns\n        expr: vector(1)\n');
    const resolve = caps({ net: ['localhost', '127.0.0.1'] }).resolve;
    const comp = await createRule(ctx(join(dir, 'data'), resolve), parseRuleConfig({
      ruleFiles: [join(dir, 'rules.yml')], evalInterval: '200ms', queries: [`dns+localhost:${qPort}`], alertmanagersUrls: [`dns+http://localhost:${amPort}`],
      querySdDnsInterval: '1s', alertmanagersSdDnsInterval: '1s', resendDelay: '0s',
    }));
    running = comp.run(ac.signal);
    const deadline = Date.now() + 60_000;
    while (!alerts.some((a) => a.body.some((x) => x.labels.alertname === 'ViaDns' && x.labels.src === 'dns')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(alerts.length > 0, 'no alert reached the Alertmanager stub');
    assert.is(alerts[0]!.path, '/api/v2/alerts');
    // The resolved address, not the name, was dialled (the lookup answered 127.0.0.1).
    assert.ok(queried.length > 0 && queried.every((h) => h === `127.0.0.1:${qPort}`), queried.join(','));
  } finally {
    ac.abort();
    await running;
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ruler refuses dns+ flags when the host offers no resolve capability; a grant that does not cover the name denies the lookup', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rule-dns-sd-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), 'groups: []\n');
    try {
      await createRule(ctx(join(dir, 'd1'), undefined), parseRuleConfig({ ruleFiles: [join(dir, 'rules.yml')], queries: ['dns+localhost:1'] }));
      assert.unreachable('accepted');
    } catch (e) {
      assert.match((e as Error).message, /queries.*resolve capability/);
    }
    const errors: string[] = [];
    const c = ctx(join(dir, 'd2'), caps({ net: ['127.0.0.1'] }).resolve);
    c.log = { ...c.log, warn: (msg: string, f?: Record<string, unknown>) => errors.push(`${msg} ${JSON.stringify(f)}`) } as typeof c.log;
    await createRule(c, parseRuleConfig({ ruleFiles: [join(dir, 'rules.yml')], queries: ['dns+localhost:1'] }));
    assert.match(errors.join('\n'), /permission denied: plugin component:rule called resolve\(localhost\); grant it with components\[0\]\.permissions\.net in plugins\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

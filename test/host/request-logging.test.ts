// --request.logging-config(-file): Thanos's request logging (upstream pkg/logging) in the host's
// HTTP and gRPC servers. Real calls over loopback through runGroup; the log lines are captured.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runGroup, type UnitSpec } from '../../host/lifecycle.ts';
import { Permissions } from '../../host/permissions.ts';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { RawGrpcClient } from '../../host/server/grpc.ts';
import { execute, parseCommandLine, planManifest } from '../../host/main.ts';
import { parseManifest } from '../../host/manifest.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { definePlugin, GrpcError, GrpcStatus, type Component } from '../../host/index.ts';
import { expandEnv, goFloat32, parseRequestLoggingConfig, type RequestLogging } from '../../lib/web/reqlog.ts';
import { freePort } from '../harness/ports.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const str = { enc: (s: string) => enc.encode(s), dec: (b: Uint8Array) => dec.decode(b) };

/** Names /api/* requests (as a component's Thanos API routes); /api/fail answers 500. */
const plugin = definePlugin<Record<string, never>>({
  manifest: { id: 'component:reqlog', apiVersion: 1, permissions: {} },
  flags: [],
  parseConfig: () => ({}),
  async setup(): Promise<Component> {
    const unary = (handler: (req: string) => Promise<string>) => ({ kind: 'unary' as const, requestDecode: str.dec, responseEncode: (m: unknown) => str.enc(String(m)), handler });
    return {
      info: () => ({ componentType: 'store', labelSets: [] }),
      http: { handlerName: (req: Request) => { const p = new URL(req.url).pathname; return p.startsWith('/api/') ? p.slice(5) : undefined; } },
      fetch: (req) => {
        const p = new URL(req.url).pathname;
        return new Response(p, { status: p === '/api/fail' ? 500 : p === '/api/missing' ? 404 : 200 });
      },
      grpc: {
        '/test.Svc/Echo': unary(async (r) => `echo:${r}`),
        '/test.Svc/Bad': unary(async () => { throw new GrpcError(GrpcStatus.InvalidArgument, 'bad input'); }),
        '/test.Svc/Broken': unary(async () => { throw new GrpcError(GrpcStatus.Internal, 'it broke'); }),
        '/test.Svc/Count': {
          kind: 'serverStream', requestDecode: (b: Uint8Array) => Number(str.dec(b)), responseEncode: (m: unknown) => str.enc(String(m)),
          async *handler(n: unknown) { for (let i = 0; i < (n as number); i++) yield i; },
        },
      },
      run: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    };
  },
});

/** `cfg` may be built from the HTTP port (the allow-list names it). */
async function start(cfg: RequestLogging | ((httpPort: number) => RequestLogging) | undefined, level: 'debug' | 'info' = 'debug') {
  const [hp, gp] = [await freePort(), await freePort()];
  const requestLogging = typeof cfg === 'function' ? cfg(hp) : cfg;
  const stop = new AbortController();
  const lines: string[] = [];
  const unit: UnitSpec = {
    id: 'reqlog', key: 'components[0]', plugin, config: {},
    permissions: Permissions.all(plugin.manifest.id, plugin.manifest.permissions),
    http: `127.0.0.1:${hp}`, grpc: `127.0.0.1:${gp}`, requestLogging,
  };
  const done = runGroup([unit], {
    log: createLogger({ level, write: (l) => void lines.push(l) }),
    core: async () => createJsCore(), gracePeriodMs: 5000, handleSignals: false, signal: stop.signal,
  });
  const base = `http://127.0.0.1:${hp}`;
  // Ready once gRPC listens (it starts after HTTP and setup).
  for (let i = 0; i < 500 && !lines.some((l) => l.includes('listening for serving gRPC')); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(lines.some((l) => l.includes('listening for serving gRPC')), lines.join(''));
  const client = new RawGrpcClient(`127.0.0.1:${gp}`);
  const get = async (p: string) => { const r = await fetch(`${base}${p}`, { headers: { 'user-agent': 'reqlog-test', 'x-request-id': 'req-1' } }); await r.text(); return r.status; };
  const unaryCall = (m: string) => client.unary(`/test.Svc/${m}`, 'x', str.enc, str.dec, { timeoutMs: 10000, metadata: { 'request-id': 'rid-7' } }).then(() => 'OK', (e: GrpcError) => e.code);
  return {
    hp, lines, get, unaryCall, client,
    requestLines: () => lines.filter((l) => /msg="(started|finished) call"/.test(l)),
    stop: async () => { client.close(); stop.abort(); return done; },
  };
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

// ------------------------------------------------------------ parsing

test('parse: empty = nothing; decisions and level rules as upstream; protocol block overrides options', () => {
  assert.equal(parseRequestLoggingConfig('', 'x'), {});
  assert.equal(parseRequestLoggingConfig('options: {level: ERROR}', 'x'), {}, 'a level without a decision logs nothing');
  const both = parseRequestLoggingConfig('options: {level: INFO, decision: {log_start: false, log_end: true}}', 'x');
  assert.is(both.http?.decision, 'LogFinishCall');
  assert.is(both.grpc?.decision, 'LogFinishCall');
  assert.equal([...both.http!.allow].sort(), ['error', 'info', 'warn']);
  const over = parseRequestLoggingConfig('options: {level: INFO, decision: {log_end: true}}\ngrpc: {options: {level: DEBUG, decision: {log_start: true, log_end: true}}}\nhttp: {options: {level: ERROR, decision: {log_end: false}}}', 'x');
  assert.is(over.grpc?.decision, 'LogStartAndFinishCall');
  assert.is(over.http, undefined, "http's own (non-empty) options turn it off");
  const lists = parseRequestLoggingConfig('options: {level: DEBUG, decision: {log_end: true}}\nhttp: {config: [{path: /api/v1/query, port: 10904}]}\ngrpc: {config: [{service: thanos.Store, method: Info}]}', 'x');
  assert.equal([...lists.http!.only!], ['/api/v1/query:10904']);
  assert.equal([...lists.grpc!.only!], ['/thanos.Store/Info']);
  // Upstream's getLevel matches "WARN", which validateLevel refuses: WARNING lets every level through.
  assert.equal([...parseRequestLoggingConfig('http: {options: {level: WARNING, decision: {log_end: true}}}', 'x').http!.allow].sort(), ['debug', 'error', 'info', 'warn']);
});

test('parse: invalid configurations are refused with upstream texts', () => {
  const bad: Array<[string, RegExp]> = [
    ['options: {level: ERROR, decisions: {}}', /x: options: field decisions not found/],
    ['http: {options: {}, configs: []}', /field configs not found/],
    ['grpc: {config: [{service: a, method: b, extra: 1}]}', /grpc\.config\[0\]: field extra not found/],
    ['bogus: 1', /field bogus not found/],
    ['options: {level: ERROR}\noptions: {level: INFO}', /x(:\d+)?: invalid YAML: Map keys must be unique/],
    ['options: {decision: {log_end: true}}', /options: level field is empty/],
    ['http: {options: {level: TRACE, decision: {log_end: true}}}', /the format of level is invalid\. Expected INFO\/DEBUG\/ERROR\/WARNING, got this TRACE/],
    ['http: {options: {level: debug, decision: {log_end: true}}}', /got this debug/],
    ['http: {options: {level: INFO, decision: {log_start: true}}}', /log start call is not supported/],
    ['grpc: {options: {level: INFO, decision: {log_start: true}}}', /log decision combination is not supported/],
    ['options: {level: INFO, decision: {log_end: maybe}}', /expected a boolean/],
    ['http: {config: [{path: /a, port: -1}]}', /port: expected a port number/],
    ['- a', /must be a mapping/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseRequestLoggingConfig(text, 'x'), re, text);
});

test('time_ms as Go prints a float32 with %v (shortest round-trip form)', () => {
  assert.is(goFloat32(2498.231), '2498.231');
  assert.is(goFloat32(0.012), '0.012');
  assert.is(goFloat32(0), '0');
  assert.is(goFloat32(16777217), '1.6777216e+07');
  assert.is(goFloat32(999999), '999999');
  assert.is(goFloat32(1500000), '1.5e+06');
});

test('env substitution: $(NAME) replaced, an unset one is an error', () => {
  assert.is(expandEnv('level: $(LVL)', (n) => (n === 'LVL' ? 'INFO' : undefined)), 'level: INFO');
  assert.throws(() => expandEnv('level: $(NOPE)', () => undefined), /unset environment variable "NOPE"/);
});

// ------------------------------------------------------------ HTTP

test('HTTP: start and finish lines for named requests with Thanos fields; probes and unnamed paths not logged', async () => {
  const s = await start(parseRequestLoggingConfig('http: {options: {level: DEBUG, decision: {log_start: true, log_end: true}}}', 't'));
  try {
    assert.is(await s.get('/api/ok?x=1'), 200);
    assert.is(await s.get('/api/fail'), 500);
    assert.is(await s.get('/other'), 200);
    assert.is(await s.get('/-/healthy'), 200);
  } finally {
    await s.stop();
  }
  const r = s.requestLines();
  assert.is(r.length, 4, r.join(''));
  assert.match(r[0]!, /level=debug component=reqlog protocol=http http\.component=server msg="started call" http\.start_time=\S+ http\.method="GET \/api\/ok\?x=1" http\.request_id=req-1 http\.user_agent=reqlog-test thanos\.method_name=ok/);
  assert.match(r[1]!, /level=debug .*msg="finished call" http\.method="GET \/api\/ok\?x=1" http\.request_id=req-1 http\.user_agent=reqlog-test http\.status_code=200 http\.time_ms=[0-9.e-]+ http\.remote_addr=127\.0\.0\.1:\d+ thanos\.method_name=ok\n$/);
  assert.match(r[3]!, /level=error .*msg="finished call" http\.method="GET \/api\/fail" .*http\.status_code=500 /);
  assert.ok(!s.lines.some((l) => /healthy|\/other/.test(l) && /call"/.test(l)));
});

test('HTTP: level ERROR with log_end only logs just the failed requests', async () => {
  const s = await start(parseRequestLoggingConfig('options: {level: ERROR, decision: {log_end: true}}', 't'));
  try {
    assert.is(await s.get('/api/ok'), 200);
    assert.is(await s.get('/api/missing'), 404);
    assert.is(await s.get('/api/fail'), 500);
  } finally {
    await s.stop();
  }
  const r = s.requestLines().filter((l) => l.includes('protocol=http'));
  assert.is(r.length, 1, r.join(''));
  assert.match(r[0]!, /level=error .*msg="finished call" http\.method="GET \/api\/fail" .*http\.status_code=500/);
});

test('HTTP: the config allow-list matches "<path>:<port>" of the Host header exactly', async () => {
  const s = await start((hp) => parseRequestLoggingConfig(`http: {options: {level: DEBUG, decision: {log_end: true}}, config: [{path: /api/ok, port: ${hp}}, {path: /api/fail}]}`, 't'));
  try {
    assert.is(await s.get('/api/ok'), 200);
    assert.is(await s.get('/api/ok?q=1'), 200); // upstream compares the whole URL: not listed
    assert.is(await s.get('/api/fail'), 500); // listed with port 0: never matches
  } finally {
    await s.stop();
  }
  const r = s.requestLines().filter((l) => l.includes('protocol=http'));
  assert.is(r.length, 1, r.join(''));
  assert.match(r[0]!, /http\.method="GET \/api\/ok" .*http\.status_code=200/);
});

// ------------------------------------------------------------ gRPC

test('gRPC: start and finish lines with go-grpc-middleware fields; error level for Internal', async () => {
  const s = await start(parseRequestLoggingConfig('grpc: {options: {level: INFO, decision: {log_start: true, log_end: true}}}', 't'));
  try {
    assert.is(await s.unaryCall('Echo'), 'OK');
    assert.is(await s.unaryCall('Bad'), GrpcStatus.InvalidArgument);
    assert.is(await s.unaryCall('Broken'), GrpcStatus.Internal);
    const got: number[] = [];
    for await (const v of s.client.serverStream('/test.Svc/Count', 3, (n: number) => str.enc(String(n)), (b) => Number(str.dec(b)), {})) got.push(v);
    assert.equal(got, [0, 1, 2]);
  } finally {
    await s.stop();
  }
  const r = s.requestLines().filter((l) => l.includes('protocol=grpc'));
  const echo = r.filter((l) => l.includes('grpc.method=Echo'));
  assert.is(echo.length, 2, r.join(''));
  assert.match(echo[0]!, /level=debug component=reqlog service=gRPC\/server msg="started call" requestID=rid-7 protocol=grpc grpc\.component=server grpc\.service=test\.Svc grpc\.method=Echo grpc\.method_type=unary peer\.address=\S+ grpc\.start_time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ grpc\.request\.deadline=\S+ grpc\.time_ms=\S+\n$/);
  assert.match(echo[1]!, /level=debug .*msg="finished call" .*grpc\.method=Echo .*grpc\.code=OK grpc\.time_ms=\S+\n$/);
  assert.match(r.find((l) => l.includes('grpc.method=Bad') && l.includes('finished'))!, /level=debug .*grpc\.code=InvalidArgument grpc\.error="rpc error: code = InvalidArgument desc = bad input"/);
  assert.match(r.find((l) => l.includes('grpc.method=Broken') && l.includes('finished'))!, /level=error .*grpc\.code=Internal grpc\.error="rpc error: code = Internal desc = it broke"/);
  const count = r.filter((l) => l.includes('grpc.method=Count'));
  assert.is(count.length, 2);
  assert.match(count[1]!, /grpc\.method_type=server_stream .*grpc\.code=OK/);
});

test('gRPC: the config allow-list logs only the listed methods; log_end only', async () => {
  const s = await start(parseRequestLoggingConfig('grpc: {options: {level: ERROR, decision: {log_end: true}}, config: [{service: test.Svc, method: Broken}]}', 't'));
  try {
    await s.unaryCall('Echo');
    await s.unaryCall('Broken');
  } finally {
    await s.stop();
  }
  const r = s.requestLines().filter((l) => l.includes('protocol=grpc'));
  assert.is(r.length, 1, r.join(''));
  assert.match(r[0]!, /level=error .*msg="finished call" .*grpc\.method=Broken .*grpc\.code=Internal/);
});

test('no configuration: no request lines at all', async () => {
  const s = await start(undefined);
  try {
    await s.get('/api/ok');
    await s.get('/api/fail');
    await s.unaryCall('Broken');
  } finally {
    await s.stop();
  }
  assert.equal(s.requestLines(), []);
});

// ------------------------------------------------------------ command line

test('command line: an invalid configuration stops the component before it starts; both flags at once; compact refuses', async () => {
  await rejects(
    execute(await parseCommandLine(['query', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0', '--request.logging-config=options: {level: LOUD, decision: {log_end: true}}'])),
    /request logging config: --request\.logging-config: the format of level is invalid/,
  );
  await rejects(
    execute(await parseCommandLine(['store', '--request.logging-config-file=/nonexistent/reqlog.yml'])),
    /--request\.logging-config-file: cannot read \/nonexistent\/reqlog\.yml: ENOENT/,
  );
  await rejects(parseCommandLine(['sidecar', '--request.logging-config=a: 1', '--request.logging-config-file=x.yml']), /give only one of --request\.logging-config-file and --request\.logging-config/);
  // query-frontend logs its requests (all named "query-frontend", as upstream's middleware names them).
  const qf = await parseCommandLine(['query-frontend', '--query-frontend.downstream-url=http://127.0.0.1:9', '--request.logging-config=http: {options: {level: DEBUG, decision: {log_end: true}}}']);
  assert.is(qf.kind === 'component' ? qf.host.requestLoggingConfig : undefined, 'http: {options: {level: DEBUG, decision: {log_end: true}}}');
  await rejects(parseCommandLine(['compact', '--request.logging-config=options: {}']), /flag --request\.logging-config is not a flag of thanos compact/);
  await rejects(parseCommandLine(['tools', 'bucket', 'ls', '--request.logging-config=options: {}']), /flag --request\.logging-config is not accepted by/);
});

// ------------------------------------------------------------ plugins.yaml

test('plugins.yaml: requestLoggingConfig inline or requestLoggingConfigFile (relative to the manifest); errors name file, line and key', async () => {
  const log = createLogger({ level: 'error' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reqlog-'));
  try {
    const entry = (extra: string) => `apiVersion: 1\ncomponents:\n  - id: q\n    use: query\n    http: 127.0.0.1:10904\n${extra}`;
    const inline = await planManifest(parseManifest(entry('    requestLoggingConfig:\n      grpc: { options: { level: INFO, decision: { log_start: true, log_end: true } } }\n'), path.join(dir, 'plugins.yaml')), log);
    assert.is(inline[0]!.requestLogging?.grpc?.decision, 'LogStartAndFinishCall');
    assert.is(inline[0]!.requestLogging?.http, undefined);
    fs.writeFileSync(path.join(dir, 'reqlog.yml'), 'http:\n  options: { level: DEBUG, decision: { log_end: true } }\n');
    const file = await planManifest(parseManifest(entry('    requestLoggingConfigFile: ./reqlog.yml\n'), path.join(dir, 'plugins.yaml')), log);
    assert.is(file[0]!.requestLogging?.http?.decision, 'LogFinishCall');
    await rejects(planManifest(parseManifest(entry('    requestLoggingConfig:\n      http: { options: { level: LOUD, decision: { log_end: true } } }\n'), path.join(dir, 'plugins.yaml')), log),
      /plugins\.yaml:6: components\[0\]\.requestLoggingConfig: requestLoggingConfig: the format of level is invalid/);
    await rejects(planManifest(parseManifest(entry('    requestLoggingConfigFile: ./missing.yml\n'), path.join(dir, 'plugins.yaml')), log),
      /components\[0\]\.requestLoggingConfigFile: cannot read .*missing\.yml: ENOENT/);
    await rejects(planManifest(parseManifest(entry('    config: { requestLoggingConfigFile: ./reqlog.yml }\n'), path.join(dir, 'plugins.yaml')), log),
      /components\[0\]\.config\.requestLoggingConfigFile: is a host setting/);
    await rejects(planManifest(parseManifest('apiVersion: 1\ncomponents:\n  - id: c\n    use: compact\n    requestLoggingConfig: { options: {} }\n', path.join(dir, 'plugins.yaml')), log),
      /components\[0\]\.requestLoggingConfig: requestLoggingConfig is the manifest's --request\.logging-config, which is not a flag of thanos compact/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

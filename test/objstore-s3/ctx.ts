// A minimal Capabilities for provider tests: real fetch limited to an allow-list of host:port,
// env from a map, a log that records lines. (The host builds the real one from plugins.yaml.)
import type { Capabilities, Logger } from '../../host/index.ts';
import { PermissionDenied } from '../../host/index.ts';
import { readFile } from 'node:fs/promises';

export interface TestCtx extends Capabilities {
  lines: Array<{ level: string; msg: string; kv?: Record<string, unknown> }>;
  requests: Array<{ method: string; url: string }>;
}

export function testCtx(opts: { net?: string[]; env?: Record<string, string>; pluginId?: string } = {}): TestCtx {
  const pluginId = opts.pluginId ?? 'objstore:test';
  const lines: TestCtx['lines'] = [];
  const requests: TestCtx['requests'] = [];
  const mkLog = (base: Record<string, unknown>): Logger => ({
    debug: (msg, kv) => void lines.push({ level: 'debug', msg, kv: { ...base, ...kv } }),
    info: (msg, kv) => void lines.push({ level: 'info', msg, kv: { ...base, ...kv } }),
    warn: (msg, kv) => void lines.push({ level: 'warn', msg, kv: { ...base, ...kv } }),
    error: (msg, kv) => void lines.push({ level: 'error', msg, kv: { ...base, ...kv } }),
    with: (kv) => mkLog({ ...base, ...kv }),
  });
  const unsupported = (api: string) => () => { throw new Error(`test ctx: ${api} not available`); };
  return {
    pluginId,
    lines,
    requests,
    async fetch(input, init) {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
      if (opts.net && !opts.net.includes(hostPort)) throw new PermissionDenied(pluginId, 'fetch', hostPort, 'permissions.net');
      // Tests talk to loopback only: the credential chain's default instance-metadata and ECS
      // addresses (169.254.x) are never a target, whatever a test's grant says.
      if (!/^(127\.|localhost$|\[::1\]$)/.test(url.hostname) && !opts.net) throw new PermissionDenied(pluginId, 'fetch', hostPort, 'permissions.net');
      requests.push({ method: init?.method ?? (input instanceof Request ? input.method : 'GET'), url: url.href });
      return fetch(input, init);
    },
    listen: unsupported('listen') as never,
    connect: unsupported('connect') as never,
    grpcDial: unsupported('grpcDial') as never,
    fs: {
      readFile: async (p: string) => new Uint8Array(await readFile(p)),
    } as unknown as Capabilities['fs'],
    env: {
      get(name: string) {
        if (!opts.env) throw new PermissionDenied(pluginId, 'env.get', name, 'permissions.env');
        return opts.env[name];
      },
    },
    log: mkLog({}),
    metrics: {
      counter: () => ({ inc() {} }),
      gauge: () => ({ set() {}, inc() {}, dec() {} }),
      histogram: () => ({ observe() {} }),
    },
  };
}

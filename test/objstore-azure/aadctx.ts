// Capabilities for the Azure AD tests: test/objstore-s3/ctx.ts's (net allow-list, env from a map,
// recorded log lines) with a fetch that
//   - trusts the test CA, as a machine whose system trust store held it would (the plugin's token
//     requests use the plain fetch, like Thanos's azidentity clients use Go's default transport);
//   - resolves the virtual-hosted blob endpoint https://<account>.blob.test:<port> to azurite on
//     127.0.0.1 (path-style, the account as the first path segment), as DNS would for Azure, and the
//     hosts in `resolve` (login.microsoftonline.com:443 -> the fake identity platform);
//   - records each request's Authorization header (the tests check the bearer token on blob requests).
import { PermissionDenied } from '../../host/index.ts';
import { Permissions } from '../../host/permissions.ts';
import { createCapabilities } from '../../host/capabilities.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { testCtx, type TestCtx } from '../objstore-s3/ctx.ts';

export const BLOB_DOMAIN = 'blob.test';

export interface AadTestCtx extends TestCtx {
  sent: Array<{ method: string; url: string; authorization: string | null; denied: boolean }>;
}

export function aadCtx(o: { net: string[]; env?: Record<string, string>; caPem: string; account: string; resolve?: Record<string, string> }): AadTestCtx {
  const base = testCtx({ net: o.net, env: o.env }) as AadTestCtx;
  const transport = createCapabilities({
    permissions: Permissions.all('objstore:transport', { net: true }),
    log: createLogger({ level: 'error' }),
    metrics: new Registry(),
  }).httpClient!({ caPem: o.caPem });
  base.sent = [];
  base.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
    const method = init?.method ?? 'GET';
    base.sent.push({ method, url: url.href, authorization: new Headers(init?.headers).get('authorization'), denied: !o.net.includes(hostPort) });
    if (!o.net.includes(hostPort)) throw new PermissionDenied(base.pluginId, 'fetch', hostPort, 'permissions.net');
    base.requests.push({ method, url: url.href });
    if (url.hostname === `${o.account}.${BLOB_DOMAIN}`) {
      url.hostname = '127.0.0.1';
      url.pathname = `/${o.account}${url.pathname}`;
    }
    const to = o.resolve?.[hostPort];
    if (to) url.host = to;
    return transport(url.href, init);
  };
  return base;
}

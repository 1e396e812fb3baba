// gRPC dial targets (grpc-js's grammar): the host:port pairs a target connects to, for the
// host's `net` permission check and the dial itself.
import { splitHostPort } from './hostport.ts';

/**
 * The host:port descriptors a gRPC target connects to, for the `net` check: `host:port`,
 * `[v6]:port`, `dns:host:port`, `dns:///host:port`, `dns://authority/host:port`, `ipv4:a:p,b:p`,
 * `ipv6:[a]:p,...`; no port means 443 (grpc-js's default). Other schemes (unix:, ...) are refused.
 */
export function grpcTargetHostPorts(target: string): string[] {
  let rest = target;
  let list = false;
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\d+$)/i.exec(rest);
  if (scheme && !/^\[/.test(rest)) {
    const s = scheme[1]!.toLowerCase();
    if (s === 'dns') {
      rest = rest.slice(4);
      if (rest.startsWith('//')) rest = rest.slice(rest.indexOf('/', 2) + 1);
    } else if (s === 'ipv4' || s === 'ipv6') {
      rest = rest.slice(5);
      list = true;
    } else if (!/^[^:]+:\d+$/.test(target)) {
      throw new Error(`gRPC target "${target}": scheme ${s}: is not supported (use host:port, dns:, ipv4: or ipv6:)`);
    }
  }
  return (list ? rest.split(',') : [rest]).map((a) => {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
    if (v6) return `[${v6[1]}]:${v6[2] ?? '443'}`;
    const hp = /^([^:/]+)(?::(\d+))?$/.exec(a);
    if (hp) return `${hp[1]}:${hp[2] ?? '443'}`;
    if (a.includes(':') && !a.includes('/')) return `[${a}]:443`; // bare IPv6 address
    throw new Error(`gRPC target "${target}": cannot tell its host:port`);
  });
}

/** The host name a target dials (for TLS verification when no server name is given). */
export function targetHost(target: string): string {
  return splitHostPort(grpcTargetHostPorts(target)[0]!).hostname;
}

// Thanos's DNS service discovery (pkg/discovery/dns) for the ruler's query and Alertmanager
// addresses: `dns+host:port` (A/AAAA lookup, port from the address), `dnssrv+name` (SRV lookup, then
// A/AAAA of each target, port from the record unless the address gives one) and `dnssrvnoa+name`
// (SRV lookup, the target name used as is, no A/AAAA lookup). An optional scheme
// (`dns+http://host:port`) is kept on the answers. As in Thanos's provider, a lookup that fails keeps
// the address's previous answer; a name that does not exist answers nothing.
import type { Counter, DnsRecordType, SrvRecord } from '../sdk/mod.ts';

/** pkg/discovery/dns's provider counters, under the owner's prefix (e.g. thanos_rule_query_apis_). */
export interface DnsMetrics {
  lookups: Counter;
  failures: Counter;
}

export function dnsMetrics(m: { counter(name: string, help: string): Counter }, prefix: string): DnsMetrics {
  return {
    lookups: m.counter(`${prefix}dns_lookups_total`, 'The number of DNS lookups resolutions attempts'),
    failures: m.counter(`${prefix}dns_failures_total`, 'The number of DNS lookup failures'),
  };
}

export type DnsQType = 'dns' | 'dnssrv' | 'dnssrvnoa';

/** Capabilities.resolve's shape: A/AAAA give addresses, SRV gives records. */
export type DnsResolver = {
  (name: string, type: 'A' | 'AAAA'): Promise<string[]>;
  (name: string, type: 'SRV'): Promise<SrvRecord[]>;
};

export interface DnsAddr {
  qtype: DnsQType;
  /** `http:` style prefix kept on the answers ('' when none). */
  scheme: string;
  host: string;
  port: string;
  /** What follows host:port in a URL (a path prefix), kept on the answers. */
  rest: string;
}

const PREFIX = /^(dns|dnssrv|dnssrvnoa)\+/;

export function isDnsAddr(a: string): boolean {
  return PREFIX.test(a);
}

/** Splits `dns+[scheme://]host[:port][/path]`; throws on a malformed address (and on dns+ without a port, as Thanos). */
export function parseDnsAddr(addr: string): DnsAddr {
  const m = PREFIX.exec(addr);
  if (!m) throw new Error(`${JSON.stringify(addr)} has no dns+, dnssrv+ or dnssrvnoa+ prefix`);
  const qtype = m[1] as DnsQType;
  let rest = addr.slice(m[0].length);
  let scheme = '';
  const sm = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(rest);
  if (sm) {
    scheme = sm[1]!.toLowerCase();
    if (scheme !== 'http:' && scheme !== 'https:') throw new Error(`${JSON.stringify(addr)}: unsupported scheme ${scheme.slice(0, -1)} (http and https only)`);
    rest = rest.slice(sm[0].length);
  }
  const slash = rest.indexOf('/');
  const hostPart = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash).replace(/\/+$/, '');
  let host = hostPart;
  let port = '';
  const v6 = /^\[([^\]]+)\](?::(\d*))?$/.exec(hostPart);
  if (v6) {
    host = v6[1]!;
    port = v6[2] ?? '';
  } else {
    const i = hostPart.lastIndexOf(':');
    if (i >= 0) {
      host = hostPart.slice(0, i);
      port = hostPart.slice(i + 1);
    }
  }
  if (host === '' || /[\s/@?#[\]]/.test(host) || (!v6 && host.includes(':'))) throw new Error(`${JSON.stringify(addr)}: invalid host name`);
  if (port !== '' && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535)) throw new Error(`${JSON.stringify(addr)}: invalid port ${JSON.stringify(port)}`);
  if (qtype === 'dns' && port === '') throw new Error(`missing port in address given for dns lookup: ${addr}`);
  return { qtype, scheme, host, port, rest: path };
}

function join(a: DnsAddr, host: string, port: string | number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${a.scheme ? `${a.scheme}//` : ''}${h}:${port}${a.rest}`;
}

const NO_SUCH_HOST = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NODATA', 'EAI_NONAME', 'NXDOMAIN']);

async function ips(resolve: DnsResolver, host: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of ['A', 'AAAA'] as const) {
    try {
      out.push(...(await resolve(host, t)));
    } catch (e) {
      // A name without records of one family is not a failure (Go's LookupIPAddr asks for both).
      if (!NO_SUCH_HOST.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  return out;
}

/** One address's answers (`host:port`, with the scheme and path when given). Throws when a lookup fails. */
export async function resolveDnsAddr(resolve: DnsResolver, addr: string): Promise<string[]> {
  const a = parseDnsAddr(addr);
  if (a.qtype === 'dns') return [...new Set((await ips(resolve, a.host)).map((ip) => join(a, ip, a.port)))];
  let recs: SrvRecord[];
  try {
    recs = await resolve(a.host, 'SRV');
  } catch (e) {
    if (NO_SUCH_HOST.has((e as NodeJS.ErrnoException).code ?? '')) return [];
    throw e;
  }
  const out: string[] = [];
  for (const r of recs) {
    // Thanos: the record's port only when the address gives none.
    const port = a.port || String(r.port);
    const target = r.name.replace(/\.$/, '');
    if (a.qtype === 'dnssrvnoa') out.push(join(a, target, port));
    else for (const ip of await ips(resolve, target)) out.push(join(a, ip, port));
  }
  return [...new Set(out)];
}

/**
 * Thanos's dns.Provider: resolve(addrs) re-resolves every DNS address (others pass through) and
 * replaces the answer set; an address whose lookup fails keeps its previous answers (logged).
 */
export class DnsProvider {
  private answers = new Map<string, string[]>();

  constructor(private readonly resolve: DnsResolver, private readonly onError: (msg: string) => void = () => {}, private readonly metrics?: DnsMetrics) {}

  async refresh(addrs: string[]): Promise<void> {
    const next = new Map<string, string[]>();
    await Promise.all([...new Set(addrs)].filter(isDnsAddr).map(async (a) => {
      try {
        this.metrics?.lookups.inc();
        next.set(a, await resolveDnsAddr(this.resolve, a));
      } catch (e) {
        this.metrics?.failures.inc();
        this.onError(`dns lookup of ${a}: ${(e as Error).message}`);
        const prev = this.answers.get(a);
        if (prev) next.set(a, prev);
      }
    }));
    this.answers = next;
  }

  /** The addresses for `addrs` now: DNS ones replaced by their last answers, others as given. */
  addresses(addrs: string[]): string[] {
    return [...new Set(addrs.flatMap((a) => (isDnsAddr(a) ? this.answers.get(a) ?? [] : [a])))];
  }
}

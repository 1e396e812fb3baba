// Thanos receive hashrings (pkg/receive/hashring.go, config.go): the JSON configuration of
// --receive.hashrings-file / --receive.hashrings, and the two algorithms that map (tenant, series,
// replica n) to the receiver that stores it:
// - hashmod: endpoints sorted by address, node = (xxhash(tenant, labels) + n) mod #endpoints;
// - ketama: 1000 sections per endpoint at xxhash("<address>:<i>"), the series goes to the first
//   section at or after its hash; replica n is the n-th distinct endpoint walking on (spread over
//   availability zones when endpoints name one).
// Both hash exactly as Thanos does (XXH64 of tenant 0xff name 0xff value 0xff ...), so a ring of ours
// and a ring of Go Thanos routers place every series on the same receivers.
// A tenant goes to the first hashring whose tenants list matches it (exact, or glob with
// tenant_matcher_type "glob"); a hashring without tenants matches every tenant.
import type { Label } from '../labels/mod.ts';
import { xxhash64 } from './xxhash64.ts';
import { RE2JS } from 're2js';

export type HashringAlgorithm = 'hashmod' | 'ketama';
export const HASHRING_ALGORITHMS: readonly HashringAlgorithm[] = ['hashmod', 'ketama'];
/** Sections per endpoint on a ketama ring (Thanos's SectionsPerNode). */
export const SECTIONS_PER_NODE = 1000;

export interface Endpoint {
  /** gRPC host:port of the receiver (its thanos.WriteableStore). */
  address: string;
  /** Availability zone; ketama spreads replicas over zones. */
  az: string;
}

export interface HashringConfig {
  hashring: string;
  tenants: string[];
  tenantMatcherType: 'exact' | 'glob';
  endpoints: Endpoint[];
  /** Overrides --receive.hashrings-algorithm for this hashring. */
  algorithm?: HashringAlgorithm;
}

export class HashringConfigError extends Error {}

/** A receiver's place for (tenant, series, n): n = 0 .. replication factor - 1. */
export interface Hashring {
  getN(tenant: string, labels: readonly Label[], n: number): Endpoint;
  /**
   * getN with the series' hashWithPrefix(tenant, labels) computed by the caller: the router hashes
   * each series once for all its replicas (XXH64 on BigInt is the costly part).
   */
  getNHashed(tenant: string, hash: bigint, n: number): Endpoint;
  /** Every endpoint, sorted by address (may repeat across hashrings). */
  nodes(): Endpoint[];
}

export class InsufficientNodesError extends Error {
  constructor(have: number, want: number) {
    super(`insufficient nodes; have ${have}, want ${want}`);
  }
}

export class NoMatchingHashringError extends Error {
  constructor() {
    super('no matching hashring to handle tenant');
  }
}

// ---------------------------------------------------------------------------------------------
// hashing

const enc = new TextEncoder();
let scratch = new Uint8Array(1024);

/** Thanos's labelpb.HashWithPrefix: XXH64 of prefix 0xff (name 0xff value 0xff)*, labels in the order given. */
export function hashWithPrefix(prefix: string, labels: readonly Label[]): bigint {
  let n = 0;
  const put = (s: string) => {
    // worst case 3 bytes per UTF-16 unit, plus the separator
    if (n + s.length * 3 + 1 > scratch.length) {
      const next = new Uint8Array(Math.max(scratch.length * 2, n + s.length * 3 + 1));
      next.set(scratch.subarray(0, n));
      scratch = next;
    }
    n += enc.encodeInto(s, scratch.subarray(n)).written;
    scratch[n++] = 0xff;
  };
  put(prefix);
  for (const l of labels) {
    put(l.name);
    put(l.value);
  }
  return xxhash64(scratch.subarray(0, n));
}

// ---------------------------------------------------------------------------------------------
// rings

const byAddress = (a: Endpoint, b: Endpoint) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);

/** --receive.hashrings absent: every series is this node's (Thanos's SingleNodeHashring). */
export class SingleNodeHashring implements Hashring {
  constructor(private readonly address: string) {}
  getN(_tenant: string, _labels: readonly Label[], n: number): Endpoint {
    return this.getNHashed(_tenant, 0n, n);
  }
  getNHashed(_tenant: string, _hash: bigint, n: number): Endpoint {
    if (n > 0) throw new InsufficientNodesError(1, n + 1);
    return { address: this.address, az: '' };
  }
  nodes(): Endpoint[] {
    return [{ address: this.address, az: '' }];
  }
}

export class HashmodHashring implements Hashring {
  private readonly eps: Endpoint[];
  constructor(endpoints: readonly Endpoint[]) {
    if (endpoints.some((e) => e.az !== '')) throw new HashringConfigError('Hashmod algorithm does not support AZ aware hashring configuration. Either use Ketama or remove AZ configuration.');
    this.eps = [...endpoints].sort(byAddress);
  }
  getN(tenant: string, labels: readonly Label[], n: number): Endpoint {
    const len = this.eps.length;
    if (n >= len) throw new InsufficientNodesError(len, n + 1);
    return this.getNHashed(tenant, hashWithPrefix(tenant, labels), n);
  }
  getNHashed(_tenant: string, hash: bigint, n: number): Endpoint {
    const len = this.eps.length;
    if (n >= len) throw new InsufficientNodesError(len, n + 1);
    // (hash + n) wraps at 2^64 in Go's uint64 arithmetic.
    return this.eps[Number(BigInt.asUintN(64, hash + BigInt(n)) % BigInt(len))]!;
  }
  nodes(): Endpoint[] {
    return this.eps;
  }
}

export class KetamaHashring implements Hashring {
  private readonly hashes: BigUint64Array;
  /** replicas[i * rf + n]: endpoint index of replica n for section i. */
  private readonly replicas: Uint32Array;
  private readonly rf: number;

  constructor(private readonly eps: readonly Endpoint[], replicationFactor: number, sectionsPerNode = SECTIONS_PER_NODE) {
    if (eps.length < replicationFactor) throw new HashringConfigError('ketama: amount of endpoints needs to be larger than replication factor');
    const total = eps.length * sectionsPerNode;
    const raw = new BigUint64Array(total);
    const owner = new Uint32Array(total);
    let k = 0;
    for (let e = 0; e < eps.length; e++) {
      for (let i = 1; i <= sectionsPerNode; i++) {
        raw[k] = xxhash64(enc.encode(`${eps[e]!.address}:${i}`));
        owner[k++] = e;
      }
    }
    const order = Array.from({ length: total }, (_, i) => i).sort((a, b) => (raw[a]! < raw[b]! ? -1 : raw[a]! > raw[b]! ? 1 : 0));
    this.hashes = new BigUint64Array(total);
    const secOwner = new Uint32Array(total);
    order.forEach((src, dst) => {
      this.hashes[dst] = raw[src]!;
      secOwner[dst] = owner[src]!;
    });
    this.rf = replicationFactor;
    this.replicas = new Uint32Array(total * replicationFactor);
    // Thanos's calculateSectionReplicas: walk the ring from each section, take distinct endpoints,
    // skipping an endpoint whose zone already holds more replicas than the least occupied zone.
    const zones = [...new Set(eps.map((e) => e.az))];
    for (let i = 0; i < total; i++) {
      const taken = new Set<number>();
      const spread = new Map<string, number>(zones.map((z) => [z, 0]));
      let j = i - 1;
      while (taken.size < replicationFactor) {
        j = (j + 1) % total;
        const e = secOwner[j]!;
        if (taken.has(e)) continue;
        const az = eps[e]!.az;
        if (spread.size > 1) {
          const have = spread.get(az) ?? 0;
          if (have > 0 && have > Math.min(...spread.values())) continue;
        }
        this.replicas[i * replicationFactor + taken.size] = e;
        taken.add(e);
        spread.set(az, (spread.get(az) ?? 0) + 1);
      }
    }
  }

  getN(tenant: string, labels: readonly Label[], n: number): Endpoint {
    if (n >= this.eps.length) throw new InsufficientNodesError(this.eps.length, n + 1);
    if (n >= this.rf) throw new InsufficientNodesError(this.rf, n + 1);
    return this.getNHashed(tenant, hashWithPrefix(tenant, labels), n);
  }

  getNHashed(_tenant: string, v: bigint, n: number): Endpoint {
    if (n >= this.eps.length) throw new InsufficientNodesError(this.eps.length, n + 1);
    if (n >= this.rf) throw new InsufficientNodesError(this.rf, n + 1);
    // first section with hash >= v (sort.Search), wrapping to 0
    let lo = 0;
    let hi = this.hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid]! >= v) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.hashes.length) lo = 0;
    return this.eps[this.replicas[lo * this.rf + n]!]!;
  }

  nodes(): Endpoint[] {
    return [...this.eps];
  }
}

/**
 * Go's path/filepath.Match pattern as a regex ('*' and '?' stop at '/'); throws on a bad pattern.
 * Compiled with RE2 (re2js), not a JS RegExp: the tenant it is matched against comes from a request
 * header, and a glob with several '*' backtracks polynomially in a RegExp (#21).
 */
export function globRegExp(pattern: string): { test(s: string): boolean } {
  let re = '';
  const cs = [...pattern];
  const bad = () => new HashringConfigError(`syntax error in pattern ${JSON.stringify(pattern)}`);
  const lit = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  const inClass = (c: string) => c.replace(/[\\\]\[^-]/g, '\\$&');
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (++i >= cs.length) throw bad();
      re += lit(cs[i]!);
    } else if (c === '[') {
      let cls = '[';
      i++;
      if (cs[i] === '^') {
        cls += '^';
        i++;
      }
      let n = 0;
      for (;;) {
        if (i >= cs.length) throw bad();
        if (cs[i] === ']' && n > 0) break;
        let lo = cs[i]!;
        if (lo === '\\') {
          if (++i >= cs.length) throw bad();
          lo = cs[i]!;
        } else if (lo === '-' || lo === ']' || lo === '[') throw bad();
        cls += inClass(lo);
        i++;
        if (cs[i] === '-') {
          i++;
          let hi = cs[i];
          if (hi === undefined || hi === ']' || hi === '-') throw bad();
          if (hi === '\\') {
            if (++i >= cs.length) throw bad();
            hi = cs[i]!;
          }
          if (hi < lo) throw bad();
          cls += '-' + inClass(hi);
          i++;
        }
        n++;
      }
      re += cls + ']';
    } else re += lit(c);
  }
  return RE2JS.compile(`^${re}$`);
}

interface TenantSet {
  exact: Set<string>;
  globs: { test(s: string): boolean }[];
}

/** Several hashrings: a tenant goes to the first one whose tenants match it (Thanos's multiHashring). */
export class MultiHashring implements Hashring {
  private readonly cache = new Map<string, Hashring>();
  private readonly all: Endpoint[];

  constructor(private readonly rings: Hashring[], private readonly sets: Array<TenantSet | undefined>) {
    this.all = rings.flatMap((r) => r.nodes()).sort(byAddress);
  }

  ringOf(tenant: string): Hashring {
    let h = this.cache.get(tenant);
    if (h) return h;
    for (let i = 0; i < this.rings.length; i++) {
      const s = this.sets[i];
      if (!s || s.exact.has(tenant) || s.globs.some((g) => g.test(tenant))) {
        h = this.rings[i]!;
        this.cache.set(tenant, h);
        return h;
      }
    }
    throw new NoMatchingHashringError();
  }

  getN(tenant: string, labels: readonly Label[], n: number): Endpoint {
    return this.ringOf(tenant).getN(tenant, labels, n);
  }

  getNHashed(tenant: string, hash: bigint, n: number): Endpoint {
    return this.ringOf(tenant).getNHashed(tenant, hash, n);
  }

  nodes(): Endpoint[] {
    return this.all;
  }
}

/** Thanos's NewMultiHashring: one ring per config entry, its algorithm or the default. */
export function newMultiHashring(defaultAlgorithm: HashringAlgorithm, replicationFactor: number, cfg: readonly HashringConfig[]): MultiHashring {
  const rings: Hashring[] = [];
  const sets: Array<TenantSet | undefined> = [];
  cfg.forEach((h, i) => {
    const algo = h.algorithm ?? defaultAlgorithm;
    const where = `hashring ${JSON.stringify(h.hashring || String(i))}`;
    try {
      rings.push(algo === 'ketama' ? new KetamaHashring(h.endpoints, replicationFactor) : new HashmodHashring(h.endpoints));
    } catch (e) {
      throw new HashringConfigError(`${where}: ${(e as Error).message}`);
    }
    if (h.tenants.length === 0) sets.push(undefined);
    else if (h.tenantMatcherType === 'glob') sets.push({ exact: new Set(), globs: h.tenants.map(globRegExp) });
    else sets.push({ exact: new Set(h.tenants), globs: [] });
  });
  return new MultiHashring(rings, sets);
}

// ---------------------------------------------------------------------------------------------
// configuration (JSON, Thanos's HashringConfig)

const HASHRING_KEYS = new Set(['hashring', 'tenants', 'tenant_matcher_type', 'endpoints', 'algorithm', 'external_labels', 'shuffle_sharding_config']);
const ENDPOINT_KEYS = new Set(['address', 'az', 'capnproto_address']);

/**
 * Parses the hashrings JSON (Thanos's format): [{hashring, tenants, tenant_matcher_type, endpoints:
 * ["host:port" | {address, az}], algorithm}]. Keys Thanos has and we do not implement (external_labels,
 * shuffle_sharding_config with a shard size) and unknown keys are refused, naming them.
 */
export function parseHashringsConfig(text: string): HashringConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HashringConfigError(`configuration file is not parsable: ${(e as Error).message}`);
  }
  if (raw === null) return [];
  if (!Array.isArray(raw)) throw new HashringConfigError('configuration file is not parsable: want a JSON array of hashrings');
  return raw.map((h, i): HashringConfig => {
    const where = `hashring ${i}`;
    if (!h || typeof h !== 'object' || Array.isArray(h)) throw new HashringConfigError(`${where}: want an object`);
    const o = h as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!HASHRING_KEYS.has(k)) throw new HashringConfigError(`${where}: unknown key ${JSON.stringify(k)}`);
    const str = (k: string): string => {
      const v = o[k] ?? '';
      if (typeof v !== 'string') throw new HashringConfigError(`${where}: ${k} must be a string`);
      return v;
    };
    const name = str('hashring');
    const tenants = o.tenants ?? [];
    if (!Array.isArray(tenants) || tenants.some((t) => typeof t !== 'string')) throw new HashringConfigError(`${where}: tenants must be a list of strings`);
    const mt = str('tenant_matcher_type');
    if (mt !== '' && mt !== 'exact' && mt !== 'glob') throw new HashringConfigError(`${where}: tenant_matcher_type must be "exact" or "glob", got ${JSON.stringify(mt)}`);
    if (mt === 'glob') for (const t of tenants as string[]) globRegExp(t);
    const algo = str('algorithm');
    if (algo !== '' && !HASHRING_ALGORITHMS.includes(algo as HashringAlgorithm)) {
      throw new HashringConfigError(`${where}: unknown algorithm ${JSON.stringify(algo)} (want ${HASHRING_ALGORITHMS.join(' or ')})`);
    }
    const el = o.external_labels;
    if (el !== undefined && el !== null && !(typeof el === 'object' && Object.keys(el).length === 0)) {
      throw new HashringConfigError(`${where}: external_labels is not implemented yet (use --label)`);
    }
    const ss = o.shuffle_sharding_config as Record<string, unknown> | undefined | null;
    if (ss !== undefined && ss !== null && (typeof ss !== 'object' || (typeof ss.shard_size === 'number' && ss.shard_size > 0) || ss.overrides !== undefined)) {
      throw new HashringConfigError(`${where}: shuffle_sharding_config is not implemented yet`);
    }
    const eps = o.endpoints;
    if (!Array.isArray(eps)) throw new HashringConfigError(`${where}: endpoints must be a list`);
    const seen = new Set<string>();
    const endpoints = eps.map((e, j): Endpoint => {
      let ep: Endpoint;
      if (typeof e === 'string') ep = { address: e, az: '' };
      else if (e && typeof e === 'object' && !Array.isArray(e)) {
        const eo = e as Record<string, unknown>;
        for (const k of Object.keys(eo)) if (!ENDPOINT_KEYS.has(k)) throw new HashringConfigError(`${where} endpoint ${j}: unknown key ${JSON.stringify(k)}`);
        if (typeof (eo.address ?? '') !== 'string' || typeof (eo.az ?? '') !== 'string') throw new HashringConfigError(`${where} endpoint ${j}: address and az must be strings`);
        ep = { address: (eo.address ?? '') as string, az: (eo.az ?? '') as string };
      } else throw new HashringConfigError(`${where} endpoint ${j}: want "host:port" or {"address": "host:port", "az": "..."}`);
      if (ep.address === '') throw new HashringConfigError(`${where} endpoint ${j}: endpoint address must be set`);
      if (seen.has(ep.address)) throw new HashringConfigError(`${where}: endpoint ${JSON.stringify(ep.address)} listed twice`);
      seen.add(ep.address);
      return ep;
    });
    return {
      hashring: name,
      tenants: tenants as string[],
      tenantMatcherType: mt === 'glob' ? 'glob' : 'exact',
      endpoints,
      ...(algo ? { algorithm: algo as HashringAlgorithm } : {}),
    };
  });
}

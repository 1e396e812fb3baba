// plugins.yaml: parse and validate strictly. Every error names the file, the line and the key.
//
//   apiVersion: 1
//   log: { level: info, format: logfmt }
//   core: { backend: wasm }                  # wasm | js
//   gracePeriod: 2m                          # shutdown deadline after SIGINT/SIGTERM
//   objstore:
//     - id: primary
//       use: filesystem                      # built-in name | ./relative/path | npm package
//       config: { directory: ./data/bucket }
//       prefix: ""                           # optional, like Thanos's objstore YAML
//       permissions: { read: [./data/bucket], write: [./data/bucket] }
//       isolation: process                   # process (default for a path or npm package) | inline
//       trust: true                          # required for isolation: inline of a path or npm package
//   components:
//     - id: store
//       use: store
//       enabled: true
//       objstore: primary                    # an objstore id above
//       dependsOn: []                        # component ids started before this one
//       http: 127.0.0.1:10902                # --http-address
//       httpConfig: ./web.yml                # --http.config (TLS, basic auth, headers)
//       httpLimits: { maxBodyBytes: 10485760 } # the HTTP listener's hardening limits
//       grpc: 127.0.0.1:10901                # --grpc-address
//       grpcTls: { certFile: ./tls/store.crt, keyFile: ./tls/store.key, clientCaFile: ./tls/ca.crt }
//                                            # --grpc-server-tls-* (also minVersion, ciphers, curves)
//       grpcMaxConnectionAge: 60m            # --grpc-server-max-connection-age
//       requestLoggingConfigFile: ./reqlog.yml # --request.logging-config-file (or requestLoggingConfig: { ... } inline)
//       dataDir: ./data/store                # --data-dir
//       config: { ... }                      # the plugin's config; its flags map onto these keys
//       permissions: { net: true }
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from '../lib/cjs/yaml.ts';
import { parseFlagDuration } from '../lib/sdk/flags.ts';
import { ConfigError } from '../lib/sdk/errors.ts';
import { tracingConfigFromObject, type TracingConfig } from '../lib/tracing/config.ts';
import type { PermissionRequest } from './index.ts';
import { needError, PERMISSION_KINDS } from './permissions.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log.ts';
import { tlsCiphers, tlsCurves, tlsVersion } from './server/tls.ts';

export class ManifestError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly key: string, detail: string) {
    super(`${file}${line ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${detail}`);
    this.name = 'ManifestError';
  }
}

export interface ObjstoreEntry {
  id: string;
  use: string;
  config: unknown;
  prefix: string;
  permissions: PermissionRequest;
  /** `isolation:` as written (undefined: the default, which depends on where the plugin comes from). */
  isolation?: Isolation;
  /** `trust: true`: the operator allows a third-party plugin in the host's process. */
  trust: boolean;
  /** Manifest key of this entry, e.g. `objstore[0]`. */
  key: string;
}

/** Where a plugin runs: its own process (runtime-enforced grant) or the host's. */
export type Isolation = 'process' | 'inline';

export interface ComponentEntry {
  id: string;
  use: string;
  enabled: boolean;
  config: unknown;
  objstore?: string;
  dependsOn: string[];
  http?: string;
  /** --http.config: web configuration file (relative to the manifest). */
  httpConfig?: string;
  /** Overrides of the HTTP listener's limits (host/server/listen.ts DEFAULT_HTTP_LIMITS). */
  httpLimits?: HttpLimitsEntry;
  grpc?: string;
  /** --grpc-server-tls-*: paths as written (relative to the manifest). */
  grpcTls?: GrpcTlsEntry;
  /** --grpc-server-max-connection-age. */
  grpcMaxConnectionAge?: string;
  /** --request.logging-config-file (relative to the manifest). */
  requestLoggingConfigFile?: string;
  /** --request.logging-config as an inline mapping (checked when the plan is made). */
  requestLoggingConfig?: Record<string, unknown>;
  dataDir?: string;
  permissions: PermissionRequest;
  isolation?: Isolation;
  trust: boolean;
  key: string;
}

export interface Manifest {
  file: string;
  dir: string;
  apiVersion: 1;
  log: { level: LogLevel; format: LogFormat };
  core: { backend: 'wasm' | 'js' };
  gracePeriodMs: number;
  /** `tracing:` (Thanos's --tracing.config YAML: type, config): one tracer provider for the process. */
  tracing?: TracingConfig;
  objstore: ObjstoreEntry[];
  components: ComponentEntry[];
  /** Line of a manifest key (e.g. `components[1].permissions.net`), for later errors. */
  lineOf(key: string): number | undefined;
}

const TOP = ['apiVersion', 'log', 'core', 'gracePeriod', 'tracing', 'objstore', 'components'];
const OBJ = ['id', 'use', 'config', 'prefix', 'permissions', 'isolation', 'trust'];
const COMP = ['id', 'use', 'enabled', 'config', 'objstore', 'dependsOn', 'http', 'httpConfig', 'httpLimits', 'grpc', 'dataDir', 'httpGracePeriod', 'grpcGracePeriod', 'permissions', 'isolation', 'trust', 'requestLoggingConfigFile', 'requestLoggingConfig'];
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Component keys of the gRPC listener beyond `grpc` (the manifest's --grpc-server-* flags). */
const COMP_GRPC = ['grpcTls', 'grpcMaxConnectionAge'];
const GRPC_TLS_KEYS = ['certFile', 'keyFile', 'clientCaFile', 'minVersion', 'ciphers', 'curves'];

/** grpcTls: the --grpc-server-tls-* flags. */
export interface GrpcTlsEntry {
  certFile?: string;
  keyFile?: string;
  clientCaFile?: string;
  minVersion?: string;
  ciphers?: string[];
  curves?: string[];
}

/** httpLimits: sizes in bytes, durations as 30s / 5m. */
export interface HttpLimitsEntry {
  maxBodyBytes?: number;
  maxHeaderBytes?: number;
  maxUrlBytes?: number;
  maxRequestsPerSocket?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}
const HTTP_LIMIT_SIZES = ['maxBodyBytes', 'maxHeaderBytes', 'maxUrlBytes', 'maxRequestsPerSocket'] as const;
const HTTP_LIMIT_DURATIONS = ['headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const;

/** Records the line of every key path in the document. */
function indexLines(node: Node | null | undefined, key: string, lc: LineCounter, out: Map<string, number>): void {
  if (!node) return;
  const lineAt = (n: unknown) => {
    const r = (n as { range?: number[] } | null)?.range;
    return r ? lc.linePos(r[0]!).line : undefined;
  };
  if (isMap(node)) {
    for (const item of node.items) {
      const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const p = key ? `${key}.${k}` : k;
      const l = lineAt(item.key);
      if (l) out.set(p, l);
      indexLines(item.value as Node, p, lc, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => {
      const p = `${key}[${i}]`;
      const l = lineAt(it);
      if (l) out.set(p, l);
      indexLines(it as Node, p, lc, out);
    });
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Parses and validates manifest text (file is used for messages and relative paths). */
export function parseManifest(text: string, file: string): Manifest {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ManifestError(file, e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line, '', `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const lines = new Map<string, number>();
  indexLines(doc.contents as Node, '', lc, lines);
  const lineOf = (key: string): number | undefined => {
    for (let k = key; k; k = k.replace(/(\.[^.[\]]*|\[\d+\])$/, '')) {
      const l = lines.get(k);
      if (l) return l;
      if (!/(\.[^.[\]]*|\[\d+\])$/.test(k)) break;
    }
    return undefined;
  };
  const fail = (key: string, detail: string): never => {
    throw new ManifestError(file, lineOf(key), key, detail);
  };
  const root = doc.toJS() as unknown;
  if (root === null || root === undefined) fail('', 'empty manifest (expected apiVersion, objstore, components)');
  if (typeof root !== 'object' || Array.isArray(root)) fail('', 'the manifest must be a mapping');
  const r = root as Record<string, unknown>;

  const strictKeys = (obj: Record<string, unknown>, allowed: string[], key: string) => {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) fail(key ? `${key}.${k}` : k, `unknown key "${k}"${key ? ` in ${key}` : ''} (expected one of: ${allowed.join(', ')})`);
    }
  };
  const mapping = (v: unknown, key: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(key, `expected a mapping, got ${typeName(v)}`);
    return v as Record<string, unknown>;
  };
  const str = (v: unknown, key: string, required = false): string | undefined => {
    if (v === undefined || v === null) {
      if (required) fail(key, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') fail(key, `expected a non-empty string, got ${typeName(v)}`);
    return v as string;
  };
  const addr = (v: unknown, key: string) => {
    const s = str(v, key);
    if (s !== undefined && !/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(s)) fail(key, `expected host:port, got "${s}"`);
    return s;
  };
  const dur = (v: unknown, key: string) => {
    const s = str(v, key);
    if (s !== undefined) {
      try { parseFlagDuration(s); } catch { fail(key, `invalid duration "${s}" (expected e.g. 30s, 2m)`); }
    }
    return s;
  };
  const perms = (v: unknown, key: string): PermissionRequest => {
    if (v === undefined || v === null) return {};
    const m = mapping(v, key);
    strictKeys(m, [...PERMISSION_KINDS], key);
    for (const k of PERMISSION_KINDS) {
      if (m[k] === undefined) continue;
      const e = needError(m[k]);
      if (e) fail(`${key}.${k}`, e);
    }
    return m as PermissionRequest;
  };

  const isolation = (o: Record<string, unknown>, key: string): { isolation?: Isolation; trust: boolean } => {
    const iso = o.isolation;
    if (iso !== undefined && iso !== 'process' && iso !== 'inline') fail(`${key}.isolation`, `expected process or inline, got ${typeName(iso)}`);
    if (o.trust !== undefined && typeof o.trust !== 'boolean') fail(`${key}.trust`, `expected true or false, got ${typeName(o.trust)}`);
    // trust means one thing: a third-party plugin may run inline. Anywhere else it would be ignored.
    if (o.trust === true && iso !== 'inline') fail(`${key}.trust`, 'trust: true only applies with isolation: inline (it allows a third-party plugin in the host\'s process)');
    return { isolation: iso as Isolation | undefined, trust: o.trust === true };
  };

  strictKeys(r, TOP, '');
  if (r.apiVersion !== 1) fail('apiVersion', r.apiVersion === undefined ? 'is required (apiVersion: 1)' : `must be 1, got ${typeName(r.apiVersion)}`);

  const log = { level: 'info' as LogLevel, format: 'logfmt' as LogFormat };
  if (r.log !== undefined) {
    const l = mapping(r.log, 'log');
    strictKeys(l, ['level', 'format'], 'log');
    if (l.level !== undefined) {
      if (!LOG_LEVELS.includes(l.level as LogLevel)) fail('log.level', `expected one of ${LOG_LEVELS.join(', ')}, got ${typeName(l.level)}`);
      log.level = l.level as LogLevel;
    }
    if (l.format !== undefined) {
      if (l.format !== 'logfmt' && l.format !== 'json') fail('log.format', `expected logfmt or json, got ${typeName(l.format)}`);
      log.format = l.format as LogFormat;
    }
  }
  const core = { backend: 'wasm' as 'wasm' | 'js' };
  if (r.core !== undefined) {
    const c = mapping(r.core, 'core');
    strictKeys(c, ['backend'], 'core');
    if (c.backend !== undefined) {
      if (c.backend !== 'wasm' && c.backend !== 'js') fail('core.backend', `expected wasm or js, got ${typeName(c.backend)}`);
      core.backend = c.backend as 'wasm' | 'js';
    }
  }
  const grace = dur(r.gracePeriod, 'gracePeriod');
  let tracing: TracingConfig | undefined;
  if (r.tracing !== undefined && r.tracing !== null) {
    try {
      tracing = tracingConfigFromObject(mapping(r.tracing, 'tracing'));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const detail = err.key && err.message.startsWith(`${err.key}: `) ? err.message.slice(err.key.length + 2) : err.message;
      fail(err.key ? `tracing.${err.key}` : 'tracing', detail);
    }
  }

  const list = (v: unknown, key: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(key, `expected a list, got ${typeName(v)}`);
    return v as unknown[];
  };

  // grpcTls / grpcMaxConnectionAge of a component entry, checked as the flags are (the files are loaded when the plan is made).
  const grpcServer = (c: Record<string, unknown>, key: string): Pick<ComponentEntry, 'grpcTls' | 'grpcMaxConnectionAge'> => {
    const out: Pick<ComponentEntry, 'grpcTls' | 'grpcMaxConnectionAge'> = { grpcMaxConnectionAge: dur(c.grpcMaxConnectionAge, `${key}.grpcMaxConnectionAge`) };
    if (c.grpcTls === undefined || c.grpcTls === null) return out;
    const k = `${key}.grpcTls`;
    const t = mapping(c.grpcTls, k);
    strictKeys(t, GRPC_TLS_KEYS, k);
    const names = (n: string): string[] | undefined => {
      const v = t[n];
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`${k}.${n}`, `expected a list of names, got ${typeName(v)}`);
      return v as string[];
    };
    // YAML reads `minVersion: 1.2` as a number: take it as the version it spells.
    const mv = typeof t.minVersion === 'number' ? t.minVersion.toFixed(1) : str(t.minVersion, `${k}.minVersion`);
    try {
      if (mv !== undefined) tlsVersion(mv);
      tlsCiphers(names('ciphers') ?? []);
      tlsCurves(names('curves') ?? []);
    } catch (err) {
      fail(`${k}`, (err as Error).message);
    }
    out.grpcTls = {
      certFile: str(t.certFile, `${k}.certFile`), keyFile: str(t.keyFile, `${k}.keyFile`), clientCaFile: str(t.clientCaFile, `${k}.clientCaFile`),
      minVersion: mv, ciphers: names('ciphers'), curves: names('curves'),
    };
    return out;
  };

  const objstore: ObjstoreEntry[] = [];
  list(r.objstore, 'objstore').forEach((raw, i) => {
    const key = `objstore[${i}]`;
    const o = mapping(raw, key);
    strictKeys(o, OBJ, key);
    const id = str(o.id, `${key}.id`, true)!;
    if (!ID_RE.test(id)) fail(`${key}.id`, `invalid id "${id}" (letters, digits, _ . -)`);
    if (objstore.some((e) => e.id === id)) fail(`${key}.id`, `duplicate objstore id "${id}"`);
    const prefix = o.prefix === undefined || o.prefix === null ? '' : o.prefix;
    if (typeof prefix !== 'string') fail(`${key}.prefix`, `expected a string, got ${typeName(prefix)}`);
    objstore.push({ id, use: str(o.use, `${key}.use`, true)!, config: o.config ?? {}, prefix: prefix as string, permissions: perms(o.permissions, `${key}.permissions`), ...isolation(o, key), key });
  });

  const components: ComponentEntry[] = [];
  list(r.components, 'components').forEach((raw, i) => {
    const key = `components[${i}]`;
    const c = mapping(raw, key);
    strictKeys(c, [...COMP, ...COMP_GRPC], key);
    const id = str(c.id, `${key}.id`, true)!;
    if (!ID_RE.test(id)) fail(`${key}.id`, `invalid id "${id}" (letters, digits, _ . -)`);
    if (components.some((e) => e.id === id)) fail(`${key}.id`, `duplicate component id "${id}"`);
    if (c.enabled !== undefined && typeof c.enabled !== 'boolean') fail(`${key}.enabled`, `expected true or false, got ${typeName(c.enabled)}`);
    const deps = c.dependsOn === undefined || c.dependsOn === null ? [] : c.dependsOn;
    if (!Array.isArray(deps) || !deps.every((d) => typeof d === 'string')) fail(`${key}.dependsOn`, `expected a list of component ids, got ${typeName(deps)}`);
    const os = str(c.objstore, `${key}.objstore`);
    if (os !== undefined && !objstore.some((e) => e.id === os)) {
      fail(`${key}.objstore`, `unknown objstore id "${os}" (defined: ${objstore.map((e) => e.id).join(', ') || 'none'})`);
    }
    if (c.config !== undefined && c.config !== null && (typeof c.config !== 'object' || Array.isArray(c.config))) {
      fail(`${key}.config`, `expected a mapping, got ${typeName(c.config)}`);
    }
    // Accepted once and never used: one deadline (gracePeriod) governs the stop of the whole process.
    for (const k of ['httpGracePeriod', 'grpcGracePeriod']) {
      if (c[k] !== undefined) fail(`${key}.${k}`, `is not implemented yet (one deadline for every component: set the top-level gracePeriod, or --${k === 'httpGracePeriod' ? 'http' : 'grpc'}-grace-period on the command line)`);
    }
    let httpLimits: HttpLimitsEntry | undefined;
    if (c.httpLimits !== undefined && c.httpLimits !== null) {
      const hl = mapping(c.httpLimits, `${key}.httpLimits`);
      strictKeys(hl, [...HTTP_LIMIT_SIZES, ...HTTP_LIMIT_DURATIONS], `${key}.httpLimits`);
      httpLimits = {};
      for (const k of HTTP_LIMIT_SIZES) {
        const v = hl[k];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${key}.httpLimits.${k}`, `expected a non-negative integer, got ${typeName(v)}`);
        httpLimits[k] = v as number;
      }
      for (const k of HTTP_LIMIT_DURATIONS) {
        const v = dur(hl[k], `${key}.httpLimits.${k}`);
        if (v !== undefined) httpLimits[`${k}Ms`] = parseFlagDuration(v);
      }
    }
    components.push({
      id, use: str(c.use, `${key}.use`, true)!, enabled: c.enabled !== false, config: c.config ?? {},
      httpConfig: str(c.httpConfig, `${key}.httpConfig`), httpLimits,
      requestLoggingConfigFile: str(c.requestLoggingConfigFile, `${key}.requestLoggingConfigFile`),
      requestLoggingConfig: c.requestLoggingConfig === undefined || c.requestLoggingConfig === null ? undefined : mapping(c.requestLoggingConfig, `${key}.requestLoggingConfig`),
      objstore: os, dependsOn: deps as string[], http: addr(c.http, `${key}.http`), grpc: addr(c.grpc, `${key}.grpc`),
      dataDir: str(c.dataDir, `${key}.dataDir`), permissions: perms(c.permissions, `${key}.permissions`), ...isolation(c, key), ...grpcServer(c, key), key,
    });
  });

  // dependsOn: known ids, no cycles.
  const byId = new Map(components.map((c) => [c.id, c]));
  components.forEach((c) => c.dependsOn.forEach((d, j) => {
    if (!byId.has(d)) fail(`${c.key}.dependsOn[${j}]`, `unknown component id "${d}" (defined: ${[...byId.keys()].join(', ')})`);
    if (d === c.id) fail(`${c.key}.dependsOn[${j}]`, `component "${c.id}" depends on itself`);
  }));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: ComponentEntry, trail: string[]) => {
    if (state.get(c.id) === 'done') return;
    if (state.get(c.id) === 'visiting') {
      const cyc = [...trail.slice(trail.indexOf(c.id)), c.id];
      const first = byId.get(cyc[0]!)!;
      fail(`${first.key}.dependsOn`, `dependency cycle: ${cyc.join(' -> ')}`);
    }
    state.set(c.id, 'visiting');
    for (const d of c.dependsOn) visit(byId.get(d)!, [...trail, c.id]);
    state.set(c.id, 'done');
  };
  for (const c of components) visit(c, []);

  return {
    file, dir: path.dirname(path.resolve(file)), apiVersion: 1, log, core,
    gracePeriodMs: grace ? parseFlagDuration(grace) : 120_000, tracing, objstore, components, lineOf,
  };
}

export function readManifest(file: string): Manifest {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(file, undefined, '', `cannot read: ${(err as Error).message}`);
  }
  return parseManifest(text, file);
}

/** Enabled components in dependency order (dependencies first, otherwise manifest order). */
export function startOrder(components: ComponentEntry[]): ComponentEntry[] {
  const enabled = components.filter((c) => c.enabled);
  const byId = new Map(components.map((c) => [c.id, c]));
  const out: ComponentEntry[] = [];
  const seen = new Set<string>();
  const add = (c: ComponentEntry) => {
    if (seen.has(c.id)) return;
    seen.add(c.id);
    for (const d of c.dependsOn) {
      const dep = byId.get(d)!;
      if (!dep.enabled) throw new Error(`${c.key}.dependsOn: component "${c.id}" depends on "${d}", which is disabled (enabled: false)`);
      add(dep);
    }
    out.push(c);
  };
  enabled.forEach(add);
  return out;
}

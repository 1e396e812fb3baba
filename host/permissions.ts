// Deno-style permissions: four kinds (net, read, write, env), each granted as
// `true | false | [list] | { allow, deny }`. The effective permission of a plugin is the operator's
// grant (plugins.yaml) intersected with what the plugin's manifest asks for.
//
// In the host's process this is a policy boundary, not a sandbox: an inline plugin that imports
// `node:fs` itself bypasses it. A plugin with `isolation: process` runs in its own Deno process,
// where the runtime enforces the grant too (host/isolate/). File grants are checked on the path as
// given and on where it really is (symlinks resolved, host/checked.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PermissionDenied, type Need, type PermissionRequest } from './index.ts';

export type PermissionKind = 'net' | 'read' | 'write' | 'env';
export const PERMISSION_KINDS: readonly PermissionKind[] = ['net', 'read', 'write', 'env'];

interface Normalized {
  all: boolean;
  allow: string[];
  deny: string[];
}

/** Validates a Need value; returns an error message or undefined. */
export function needError(v: unknown): string | undefined {
  if (typeof v === 'boolean') return undefined;
  const strList = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string' && e !== '');
  if (Array.isArray(v)) return strList(v) ? undefined : 'must be a list of non-empty strings';
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) if (k !== 'allow' && k !== 'deny') return `unknown key "${k}" (expected allow, deny)`;
    const o = v as { allow?: unknown; deny?: unknown };
    if (o.allow !== undefined && typeof o.allow !== 'boolean' && !strList(o.allow)) return 'allow must be true, false or a list of strings';
    if (o.deny !== undefined && !strList(o.deny)) return 'deny must be a list of strings';
    return undefined;
  }
  return 'must be true, false, a list of strings, or { allow, deny }';
}

function canonical(kind: PermissionKind, entry: string, baseDir: string): string {
  if (kind === 'read' || kind === 'write') return path.resolve(baseDir, entry);
  if (kind === 'net') return entry.toLowerCase();
  return entry;
}

/** A path with symlinks resolved as far as it exists (the rest appended): where it really is. */
export function realPathOf(abs: string): string {
  const rest: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    try {
      return path.join(fs.realpathSync(p), ...rest.reverse());
    } catch {
      if (path.dirname(p) === p) return abs;
      rest.push(path.basename(p));
    }
  }
}

/** Grant paths count both as written and as resolved, so a symlinked grant (/tmp -> /private/tmp) still matches real paths. */
function entries(kind: PermissionKind, list: string[], baseDir: string): string[] {
  const out = list.map((e) => canonical(kind, e, baseDir));
  if (kind !== 'read' && kind !== 'write') return out;
  return [...new Set(out.flatMap((e) => [e, realPathOf(e)]))];
}

function normalize(kind: PermissionKind, need: Need | undefined, baseDir: string): Normalized {
  if (need === undefined || need === false) return { all: false, allow: [], deny: [] };
  if (need === true) return { all: true, allow: [], deny: [] };
  if (Array.isArray(need)) return { all: false, allow: entries(kind, need, baseDir), deny: [] };
  const allow = need.allow;
  return {
    all: allow === true,
    allow: Array.isArray(allow) ? entries(kind, allow, baseDir) : [],
    deny: entries(kind, need.deny ?? [], baseDir),
  };
}

/** Splits a net grant or request ("host:port", "[v6]:port", "host", "*:port") into lowercased host and port (undefined when absent). */
export function splitNetEntry(s: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+|\*))?$/.exec(s);
  if (v6) return { host: v6[1]!.toLowerCase(), port: v6[2] };
  const i = s.lastIndexOf(':');
  if (i > 0 && s.indexOf(':') === i) return { host: s.slice(0, i).toLowerCase(), port: s.slice(i + 1) };
  return { host: s.toLowerCase() };
}

function entryMatches(kind: PermissionKind, entry: string, desc: string): boolean {
  switch (kind) {
    case 'net': {
      // "host" grants every port on host; "host:port" one port; "*:port" one port on any host.
      const e = splitNetEntry(entry);
      const d = splitNetEntry(desc);
      if (e.host !== '*' && e.host !== d.host) return false;
      return e.port === undefined || e.port === '*' || e.port === d.port;
    }
    case 'read':
    case 'write':
      return desc === entry || desc.startsWith(entry.endsWith(path.sep) ? entry : entry + path.sep);
    case 'env':
      return entry.endsWith('*') ? desc.startsWith(entry.slice(0, -1)) : entry === desc;
  }
}

function allows(kind: PermissionKind, n: Normalized, desc: string): 'yes' | 'no' | 'denied' {
  if (n.deny.some((e) => entryMatches(kind, e, desc))) return 'denied';
  return n.all || n.allow.some((e) => entryMatches(kind, e, desc)) ? 'yes' : 'no';
}

export interface PermissionsOptions {
  pluginId: string;
  /** What the plugin's manifest asks for. */
  request: PermissionRequest;
  /** What the operator grants; `undefined` for a kind means not granted. */
  grant: PermissionRequest;
  /** Manifest key holding the grant, e.g. `components[1].permissions` (the kind is appended). */
  grantKey: string;
  /** Relative read/write paths in the grant resolve against this (the manifest's directory). */
  grantBaseDir: string;
  /** Relative paths in the plugin's own request resolve against this (default: cwd). */
  requestBaseDir?: string;
}

/** The effective permissions of one plugin instance. Checked on every capability call. */
export class Permissions {
  readonly pluginId: string;
  private readonly req: Record<PermissionKind, Normalized>;
  private readonly grant: Record<PermissionKind, Normalized>;
  private readonly grantKey: string;

  constructor(o: PermissionsOptions) {
    this.pluginId = o.pluginId;
    this.grantKey = o.grantKey;
    const rb = o.requestBaseDir ?? process.cwd();
    this.req = Object.fromEntries(PERMISSION_KINDS.map((k) => [k, normalize(k, o.request[k], rb)])) as Record<PermissionKind, Normalized>;
    this.grant = Object.fromEntries(PERMISSION_KINDS.map((k) => [k, normalize(k, o.grant[k], o.grantBaseDir)])) as Record<PermissionKind, Normalized>;
  }

  /** Grants everything the plugin asks for (the command line: the operator runs built-ins directly). */
  static all(pluginId: string, request: PermissionRequest, grantKey = 'the command line'): Permissions {
    return new Permissions({ pluginId, request, grant: { net: true, read: true, write: true, env: true }, grantKey, grantBaseDir: process.cwd() });
  }

  /** Canonical descriptor for a kind (absolute path for read/write, lower-case host for net). */
  descriptor(kind: PermissionKind, desc: string): string {
    // The working directory only for a relative path: in an isolated plugin's process (Deno)
    // process.cwd() is a getcwd syscall, paid on every check otherwise.
    return canonical(kind, desc, path.isAbsolute(desc) ? '/' : process.cwd());
  }

  query(kind: PermissionKind, desc: string): 'granted' | 'denied' {
    const d = this.descriptor(kind, desc);
    return allows(kind, this.grant[kind], d) === 'yes' && allows(kind, this.req[kind], d) === 'yes' ? 'granted' : 'denied';
  }

  /** Throws PermissionDenied naming the plugin, the API, the descriptor and the manifest key. */
  check(kind: PermissionKind, desc: string, api: string): void {
    const d = this.descriptor(kind, desc);
    const key = `${this.grantKey}.${kind}`;
    const g = allows(kind, this.grant[kind], d);
    if (g === 'denied') throw new PermissionDenied(this.pluginId, api, d, key, `denied by ${key}.deny in plugins.yaml`);
    if (g === 'no') throw new PermissionDenied(this.pluginId, api, d, key);
    const r = allows(kind, this.req[kind], d);
    if (r !== 'yes') {
      throw new PermissionDenied(this.pluginId, api, d, key,
        `the plugin's own manifest does not ask for ${kind} access to ${d} (manifest.permissions.${kind}); granting ${key} cannot widen it`);
    }
  }
}

// Receive's tenants: one local TSDB (lib/tsdb/head HeadDB: head + WAL + blocks) per tenant under the
// TSDB root, labelled with the external labels + <tenant label>=<tenant>, with a shipper when a
// bucket is configured. Tenants are opened on first write; existing ones are replayed at open.
import type { Bucket, Core, FsCapability, Logger, Metrics } from '../sdk/mod.ts';
import { compareStrings, labelsFromRecord, type Label } from '../labels/mod.ts';
import { Shipper } from '../shipper/shipper.ts';
import { HeadDB } from '../tsdb/head/db.ts';
import { ColumnarSeries } from '../remote/writedecode.ts';

const utf8 = new TextEncoder();

/**
 * Thanos's IsTenantValid (the tenant is its own path.Base: no "/", not empty), as a tenant id becomes
 * one directory under the TSDB root. Stricter where Thanos lets a name through that is no directory of
 * its own or none at all: "." and "..", a NUL byte, more than 255 bytes (a file name's limit).
 */
export function validTenant(t: string): boolean {
  return t !== '' && t !== '.' && t !== '..' && !t.includes('/') && !t.includes('\0') && (t.length <= 85 || utf8.encode(t).length <= 255);
}

export interface Tenant {
  id: string;
  db: HeadDB;
  /** External labels + tenant label. */
  labels: Record<string, string>;
  labelList: Label[];
  shipper?: Shipper;
}

export interface TenantsOptions {
  fs: FsCapability;
  /** The TSDB root (resolved): one directory per tenant. */
  root: string;
  core: Core;
  log: Logger;
  metrics: Metrics;
  /** Uploads are enabled when set. */
  bucket?: Bucket;
  /** External labels. */
  labels: Record<string, string>;
  tenantLabelName: string;
  blockDurationMs: number;
  /** Snappy-compress WAL records (--tsdb.wal-compression, default true). */
  walCompression?: boolean;
}

export class Tenants {
  private readonly byId = new Map<string, Tenant>();
  private readonly opening = new Map<string, Promise<Tenant>>();

  private constructor(private readonly o: TenantsOptions) {}

  /** Opens the root and every tenant already in it (their WAL is replayed; a corrupt WAL fails with its error). */
  static async open(o: TenantsOptions): Promise<Tenants> {
    const ts = new Tenants(o);
    await o.fs.mkdir(o.root, { recursive: true });
    for (const f of await o.fs.readDir(o.root)) {
      if (f.isDirectory && validTenant(f.name)) await ts.get(f.name);
    }
    return ts;
  }

  /** The tenant, opened (once) on first use. */
  get(id: string): Promise<Tenant> {
    const t = this.byId.get(id);
    if (t) return Promise.resolve(t);
    let p = this.opening.get(id);
    if (!p) {
      p = this.openTenant(id).finally(() => this.opening.delete(id));
      this.opening.set(id, p);
    }
    return p;
  }

  /** An open tenant, or undefined (does not open one). */
  find(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  /** Open tenants in the order they were opened (live: includes tenants opened while iterating). */
  values(): IterableIterator<Tenant> {
    return this.byId.values();
  }

  /** Open tenants in the order they were opened (a copy). */
  list(): Tenant[] {
    return [...this.byId.values()];
  }

  /** Open tenant ids, sorted. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  /** Open tenants sorted by id. */
  sorted(): Tenant[] {
    return this.list().sort((a, b) => compareStrings(a.id, b.id));
  }

  private async openTenant(id: string): Promise<Tenant> {
    const { fs, log, bucket } = this.o;
    const labels = { ...this.o.labels, [this.o.tenantLabelName]: id };
    const dir = fs.resolve(this.o.root, id);
    const db = new HeadDB({ fs, dir, core: this.o.core, log: log.with({ tenant: id }), blockDuration: this.o.blockDurationMs, walCompression: this.o.walCompression, thanos: { labels, source: 'receive' } });
    await db.open();
    const t: Tenant = { id, db, labels, labelList: labelsFromRecord(labels) as Label[] };
    if (bucket) {
      t.shipper = new Shipper({ bucket, fs, dir, labels: () => labels, source: 'receive', log: log.with({ component: 'shipper', tenant: id }), metrics: this.o.metrics });
    }
    this.byId.set(id, t);
    return t;
  }
}

/** One tenant's share of a write request. */
export interface TenantWrite<S> {
  tenant: string;
  series: S[];
}

export class SplitTenantError extends Error {}

/**
 * --receive.split-tenant-label-name as Thanos: a series carrying a non-empty <label> belongs to the
 * tenant it names (the label is removed from the series); the others stay with the request's tenant.
 * A value that is not a valid tenant fails the whole request. Groups keep the request's series order.
 */
export function splitByTenantLabel<S extends { labels: Array<{ name: string; value: string }> }>(series: readonly S[], tenant: string, label: string): Array<TenantWrite<S>> {
  const byTenant = new Map<string, S[]>();
  for (const s of series) {
    let t = tenant;
    let out = s;
    const i = s.labels.findIndex((l) => l.name === label);
    if (i >= 0 && s.labels[i]!.value !== '') {
      t = s.labels[i]!.value;
      if (!validTenant(t)) throw new SplitTenantError('tenant name not valid: validation error');
      const labels = s.labels.filter((_, j) => j !== i);
      // a decoded series keeps its samples in its request's columns (no own `samples` to spread)
      out = s instanceof ColumnarSeries ? (s.withLabels(labels) as unknown as S) : { ...s, labels };
    }
    let g = byTenant.get(t);
    if (!g) byTenant.set(t, (g = []));
    g.push(out);
  }
  return [...byTenant].map(([t, ss]) => ({ tenant: t, series: ss }));
}

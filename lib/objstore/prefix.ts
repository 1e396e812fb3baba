// A Bucket view under a prefix (objstore's PrefixedBucket): names and iter results are relative.
import { getRangeInto, type Bucket, type IterOptions, type ObjectAttributes } from './bucket.ts';

export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

export class PrefixedBucket implements Bucket {
  private readonly p: string;
  constructor(private readonly inner: Bucket, prefix: string) {
    this.p = normalizePrefix(prefix);
  }
  get provider(): string {
    return this.inner.provider;
  }
  private full(name: string): string {
    return this.p === '' ? name : name === '' ? '' : `${this.p}/${name}`;
  }
  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    if (this.p === '') { yield* this.inner.iter(dir, opts); return; }
    const d = dir.replace(/^\/+/, '');
    const strip = this.p.length + 1;
    for await (const n of this.inner.iter(d === '' ? `${this.p}/` : `${this.p}/${d}`, opts)) yield n.slice(strip);
  }
  get(name: string) { return this.inner.get(this.full(name)); }
  getRange(name: string, off: number, len?: number) { return this.inner.getRange(this.full(name), off, len); }
  getRangeInto(name: string, off: number, dst: Uint8Array) { return getRangeInto(this.inner, this.full(name), off, dst); }
  exists(name: string) { return this.inner.exists(this.full(name)); }
  attributes(name: string): Promise<ObjectAttributes> { return this.inner.attributes(this.full(name)); }
  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array) { return this.inner.upload(this.full(name), body); }
  delete(name: string) { return this.inner.delete(this.full(name)); }
  isObjNotFoundErr(err: unknown) { return this.inner.isObjNotFoundErr(err); }
  close() { return this.inner.close(); }
}

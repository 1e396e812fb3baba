// In-memory object store (type MEMORY / IN-MEMORY): for tests and throwaway stacks. Needs no
// permissions; every created bucket is independent and lives as long as the process.
import { definePlugin, ConfigError } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, isObjectNotFound, readAll, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { bytesStream, checkObjectName, clampRange, isPlainObject, normalizeDir } from '../../../lib/objstore/util.ts';

export interface MemoryConfig {
  /** No options today; the key exists so `config: {}` is accepted and anything else is rejected. */
}

interface Entry { data: Uint8Array; lastModified: Date }

export class MemoryBucket implements Bucket {
  readonly provider = 'MEMORY';
  private objects = new Map<string, Entry>();
  private closed = false;

  private live(): void {
    if (this.closed) throw new Error('memory bucket: used after close()');
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    this.live();
    const d = normalizeDir(dir);
    const names = [...this.objects.keys()].filter((k) => k.startsWith(d)).sort();
    if (opts.recursive) {
      yield* names;
      return;
    }
    const seen = new Set<string>();
    for (const k of names) {
      const rest = k.slice(d.length);
      const i = rest.indexOf('/');
      const out = i < 0 ? k : d + rest.slice(0, i + 1);
      if (!seen.has(out)) {
        seen.add(out);
        yield out;
      }
    }
  }

  private entry(name: string): Entry {
    this.live();
    checkObjectName(name);
    const e = this.objects.get(name);
    if (!e) throw new ObjectNotFoundError(name);
    return e;
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return bytesStream(this.entry(name).data);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    const e = this.entry(name);
    const { start, end } = clampRange(name, e.data.length, off, len);
    return bytesStream(e.data.subarray(start, end));
  }

  async exists(name: string): Promise<boolean> {
    this.live();
    checkObjectName(name);
    return this.objects.has(name);
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const e = this.entry(name);
    return { size: e.data.length, lastModified: e.lastModified };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    this.live();
    checkObjectName(name);
    // Read fully first: a failed stream leaves the previous version in place.
    const data = body instanceof Uint8Array ? body.slice() : await readAll(body);
    this.objects.set(name, { data, lastModified: new Date() });
  }

  async delete(name: string): Promise<void> {
    this.live();
    checkObjectName(name);
    if (!this.objects.delete(name)) throw new ObjectNotFoundError(name);
  }

  isObjNotFoundErr(err: unknown): boolean {
    return isObjectNotFound(err);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.objects.clear();
  }
}

export default definePlugin<MemoryConfig>({
  manifest: {
    id: 'objstore:memory',
    apiVersion: 1,
    permissions: {},
    description: 'In-process memory; needs no permissions.',
  },
  provider: 'MEMORY',
  parseConfig(raw: unknown): MemoryConfig {
    if (raw === undefined || raw === null) return {};
    if (!isPlainObject(raw)) throw new ConfigError('config', 'MEMORY config must be a mapping (or empty)');
    for (const k of Object.keys(raw)) throw new ConfigError(`config.${k}`, 'unknown field for MEMORY (it has no options)');
    return {};
  },
  async create(): Promise<Bucket> {
    return new MemoryBucket();
  },
});

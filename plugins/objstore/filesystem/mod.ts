// Filesystem object store (type FILESYSTEM, config `directory:`), like objstore's filesystem
// provider: objects are files under the directory, '/' separates directories, empty directories
// disappear on delete. Writes are atomic (a temp file in the target's directory, then rename).
// Uses only the FsCapability it is given, so the operator's read/write grant bounds it.
import { definePlugin, ConfigError, type Capabilities, type FsCapability } from '../../../lib/sdk/mod.ts';
import { ObjectNotFoundError, isObjectNotFound, type Bucket, type IterOptions, type ObjectAttributes } from '../../../lib/objstore/bucket.ts';
import { InvalidObjectNameError, checkObjectName, clampRange, isPlainObject, normalizeDir } from '../../../lib/objstore/util.ts';

export interface FilesystemConfig {
  directory: string;
}

const TMP = '.objstore-tmp-';
const FAST_RANGE = 4 * 1024 * 1024;

function bytesOnce(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(data);
      c.close();
    },
  });
}

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}
const missing = (err: unknown) => code(err) === 'ENOENT' || code(err) === 'ENOTDIR';

export class FilesystemBucket implements Bucket {
  readonly provider = 'FILESYSTEM';

  constructor(private readonly fs: FsCapability, readonly root: string) {}

  /** The file of an object; refuses names that would leave the directory. */
  private file(name: string): string {
    checkObjectName(name);
    if (name.split('/').some((s) => s.startsWith(TMP))) throw new InvalidObjectNameError(name, `segments starting with "${TMP}" are reserved`);
    const p = this.fs.resolve(this.root, name);
    if (!p.startsWith(this.root + '/')) throw new InvalidObjectNameError(name, 'escapes the bucket directory');
    return p;
  }

  async *iter(dir: string, opts: IterOptions = {}): AsyncIterable<string> {
    const d = normalizeDir(dir);
    const base = d === '' ? this.root : this.fs.resolve(this.root, d);
    if (base !== this.root && !base.startsWith(this.root + '/')) throw new InvalidObjectNameError(dir, 'escapes the bucket directory');
    if (!opts.recursive) {
      const ents = await this.list(base);
      yield* ents.filter((e) => e.isFile || e.isDirectory).map((e) => d + e.name + (e.isDirectory ? '/' : '')).sort();
      return;
    }
    const out: string[] = [];
    const walk = async (abs: string, rel: string) => {
      for (const e of await this.list(abs)) {
        if (e.isDirectory) await walk(abs + '/' + e.name, rel + e.name + '/');
        else if (e.isFile) out.push(rel + e.name);
      }
    };
    await walk(base, d);
    yield* out.sort();
  }

  private async list(abs: string) {
    try {
      return (await this.fs.readDir(abs)).filter((e) => !e.name.startsWith(TMP));
    } catch (err) {
      if (missing(err)) return [];
      throw err;
    }
  }

  private async statFile(name: string, p: string) {
    try {
      const st = await this.fs.stat(p);
      if (!st.isFile) throw new ObjectNotFoundError(name);
      return st;
    } catch (err) {
      if (missing(err)) throw new ObjectNotFoundError(name, err);
      throw err;
    }
  }

  async get(name: string): Promise<ReadableStream<Uint8Array>> {
    return this.getRange(name, 0);
  }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    const p = this.file(name);
    // Fast path for the small ranged reads a store gateway makes: one open+fstat+read+close.
    if (len !== undefined && len > 0 && len <= FAST_RANGE && Number.isInteger(off) && off >= 0 && Number.isInteger(len)) {
      let data: Uint8Array | undefined;
      try {
        data = await this.fs.readRange(p, off, len);
      } catch (err) {
        if (missing(err)) throw new ObjectNotFoundError(name, err);
        // e.g. EISDIR: let the checked path below decide
      }
      if (data && data.length > 0) return bytesOnce(data);
    }
    const st = await this.statFile(name, p);
    const { start, end } = clampRange(name, st.size, off, len);
    try {
      return await this.fs.openRead(p, { offset: start, length: end - start });
    } catch (err) {
      if (missing(err)) throw new ObjectNotFoundError(name, err);
      throw err;
    }
  }

  /**
   * A read into the caller's buffer (fs.readRangeInto, checked as readRange; readRange copied in
   * for an FsCapability without it). Nothing read: the object's size decides, as getRange's.
   */
  async getRangeInto(name: string, off: number, dst: Uint8Array): Promise<number> {
    const p = this.file(name);
    if (dst.length > 0 && Number.isSafeInteger(off) && off >= 0) {
      let n = 0;
      try {
        if (this.fs.readRangeInto) n = await this.fs.readRangeInto(p, off, dst);
        else {
          const data = await this.fs.readRange(p, off, dst.length);
          dst.set(data);
          n = data.length;
        }
      } catch (err) {
        if (missing(err)) throw new ObjectNotFoundError(name, err);
        // e.g. EISDIR: let the checked path below decide
      }
      if (n > 0) return n;
    }
    const st = await this.statFile(name, p);
    const { start, end } = clampRange(name, st.size, off, dst.length);
    if (start === end) return 0;
    // Not read above (e.g. a racing write grew it): read it now, as getRange's body would.
    const data = await this.fs.readRange(p, start, end - start);
    dst.set(data);
    return data.length;
  }

  async exists(name: string): Promise<boolean> {
    const p = this.file(name);
    try {
      return (await this.fs.stat(p)).isFile;
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const st = await this.statFile(name, this.file(name));
    return { size: st.size, lastModified: new Date(st.mtimeMs) };
  }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    const p = this.file(name);
    const dir = p.slice(0, p.lastIndexOf('/'));
    const tmp = `${dir}/${TMP}${crypto.randomUUID()}`;
    await this.fs.mkdir(dir, { recursive: true });
    try {
      try {
        await this.fs.writeFile(tmp, body);
      } catch (err) {
        // A concurrent delete may have removed the (then empty) directory; recreate once.
        if (!missing(err) || !(body instanceof Uint8Array)) throw err;
        await this.fs.mkdir(dir, { recursive: true });
        await this.fs.writeFile(tmp, body);
      }
      await this.fs.rename(tmp, p);
    } catch (err) {
      await this.fs.remove(tmp).catch(() => {});
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    const p = this.file(name);
    await this.statFile(name, p);
    try {
      await this.fs.remove(p);
    } catch (err) {
      if (missing(err)) throw new ObjectNotFoundError(name, err);
      throw err;
    }
    // Remove now-empty parents up to (not including) the root, like objstore's filesystem bucket.
    let dir = p.slice(0, p.lastIndexOf('/'));
    while (dir.length > this.root.length && dir.startsWith(this.root + '/')) {
      try {
        if ((await this.fs.readDir(dir)).length > 0) break;
        await this.fs.remove(dir);
      } catch {
        break; // not empty any more, or already gone
      }
      dir = dir.slice(0, dir.lastIndexOf('/'));
    }
  }

  isObjNotFoundErr(err: unknown): boolean {
    return isObjectNotFound(err);
  }

  async close(): Promise<void> {}
}

export default definePlugin<FilesystemConfig>({
  manifest: {
    id: 'objstore:filesystem',
    apiVersion: 1,
    permissions: { read: true, write: true },
    description: 'Reads and writes files under config.directory; grant read and write on that directory.',
  },
  provider: 'FILESYSTEM',
  parseConfig(raw: unknown): FilesystemConfig {
    if (!isPlainObject(raw)) throw new ConfigError('config', 'FILESYSTEM config must be a mapping with "directory"');
    for (const k of Object.keys(raw)) if (k !== 'directory') throw new ConfigError(`config.${k}`, 'unknown field for FILESYSTEM (expected: directory)');
    const d = raw.directory;
    if (typeof d !== 'string' || d === '') throw new ConfigError('config.directory', 'must be a non-empty string');
    if (d.includes('\0')) throw new ConfigError('config.directory', 'must not contain NUL');
    return { directory: d };
  },
  async create(ctx: Capabilities, config: FilesystemConfig): Promise<Bucket> {
    const root = ctx.fs.resolve(config.directory);
    await ctx.fs.mkdir(root, { recursive: true });
    return new FilesystemBucket(ctx.fs, root);
  },
});

// Moving blocks between a local directory and a Bucket. Uploads put chunks, then index, then
// meta.json LAST (a block without meta.json is a partial upload); downloads land in a temporary
// directory renamed into place only after meta.json arrived.
import type { Bucket } from '../objstore/bucket.ts';
import { readAll, reopenable } from '../objstore/bucket.ts';
import type { FsCapability } from '../sdk/mod.ts';
import { META_FILENAME, parseMeta, formatMeta, type BlockMeta } from './meta.ts';
import { PartialBlockError, BlockWriteError } from './errors.ts';

export interface UploadOptions {
  /** Rewrite meta.json on the way (e.g. add thanos labels/source/files); the local copy is unchanged. */
  meta?: (m: BlockMeta) => BlockMeta;
  /** Thanos refuses blocks without external labels; set to allow them (plain Prometheus blocks). */
  allowEmptyLabels?: boolean;
}

/** Uploads `<dir>` (a complete local block) to `<ulid>/` in the bucket; returns the uploaded meta. */
export async function uploadBlock(bucket: Bucket, fs: FsCapability, dir: string, opts: UploadOptions = {}): Promise<BlockMeta> {
  const metaPath = fs.resolve(dir, META_FILENAME);
  if (!(await fs.exists(metaPath))) throw new PartialBlockError(dir);
  let meta = parseMeta(await fs.readFile(metaPath), dir);
  if (opts.meta) meta = opts.meta(meta);
  if (!opts.allowEmptyLabels && Object.keys(meta.thanos?.labels ?? {}).length === 0) throw new BlockWriteError(`upload ${dir}: empty external labels are not allowed for Thanos block.`);
  const id = meta.ulid;
  const chunksDir = fs.resolve(dir, 'chunks');
  const segs = (await fs.exists(chunksDir)) ? (await fs.readDir(chunksDir)).filter((f) => f.isFile).map((f) => f.name).sort() : [];
  const files: { rel_path: string; size_bytes?: number }[] = [];
  for (const s of segs) {
    const p = fs.resolve(chunksDir, s);
    await bucket.upload(`${id}/chunks/${s}`, await reopenable(() => fs.openRead(p))); // re-opened if a retry sends it again
    files.push({ rel_path: `chunks/${s}`, size_bytes: (await fs.stat(p)).size });
  }
  const idx = fs.resolve(dir, 'index');
  if (!(await fs.exists(idx))) throw new BlockWriteError(`upload ${dir}: index file missing`);
  await bucket.upload(`${id}/index`, await reopenable(() => fs.openRead(idx)));
  files.push({ rel_path: 'index', size_bytes: (await fs.stat(idx)).size }, { rel_path: META_FILENAME });
  if (meta.thanos) meta = { ...meta, thanos: { ...meta.thanos, files: meta.thanos.files ?? files } };
  await bucket.upload(`${id}/${META_FILENAME}`, new TextEncoder().encode(formatMeta(meta)));
  return meta;
}

/** Uploads an in-memory block (files keyed by relative path, as memBlockSink produces). */
export async function uploadBlockFiles(bucket: Bucket, files: Map<string, Uint8Array>): Promise<BlockMeta> {
  const metaBytes = files.get(META_FILENAME);
  if (!metaBytes) throw new PartialBlockError('<memory>');
  const meta = parseMeta(metaBytes);
  const rels = [...files.keys()].filter((k) => k.startsWith('chunks/')).sort();
  for (const r of rels) await bucket.upload(`${meta.ulid}/${r}`, files.get(r)!);
  const idx = files.get('index');
  if (!idx) throw new BlockWriteError(`upload ${meta.ulid}: index file missing`);
  await bucket.upload(`${meta.ulid}/index`, idx);
  await bucket.upload(`${meta.ulid}/${META_FILENAME}`, metaBytes);
  return meta;
}

/** Downloads block `id` into `<parentDir>/<id>`; partial downloads never appear under that name. */
export async function downloadBlock(bucket: Bucket, id: string, fs: FsCapability, parentDir: string): Promise<string> {
  let metaBytes: Uint8Array;
  try {
    metaBytes = await readAll(await bucket.get(`${id}/${META_FILENAME}`));
  } catch (e) {
    if (bucket.isObjNotFoundErr(e)) throw new PartialBlockError(id);
    throw e;
  }
  parseMeta(metaBytes, id);
  const final = fs.resolve(parentDir, id);
  const tmp = fs.resolve(parentDir, `${id}.tmp-for-download`);
  await removeIfExists(fs, tmp);
  await fs.mkdir(fs.resolve(tmp, 'chunks'), { recursive: true });
  try {
    for await (const name of bucket.iter(`${id}/chunks/`)) {
      const base = name.slice(name.lastIndexOf('/') + 1);
      if (!base) continue;
      await fs.writeFile(fs.resolve(tmp, 'chunks', base), await bucket.get(name));
    }
    await fs.writeFile(fs.resolve(tmp, 'index'), await bucket.get(`${id}/index`));
    await fs.writeFile(fs.resolve(tmp, META_FILENAME), metaBytes);
    await removeIfExists(fs, final);
    await fs.rename(tmp, final);
  } catch (e) {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return final;
}

/** True when the bucket holds `<id>/meta.json` (a complete upload). */
export function isCompleteBlock(bucket: Bucket, id: string): Promise<boolean> {
  return bucket.exists(`${id}/${META_FILENAME}`);
}

/** The FsCapability's remove is strict (a missing path is an error); a leftover may or may not exist. */
async function removeIfExists(fs: FsCapability, path: string): Promise<void> {
  if (await fs.exists(path)) await fs.remove(path, { recursive: true });
}

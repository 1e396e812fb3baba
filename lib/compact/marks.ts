// Block markers (deletion-mark.json, no-compact-mark.json, no-downsample-mark.json) and block
// deletion in Thanos's order: meta.json first (the block turns partial at once, so readers drop it),
// then every other file, the deletion mark last.
import type { Bucket } from '../objstore/bucket.ts';
import { readAll } from '../objstore/bucket.ts';

export const DELETION_MARK = 'deletion-mark.json';
export const NO_COMPACT_MARK = 'no-compact-mark.json';
export const NO_DOWNSAMPLE_MARK = 'no-downsample-mark.json';
export const MARKERS = [DELETION_MARK, NO_COMPACT_MARK, NO_DOWNSAMPLE_MARK] as const;
export type MarkerName = (typeof MARKERS)[number];

const te = new TextEncoder();

/** Writes a marker for block `id` (Unix seconds as Thanos does). Returns false if the block has none of its files. */
export async function writeMarker(bucket: Bucket, id: string, marker: MarkerName, details: string, nowMs = Date.now(), reason = 'manual'): Promise<void> {
  const t = Math.floor(nowMs / 1000);
  let body: Record<string, unknown>;
  if (marker === DELETION_MARK) body = { id, deletion_time: t, version: 1, details };
  else if (marker === NO_COMPACT_MARK) body = { id, version: 1, details, no_compact_time: t, reason };
  else body = { id, version: 1, details, no_downsample_time: t, reason };
  await bucket.upload(`${id}/${marker}`, te.encode(JSON.stringify(body, null, '\t') + '\n'));
}

export async function hasMarker(bucket: Bucket, id: string, marker: MarkerName): Promise<boolean> {
  return bucket.exists(`${id}/${marker}`);
}

/** Reads a marker's JSON (undefined when absent). */
export async function readMarker(bucket: Bucket, id: string, marker: MarkerName): Promise<Record<string, unknown> | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readAll(await bucket.get(`${id}/${marker}`));
  } catch (e) {
    if (bucket.isObjNotFoundErr(e)) return undefined;
    throw e;
  }
  try {
    const o = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('not a JSON object');
    return o as Record<string, unknown>;
  } catch (e) {
    throw new Error(`block ${id}: ${marker}: ${(e as Error).message}`);
  }
}

/** Deletes every object of a block: meta.json first, deletion-mark.json last. Missing objects are fine. */
export async function deleteBlock(bucket: Bucket, id: string): Promise<number> {
  const del = async (name: string) => {
    try {
      await bucket.delete(name);
      return 1;
    } catch (e) {
      if (bucket.isObjNotFoundErr(e)) return 0;
      throw e;
    }
  };
  let n = await del(`${id}/meta.json`);
  const rest: string[] = [];
  for await (const name of bucket.iter(`${id}/`, { recursive: true })) {
    if (name.endsWith('/') || name === `${id}/meta.json` || name === `${id}/${DELETION_MARK}`) continue;
    rest.push(name);
  }
  for (const name of rest) n += await del(name);
  n += await del(`${id}/${DELETION_MARK}`);
  return n;
}

// Opening a block for the gateway: its index read through ranged GETs (symbols and the postings
// offset table at open, postings/series on demand), and chunk segments read by ranged GETs with the
// sizes from meta.json when it lists them (saving an attributes call per segment).
import type { Bucket, Core } from '../../../host/index.ts';
import type { BlockMeta } from '../../../lib/store/blocksync/meta.ts';
import { bucketSource } from '../../../lib/tsdb/bytesource.ts';
import { IndexReader } from '../../../lib/tsdb/index.ts';
import { ChunkReader } from '../../../lib/tsdb/chunks.ts';
import type { OpenedBlock } from './bucketstore.ts';

export async function openBucketBlock(bucket: Bucket, core: Core, meta: BlockMeta): Promise<OpenedBlock> {
  const id = meta.ulid;
  const sizes = new Map<string, number>();
  for (const f of meta.thanos.files ?? []) if (typeof f.size_bytes === 'number') sizes.set(f.rel_path, f.size_bytes);
  let segments: number | undefined;
  const listed = [...sizes.keys()].filter((p) => /^chunks\/\d{6}$/.test(p));
  if (listed.length) segments = listed.length;
  else {
    segments = 0;
    for await (const n of bucket.iter(`${id}/chunks/`)) if (/\/\d{6}$/.test(n)) segments++;
  }
  const index = await IndexReader.open(bucketSource(bucket, `${id}/index`, sizes.get('index')), { core, block: id });
  const chunks = new ChunkReader(async (seg) => bucketSource(bucket, `${id}/chunks/${seg}`, sizes.get(`chunks/${seg}`)), id, segments);
  return { index, chunks };
}

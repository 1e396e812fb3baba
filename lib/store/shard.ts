// Vertical query sharding on the store side (Thanos storepb.ShardInfo / ShardMatcher): a Series
// request may carry shard_info {shard_index, total_shards, by, labels}; the store then answers only
// the series whose hash of the sharding labels (by: those labels; without: all labels but those)
// falls in its shard: xxhash64(name 0xff value 0xff ...) % total_shards == shard_index, over the
// series' complete label set as sent (external labels added, without_replica_labels removed).
// The query-frontend sends one such request per shard of a shardable query and concatenates the
// answers: every output series of the query depends on the series of one shard only.
// The same ShardInfo travels as JSON in the query API's `shard_info` parameter (Go's encoding of
// the gogo struct: snake_case names, zero values omitted).
import type { Label } from '../labels/mod.ts';
import type { SeriesResponse, ShardInfo } from '../proto/store.ts';
import { xxhash64 } from '../receive/xxhash64.ts';
import { isTransient, markTransient } from './api.ts';

export type { ShardInfo } from '../proto/store.ts';

const enc = new TextEncoder();

/**
 * The predicate of one shard, or undefined when the request is not sharded (no shard_info or
 * total_shards < 1, as upstream's Matcher).
 */
export function shardMatcher(info: ShardInfo | undefined): ((labels: readonly Label[]) => boolean) | undefined {
  if (!info || info.totalShards < 1) return undefined;
  const set = new Set(info.labels);
  const total = BigInt(info.totalShards);
  const index = BigInt(info.shardIndex);
  let buf = new Uint8Array(1024);
  return (labels) => {
    let n = 0;
    const put = (s: string) => {
      if (n + s.length * 3 + 1 > buf.length) {
        const next = new Uint8Array(Math.max(buf.length * 2, n + s.length * 3 + 1));
        next.set(buf.subarray(0, n));
        buf = next;
      }
      n += enc.encodeInto(s, buf.subarray(n)).written;
      buf[n++] = 0xff;
    };
    for (const l of labels) {
      if (set.has(l.name) !== info.by) continue;
      put(l.name);
      put(l.value);
    }
    return xxhash64(buf.subarray(0, n)) % total === index;
  };
}

/** The series stream of a store, keeping only the request's shard (unchanged when not sharded). */
export async function* filterShard(src: AsyncIterable<SeriesResponse>, info: ShardInfo | undefined): AsyncGenerator<SeriesResponse> {
  const matches = shardMatcher(info);
  if (!matches) {
    yield* src;
    return;
  }
  for await (const r of src) {
    if (r.type === 'series') {
      if (matches(r.series.labels)) yield r;
    } else if (r.type === 'batch') {
      const kept = r.batch.filter((s) => matches(s.labels));
      if (kept.length > 0) {
        const out: SeriesResponse = { type: 'batch', batch: kept };
        yield isTransient(r) ? markTransient(out) : out;
      }
    } else yield r;
  }
}

export class ShardInfoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardInfoError';
  }
}

function int64Field(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ShardInfoError(`json: cannot unmarshal ${JSON.stringify(v)} into Go struct field ShardInfo.${k} of type int64`);
  return v;
}

/** The `shard_info` query parameter (JSON, as Go's encoding/json reads it into storepb.ShardInfo). */
export function parseShardInfoJson(text: string): ShardInfo {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new ShardInfoError((e as Error).message);
  }
  if (o === null) return { shardIndex: 0, totalShards: 0, by: false, labels: [] };
  if (typeof o !== 'object' || Array.isArray(o)) throw new ShardInfoError('json: cannot unmarshal non-object into Go value of type storepb.ShardInfo');
  const r = o as Record<string, unknown>;
  const by = r.by ?? false;
  if (typeof by !== 'boolean') throw new ShardInfoError('json: cannot unmarshal into Go struct field ShardInfo.by of type bool');
  const labels = r.labels ?? [];
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) throw new ShardInfoError('json: cannot unmarshal into Go struct field ShardInfo.labels of type []string');
  const info: ShardInfo = { shardIndex: int64Field(r, 'shard_index'), totalShards: int64Field(r, 'total_shards'), by, labels: labels as string[] };
  if (info.totalShards > 0 && (info.shardIndex < 0 || info.shardIndex >= info.totalShards)) {
    // upstream would answer an empty shard; a shard that cannot exist is a caller's mistake
    throw new ShardInfoError(`shard_index ${info.shardIndex} out of range for total_shards ${info.totalShards}`);
  }
  return info;
}

/** storepb.ShardInfo as Go's json.Marshal writes it (fields with zero values omitted). */
export function encodeShardInfoJson(info: ShardInfo): string {
  const o: Record<string, unknown> = {};
  if (info.shardIndex !== 0) o.shard_index = info.shardIndex;
  if (info.totalShards !== 0) o.total_shards = info.totalShards;
  if (info.by) o.by = true;
  if (info.labels.length > 0) o.labels = info.labels;
  return JSON.stringify(o);
}

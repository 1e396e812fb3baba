// Thanos AggrChunk (pkg/compact/downsample/aggr.go), stored with chunk encoding 0xff: for each of
// count, sum, min, max, counter in that order, `uvarint(len(data))` then `encoding<1B>` then data;
// an absent aggregate is a lone uvarint 0. The numbering (AGGR_COUNT=0 .. AGGR_COUNTER=4) is
// lib/core/aggr.ts's, re-exported here for lib/tsdb's users.
import { AGGR_NAMES } from '../core/aggr.ts';
import { Decbuf, Encbuf } from './encoding.ts';
import type { RawChunk } from './chunks.ts';

export { AGGR_COUNT, AGGR_SUM, AGGR_MIN, AGGR_MAX, AGGR_COUNTER, AGGR_NAMES, type AggrName } from '../core/aggr.ts';

export class AggrChunkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AggrChunkError';
  }
}

export function encodeAggrChunk(parts: readonly (RawChunk | undefined)[]): Uint8Array {
  if (parts.length !== 5) throw new AggrChunkError(`AggrChunk needs 5 aggregates, got ${parts.length}`);
  // sized once (uvarint ≤ 10 bytes, encoding byte, data): no growing and copying as it fills
  let cap = 0;
  for (const p of parts) cap += p ? 11 + p.data.length : 1;
  const e = new Encbuf(cap);
  for (const p of parts) {
    if (!p) { e.uvarint(0); continue; }
    e.uvarint(p.data.length);
    e.byte(p.encoding);
    e.bytes(p.data);
  }
  return e.get(); // its own buffer: a view saves copying it once more
}

/** Splits an AggrChunk (data after the 0xff encoding byte) into its five parts (undefined = absent). */
export function decodeAggrChunk(data: Uint8Array): (RawChunk | undefined)[] {
  const d = new Decbuf(data);
  const out: (RawChunk | undefined)[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      if (d.remaining === 0) { out.push(undefined); continue; }
      const l = d.uvarint();
      if (l === 0) { out.push(undefined); continue; }
      const enc = d.byte();
      out.push({ encoding: enc, data: d.bytes(l) });
    }
  } catch (e) {
    throw new AggrChunkError(`invalid AggrChunk: ${(e as Error).message}`);
  }
  return out;
}

/** One aggregate of an AggrChunk; throws when it is absent ("aggregate X does not exist"). */
export function aggrChunkGet(data: Uint8Array, which: number): RawChunk {
  const p = decodeAggrChunk(data)[which];
  if (!p) throw new AggrChunkError(`aggregate ${AGGR_NAMES[which] ?? which} does not exist`);
  return p;
}

// `bucket rewrite`: a copy of a block without the series (or the time intervals of series) that
// deletion requests select. The YAML is Thanos's --rewrite.to-delete-config: a list of
// { matchers: '<selector>', intervals: [{ mint, maxt }], request_id }; no intervals = whole series.
import { parse as parseYaml } from '../cjs/yaml.ts';
import type { Core } from '../core/types.ts';
import { compileMatcher, matchLabels, type CompiledMatcher } from '../labels/mod.ts';
import { BlockReader, BlockWriter, decodeSeriesChunks, parseSelector, ENC_XOR, ENC_FLOAT_HISTOGRAM, type BlockSink, type BlockMeta } from '../tsdb/mod.ts';

export interface DeleteRequest {
  selector: string;
  matchers: CompiledMatcher[];
  /** Inclusive ms intervals; empty = the whole series. */
  intervals: { mint: number; maxt: number }[];
  requestId?: string;
}

export class RewriteConfigError extends Error {}

export function parseDeleteConfig(text: string): DeleteRequest[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new RewriteConfigError(`deletion config: invalid YAML: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new RewriteConfigError('deletion config: expected a list of {matchers, intervals, request_id}');
  return raw.map((r, i) => {
    if (typeof r !== 'object' || r === null) throw new RewriteConfigError(`deletion config [${i}]: expected a mapping`);
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['matchers', 'intervals', 'request_id'].includes(k)) throw new RewriteConfigError(`deletion config [${i}]: unknown key "${k}"`);
    if (typeof o.matchers !== 'string') throw new RewriteConfigError(`deletion config [${i}].matchers: expected a selector string like '{__name__="up"}'`);
    let matchers: CompiledMatcher[];
    try {
      matchers = parseSelector(o.matchers).map(compileMatcher);
    } catch (e) {
      throw new RewriteConfigError(`deletion config [${i}].matchers: ${(e as Error).message}`);
    }
    const ivs = o.intervals ?? [];
    if (!Array.isArray(ivs)) throw new RewriteConfigError(`deletion config [${i}].intervals: expected a list of {mint, maxt}`);
    const intervals = ivs.map((iv, j) => {
      const x = iv as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || !Number.isInteger(x.mint) || !Number.isInteger(x.maxt) || (x.mint as number) > (x.maxt as number)) {
        throw new RewriteConfigError(`deletion config [${i}].intervals[${j}]: expected {mint, maxt} integers (ms) with mint <= maxt`);
      }
      return { mint: x.mint as number, maxt: x.maxt as number };
    });
    return { selector: o.matchers, matchers, intervals, requestId: typeof o.request_id === 'string' ? o.request_id : undefined };
  });
}

export interface RewriteResult {
  meta: BlockMeta;
  seriesDeleted: number;
  seriesChanged: number;
  samplesDeleted: number;
}

export async function rewriteBlock(src: BlockReader, reqs: readonly DeleteRequest[], sink: BlockSink, core: Core): Promise<RewriteResult> {
  const m = src.meta;
  const res = m.thanos?.downsample.resolution ?? 0;
  const rewrites = [...((m.thanos?.rewrites as unknown[] | undefined) ?? []), {
    sources: m.compaction.sources ?? [m.ulid],
    deletions_applied: reqs.map((r) => ({ matchers: r.selector, ...(r.intervals.length ? { intervals: r.intervals } : {}), ...(r.requestId ? { request_id: r.requestId } : {}) })),
  }];
  const w = await BlockWriter.create(sink, src.index.symbols, {
    core, minTime: m.minTime, maxTime: m.maxTime, compaction: { ...m.compaction, sources: m.compaction.sources ?? [m.ulid] },
    thanos: { ...(m.thanos ?? { labels: {}, downsample: { resolution: 0 } }), labels: m.thanos?.labels ?? {}, downsample: { resolution: res }, files: undefined, index_stats: undefined, source: 'rewrite', rewrites },
  });
  let seriesDeleted = 0, seriesChanged = 0, samplesDeleted = 0;
  try {
    for await (const s of src.selectChunks([{ type: '=~', name: '__name__', value: '.*' }])) {
      const hit = reqs.filter((r) => matchLabels(r.matchers, s.labels));
      const stones = src.tombstones.get(s.ref);
      // XOR and histogram chunks (encodings 1..3) alike start with their 2-byte sample count
      const count = () => s.chunks.reduce((a, c) => a + (c.encoding >= ENC_XOR && c.encoding <= ENC_FLOAT_HISTOGRAM && c.data.length >= 2 ? (c.data[0]! << 8) | c.data[1]! : 0), 0);
      if (hit.some((r) => r.intervals.length === 0)) {
        seriesDeleted++;
        samplesDeleted += count();
        continue;
      }
      if (hit.length === 0 && !stones) {
        await w.addSeriesChunks(s.labels, s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, encoding: c.encoding, data: c.data })));
        continue;
      }
      if (res !== 0) throw new Error(`rewrite: deleting time intervals from downsampled block ${m.ulid} is not supported (delete whole series instead)`);
      const d = decodeSeriesChunks(core, s.chunks, -Infinity, Infinity, stones, src.files.name);
      const ivs = hit.flatMap((r) => r.intervals);
      const t = new Float64Array(d.n), v = new Float64Array(d.n);
      // native histogram samples (and whether each came from an integer chunk) kept alongside
      const h = d.h ? [] as NonNullable<typeof d.h> : undefined;
      const intHist = d.h ? new Uint8Array(d.n) : undefined;
      let n = 0;
      for (let i = 0; i < d.n; i++) {
        const ti = d.t[i]!;
        if (ivs.some((iv) => ti >= iv.mint && ti <= iv.maxt)) continue;
        t[n] = ti; v[n] = d.v[i]!;
        if (h) { h.push(d.h![i]); intHist![n] = d.intHist?.[i] ?? 0; }
        n++;
      }
      samplesDeleted += d.n - n;
      if (n === 0) { seriesDeleted++; continue; }
      if (n !== d.n) seriesChanged++;
      await w.addMixedSeries(s.labels, { t: t.subarray(0, n), v: v.subarray(0, n), n, h, intHist });
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  const { meta } = await w.finish();
  return { meta, seriesDeleted, seriesChanged, samplesDeleted };
}

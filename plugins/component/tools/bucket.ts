// `thanos tools bucket …` (also spelled `thanos bucket …`, and `thanos downsample`): ls, inspect,
// web, verify, mark, cleanup, retention, downsample over the blocks of --objstore.config[-file].
import {
  parseFlags, COMMON_FLAGS, FlagError, notImplementedYet, refuseUnusedCommonFlags, type ComponentContext, type FlagSpec, type ToolCommand, type TextOut,
} from '../../../lib/sdk/mod.ts';
import { MetaFetcher, DeletionMarkFilter, TimePartitionFilter, type FetchResult } from '../../../lib/store/blocksync/fetcher.ts';
import { parseGoDurationFlag, parseModelDurationFlag, parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import type { BucketBlockMeta as BlockMeta } from '../../../lib/tsdb/meta.ts';
import { Compactor, tolerantRemove } from '../../../lib/compact/compactor.ts';
import { MARKERS, writeMarker, type MarkerName } from '../../../lib/compact/marks.ts';
import { RES_LEVEL1_DOWNSAMPLE_RANGE, RES_LEVEL2_DOWNSAMPLE_RANGE, labelsString } from '../../../lib/compact/plan.ts';
import { overlappedBlocks, verifyBlockIndex, VERIFY_ISSUES, type VerifyIssue } from '../../../lib/compact/verify.ts';
import { bucketWebHandler } from '../../../lib/compact/web.ts';
import { normalizeWebPrefix, webPrefixFor } from '../../../lib/web/ui.ts';
import { isULID, parseMeta, uploadBlock, downloadBlock, BlockReader, fsBlockFiles, fsBlockSink } from '../../../lib/tsdb/mod.ts';
import { parseDeleteConfig, rewriteBlock } from '../../../lib/compact/rewrite.ts';
import { splitHostPort } from '../../../lib/net/hostport.ts';

export class UsageError extends Error {}

export function out(ctx: ComponentContext, which: 'stdout' | 'stderr'): TextOut {
  const t = ctx[which];
  if (t) return t;
  const c = globalThis.console;
  return { write: (s: string) => (which === 'stdout' ? c.log(s.replace(/\n$/, '')) : c.error(s.replace(/\n$/, ''))) };
}

const OBJSTORE = ['objstore.config-file', 'objstore.config'];
/** The host flags each command uses; the others are refused (they would have no effect). */
const HOST_FLAGS_USED: Record<string, string[]> = {
  'bucket downsample': [...OBJSTORE, 'data-dir'],
  'bucket web': [...OBJSTORE, 'http-address', 'http.config'],
  'bucket replicate': [...OBJSTORE, 'http-address', 'http.config'],
};

/** Wraps a command body: flag parsing, usage errors (exit 2) and failures (exit 1). */
export function command(name: string, help: string, ownFlags: FlagSpec[], body: (ctx: ComponentContext, v: Record<string, unknown>) => Promise<number>, aliases?: string[]): ToolCommand {
  const flags = [...ownFlags, ...refuseUnusedCommonFlags(`thanos tools ${name}`, HOST_FLAGS_USED[name] ?? OBJSTORE)];
  return {
    name,
    help,
    flags,
    aliases,
    async run(ctx, argv) {
      try {
        const p = parseFlags(argv, [...COMMON_FLAGS, ...flags], { context: `thanos tools ${name}` });
        return await body(ctx, p.values);
      } catch (e) {
        await out(ctx, 'stderr').write(`thanos tools ${name}: ${(e as Error).message}\n`);
        return e instanceof UsageError || e instanceof FlagError ? 2 : 1;
      }
    },
  };
}

/** A duration flag's value: model.Duration unless the Thanos flag is a time.Duration (parseGoDurationFlag). */
export function dur(v: unknown, flag: string, parse: (s: string) => number = parseModelDurationFlag): number {
  try {
    return parse(String(v));
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

const TIME_FLAGS: FlagSpec[] = [
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Only blocks overlapping this time or later (RFC3339 or duration relative to now, e.g. -2w).' },
  { name: 'max-time', key: 'maxTime', type: 'string', default: '9999-12-31T23:59:59Z', help: 'Only blocks overlapping this time or earlier (RFC3339 or duration relative to now).' },
];

async function fetchMetas(ctx: ComponentContext, v: Record<string, unknown>, opts: { excludeDelete?: boolean } = {}): Promise<FetchResult> {
  const bucket = await ctx.bucket();
  const filters = [];
  if (v.minTime !== undefined || v.maxTime !== undefined) {
    let lo: number, hi: number;
    try {
      lo = parseTimeOrDuration(String(v.minTime ?? '0000-01-01T00:00:00Z'));
      hi = parseTimeOrDuration(String(v.maxTime ?? '9999-12-31T23:59:59Z'));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    filters.push(new TimePartitionFilter(lo, hi));
  }
  if (opts.excludeDelete) filters.push(new DeletionMarkFilter(-1));
  const res = await new MetaFetcher(bucket, { filters, log: ctx.log }).fetch();
  for (const [id, err] of res.corrupted) ctx.log.warn('skipping block with unreadable meta.json', { block: id, err });
  return res;
}

function sortedMetas(res: FetchResult): BlockMeta[] {
  return [...res.metas.values()].sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
}

/** Go's time.Duration String(): 2h0m0s, 1h30m0s, 45s, 1.5s, 0s. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let x = Math.abs(ms);
  if (x < 1000) return `${neg ? '-' : ''}${x}ms`;
  const h = Math.floor(x / 3_600_000);
  x -= h * 3_600_000;
  const m = Math.floor(x / 60_000);
  x -= m * 60_000;
  const s = x / 1000;
  const body = h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
  return (neg ? '-' : '') + body;
}

export function fmtTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

// ---- ls ----

const lsFlags: FlagSpec[] = [
  { name: 'output', short: 'o', key: 'output', type: 'string', default: '', help: 'Output format: "" (ULIDs), json (one meta.json per line) or wide.' },
  { name: 'exclude-delete', key: 'excludeDelete', type: 'bool', help: 'Exclude blocks marked for deletion.' },
  ...TIME_FLAGS,
];

export const bucketLs = command('bucket ls', 'List all blocks in the bucket.', lsFlags, async (ctx, v) => {
  const fmt = String(v.output ?? '');
  if (!['', 'text', 'json', 'wide'].includes(fmt)) throw new UsageError(`--output: unknown format "${fmt}" (want json, wide or nothing)`);
  const res = await fetchMetas(ctx, v, { excludeDelete: v.excludeDelete === true });
  const w = out(ctx, 'stdout');
  let lines = '';
  for (const m of sortedMetas(res)) {
    if (fmt === 'json') lines += JSON.stringify(m.raw) + '\n';
    else if (fmt === 'wide') {
      lines += `${m.ulid} -- ${fmtTime(m.minTime)} - ${fmtTime(m.maxTime)} Diff: ${goDuration(m.maxTime - m.minTime)}, Compaction: ${m.compaction.level}, Downsample: ${m.thanos.downsample.resolution}, Source: ${m.thanos.source ?? ''}, Labels: ${labelsString(m.thanos.labels)}\n`;
    } else lines += m.ulid + '\n';
  }
  await w.write(lines);
  return 0;
});

// ---- inspect ----

const INSPECT_COLUMNS = ['ULID', 'FROM', 'UNTIL', 'RANGE', 'UNTIL-DOWN', '#SERIES', '#SAMPLES', '#CHUNKS', 'COMP-LEVEL', 'COMP-FAILED', 'LABELS', 'RESOLUTION', 'SOURCE'];

const inspectFlags: FlagSpec[] = [
  { name: 'selector', short: 'l', key: 'selector', type: 'strings', default: [], help: 'Selects blocks by external label, e.g. -l cluster=eu (repeatable; all must match).' },
  { name: 'sort-by', key: 'sortBy', type: 'strings', default: ['FROM', 'UNTIL'], help: `Sort by columns (${INSPECT_COLUMNS.join(', ')}); repeatable.` },
  { name: 'output', key: 'output', type: 'string', default: 'table', help: 'Output format: table, csv or tsv.' },
  { name: 'timeout', key: 'timeout', type: 'duration', help: 'Timeout to download metadata from remote storage.', refused: notImplementedYet('thanos tools bucket inspect', 'metadata downloads have no deadline') },
];

function untilDown(m: BlockMeta): string {
  const r = m.thanos.downsample.resolution;
  const range = m.maxTime - m.minTime;
  if (r === 0) return goDuration(Math.max(0, RES_LEVEL1_DOWNSAMPLE_RANGE - range));
  if (r === 300_000) return goDuration(Math.max(0, RES_LEVEL2_DOWNSAMPLE_RANGE - range));
  return '-';
}

export function inspectRows(metas: readonly BlockMeta[]): { cells: string[]; sortKeys: (string | number)[] }[] {
  return metas.map((m) => {
    const st = m.stats ?? {};
    const res = m.thanos.downsample.resolution;
    const labels = Object.keys(m.thanos.labels).sort().map((k) => `${k}=${m.thanos.labels[k]}`).join(',');
    const cells = [m.ulid, fmtTime(m.minTime), fmtTime(m.maxTime), goDuration(m.maxTime - m.minTime), untilDown(m), String(st.numSeries ?? 0), String(st.numSamples ?? 0), String(st.numChunks ?? 0), String(m.compaction.level), String(m.compaction.failed === true), labels, goDuration(res), String(m.thanos.source ?? '')];
    const sortKeys = [m.ulid, m.minTime, m.maxTime, m.maxTime - m.minTime, cells[4]!, st.numSeries ?? 0, st.numSamples ?? 0, st.numChunks ?? 0, m.compaction.level, cells[9]!, labels, res, cells[12]!];
    return { cells, sortKeys };
  });
}

export function formatTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |\n';
  const sep = '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|\n';
  return line(header) + sep + rows.map(line).join('');
}

export const bucketInspect = command('bucket inspect', 'Inspect all blocks in the bucket in detailed, table-like way.', inspectFlags, async (ctx, v) => {
  const fmt = String(v.output);
  if (!['table', 'csv', 'tsv'].includes(fmt)) throw new UsageError(`--output: unknown format "${fmt}" (want table, csv or tsv)`);
  const sel: Record<string, string> = {};
  for (const s of (v.selector as string[]) ?? []) {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`--selector: expected name=value, got "${s}"`);
    sel[s.slice(0, i)] = s.slice(i + 1).replace(/^"(.*)"$/, '$1');
  }
  const sortBy = ((v.sortBy as string[]) ?? []).map((c) => c.toUpperCase());
  for (const c of sortBy) if (!INSPECT_COLUMNS.includes(c)) throw new UsageError(`--sort-by: unknown column "${c}" (columns: ${INSPECT_COLUMNS.join(', ')})`);
  const res = await fetchMetas(ctx, v);
  const metas = sortedMetas(res).filter((m) => Object.entries(sel).every(([k, x]) => m.thanos.labels[k] === x));
  const rows = inspectRows(metas);
  const idx = sortBy.map((c) => INSPECT_COLUMNS.indexOf(c));
  rows.sort((a, b) => {
    for (const i of idx) {
      const x = a.sortKeys[i]!, y = b.sortKeys[i]!;
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  });
  const w = out(ctx, 'stdout');
  if (fmt === 'table') await w.write(formatTable(INSPECT_COLUMNS, rows.map((r) => r.cells)));
  else {
    const sepc = fmt === 'csv' ? ',' : '\t';
    const q = (c: string) => (fmt === 'csv' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
    await w.write([INSPECT_COLUMNS, ...rows.map((r) => r.cells)].map((r) => r.map(q).join(sepc)).join('\n') + '\n');
  }
  return 0;
});

// ---- verify ----

const verifyFlags: FlagSpec[] = [
  { name: 'issues', short: 'i', key: 'issues', type: 'strings', default: ['index_known_issues', 'overlapped_blocks'], help: `Issues to verify: ${VERIFY_ISSUES.join(', ')} (repeatable).` },
  { name: 'repair', short: 'r', key: 'repair', type: 'bool', help: 'Attempt to repair blocks (not supported here: verify only).' },
  { name: 'id', key: 'ids', type: 'strings', default: [], help: 'Block IDs to verify (repeatable); default all.' },
  { name: 'delete-delay', key: 'deleteDelay', type: 'duration', help: 'Duration after which blocks marked for deletion by a repair are deleted.', refused: notImplementedYet('thanos tools bucket verify', 'there is no --repair') },
];

export const bucketVerify = command('bucket verify', 'Verify all blocks in the bucket against specified issues. Prints every issue found; exits 1 when there are any.', verifyFlags, async (ctx, v) => {
  if (v.repair === true) throw new UsageError('--repair is not supported: this verify only reports issues');
  const issues = (v.issues as string[]) ?? [];
  for (const i of issues) if (!(VERIFY_ISSUES as readonly string[]).includes(i)) throw new UsageError(`--issues: unknown issue "${i}" (known: ${VERIFY_ISSUES.join(', ')})`);
  const ids = new Set((v.ids as string[]) ?? []);
  const res = await fetchMetas(ctx, {}, { excludeDelete: true });
  let metas = sortedMetas(res);
  if (ids.size) {
    for (const id of ids) if (!res.metas.has(id)) throw new UsageError(`--id ${id}: no such block (or it is marked for deletion)`);
    metas = metas.filter((m) => ids.has(m.ulid));
  }
  const found: VerifyIssue[] = [];
  if (issues.includes('overlapped_blocks')) found.push(...overlappedBlocks(sortedMetas(res)).filter((i) => !ids.size || i.blocks.some((b) => ids.has(b))));
  if (issues.includes('index_known_issues')) {
    const bucket = await ctx.bucket();
    for (const m of metas) found.push(...(await verifyBlockIndex(bucket, ctx.core, m)));
  }
  for (const p of res.partial) ctx.log.info('partial block (no meta.json), skipped', { block: p });
  const w = out(ctx, 'stdout');
  let text = '';
  for (const f of found) text += `issue=${f.issue} ${f.message}\n`;
  text += `verified ${metas.length} blocks (${issues.join(', ')}): ${found.length} issue(s)\n`;
  await w.write(text);
  return found.length ? 1 : 0;
});

// ---- mark ----

const markFlags: FlagSpec[] = [
  { name: 'id', key: 'ids', type: 'strings', default: [], help: 'ID (ULID) of the block to mark (repeatable, required).' },
  { name: 'marker', key: 'marker', type: 'string', help: `Marker to set: ${MARKERS.join(', ')} (required).` },
  { name: 'details', key: 'details', type: 'string', help: 'Human readable details to put into the marker (required unless --remove).' },
  { name: 'remove', key: 'remove', type: 'bool', help: 'Remove the marker instead of setting it.' },
];

export const bucketMark = command('bucket mark', 'Mark blocks for deletion or no-compact/no-downsample in a safe way.', markFlags, async (ctx, v) => {
  const ids = (v.ids as string[]) ?? [];
  if (!ids.length) throw new UsageError('--id is required');
  const marker = v.marker as string | undefined;
  if (!marker || !(MARKERS as readonly string[]).includes(marker)) throw new UsageError(`--marker must be one of ${MARKERS.join(', ')}${marker ? `, got "${marker}"` : ''}`);
  if (v.remove !== true && !v.details) throw new UsageError('--details is required');
  const bucket = await ctx.bucket();
  for (const id of ids) if (!(await bucket.exists(`${id}/meta.json`))) throw new UsageError(`block ${id} not found (no ${id}/meta.json)`);
  const w = out(ctx, 'stdout');
  for (const id of ids) {
    if (v.remove === true) {
      if (await bucket.exists(`${id}/${marker}`)) await bucket.delete(`${id}/${marker}`);
      ctx.log.info('removed marker', { block: id, marker });
      await w.write(`removed ${marker} from ${id}\n`);
    } else {
      await writeMarker(bucket, id, marker as MarkerName, String(v.details));
      ctx.log.info('marked block', { block: id, marker });
      await w.write(`marked ${id} with ${marker}\n`);
    }
  }
  return 0;
});

// ---- cleanup / retention / downsample (the compactor's passes, once) ----

function compactorFor(ctx: ComponentContext, bucket: Awaited<ReturnType<ComponentContext['bucket']>>, extra: Partial<ConstructorParameters<typeof Compactor>[0]>): Compactor {
  return new Compactor({ bucket, fs: ctx.fs, core: ctx.core, dataDir: ctx.fs.resolve(ctx.dataDir ?? './data'), log: ctx.log, garbageCollect: false, ...extra });
}

const cleanupFlags: FlagSpec[] = [
  { name: 'delete-delay', key: 'deleteDelay', type: 'duration', default: '48h', help: 'Time before a block marked for deletion is deleted from the bucket.' },
  { name: 'consistency-delay', key: 'consistencyDelay', type: 'duration', default: '30m', help: 'Minimum age of partial uploads considered aborted (at least 48h applies).' },
  { name: 'block-sync-concurrency', key: 'blockSyncConcurrency', type: 'int', help: 'Number of goroutines to use when syncing block metadata from object storage.', refused: notImplementedYet('thanos tools bucket cleanup', 'the metadata fetch uses its own fixed concurrency') },
];

export const bucketCleanup = command('bucket cleanup', 'Cleans up all blocks marked for deletion (older than --delete-delay) and aborted partial uploads.', cleanupFlags, async (ctx, v) => {
  const c = compactorFor(ctx, await ctx.bucket(), { deleteDelayMs: dur(v.deleteDelay, 'delete-delay'), consistencyDelayMs: dur(v.consistencyDelay, 'consistency-delay') });
  const r = await c.cleanup();
  await out(ctx, 'stdout').write(`deleted ${r.deleted} block(s) marked for deletion, ${r.partialDeleted} partial upload(s)\n`);
  return 0;
});

const retentionFlags: FlagSpec[] = [
  { name: 'retention.resolution-raw', key: 'retentionRaw', type: 'duration', default: '0d', help: 'How long to retain raw samples in bucket (0 = forever).' },
  { name: 'retention.resolution-5m', key: 'retention5m', type: 'duration', default: '0d', help: 'How long to retain samples of resolution 1 (5 minutes) in bucket (0 = forever).' },
  { name: 'retention.resolution-1h', key: 'retention1h', type: 'duration', default: '0d', help: 'How long to retain samples of resolution 2 (1 hour) in bucket (0 = forever).' },
];

export const bucketRetention = command('bucket retention', 'Marks blocks past the per-resolution retention for deletion (once).', retentionFlags, async (ctx, v) => {
  const retention = { raw: dur(v.retentionRaw, 'retention.resolution-raw'), m5: dur(v.retention5m, 'retention.resolution-5m'), h1: dur(v.retention1h, 'retention.resolution-1h') };
  const c = compactorFor(ctx, await ctx.bucket(), { retention, consistencyDelayMs: 0 });
  const n = await c.applyRetention();
  await out(ctx, 'stdout').write(`marked ${n} block(s) for deletion\n`);
  return 0;
});

const downsampleFlags: FlagSpec[] = [
  { name: 'downsample.concurrency', key: 'concurrency', type: 'int', default: 1, help: 'Number of blocks downsampled at once.' },
  { name: 'block-files-concurrency', key: 'blockFilesConcurrency', type: 'int', default: 1, help: 'Number of goroutines to use when fetching/uploading block files from object storage.', refused: notImplementedYet('thanos tools bucket downsample', 'the files of a block are transferred one after another'), accept: [1] },
  { name: 'wait-interval', key: 'waitInterval', type: 'duration', help: 'Wait interval between downsample runs.', refused: notImplementedYet('thanos tools bucket downsample', 'it runs the downsampling passes once and exits') },
  { name: 'hash-func', key: 'hashFunc', type: 'string', default: '', help: 'Hash function for the files of produced blocks: "" (none) only.', refused: notImplementedYet('thanos tools bucket downsample', 'no hashes are computed'), accept: [''] },
];

export const bucketDownsample = command('bucket downsample', 'Downsamples blocks once: raw blocks of at least 40h to 5m, 5m blocks of at least 10d to 1h.', downsampleFlags, async (ctx, v) => {
  const conc = Number(v.concurrency);
  if (!(conc >= 1)) throw new UsageError('--downsample.concurrency must be at least 1');
  const c = compactorFor(ctx, await ctx.bucket(), { consistencyDelayMs: 0, downsampleConcurrency: conc });
  const n = (await c.downsamplePass(ctx.signal)) + (await c.downsamplePass(ctx.signal));
  await out(ctx, 'stdout').write(`downsampled ${n} block(s)\n`);
  return 0;
});

// ---- upload-blocks ----

const uploadFlags: FlagSpec[] = [
  { name: 'path', key: 'path', type: 'string', default: './data', help: 'Path to the directory containing blocks to upload.' },
  { name: 'label', key: 'labels', type: 'strings', default: [], help: 'External label to add to every uploaded block, name="value" (repeatable, at least one).' },
  { name: 'shipper.upload-compacted', key: 'uploadCompacted', type: 'bool', help: 'Also upload compacted blocks (level > 1).' },
  { name: 'shipper.upload-concurrency', key: 'uploadConcurrency', type: 'int', help: 'Number of goroutines to use when uploading block files.', refused: notImplementedYet('thanos tools bucket upload-blocks', 'blocks and their files are uploaded one at a time'), accept: [1] },
];

export function parseExtLabels(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|([^"]*))$/.exec(s);
    if (!m) throw new UsageError(`--label: expected name="value", got ${JSON.stringify(s)}`);
    if (m[1]! in out) throw new UsageError(`--label: ${m[1]} given twice`);
    out[m[1]!] = m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : m[3]!;
  }
  return out;
}

export const bucketUploadBlocks = command('bucket upload-blocks', 'Uploads the blocks of a local directory (chunks, index, meta.json last) with the given external labels; skips blocks already in the bucket.', uploadFlags, async (ctx, v) => {
  const labels = parseExtLabels((v.labels as string[]) ?? []);
  if (Object.keys(labels).length === 0) throw new UsageError('--label is required (Thanos refuses blocks without external labels)');
  const fs = ctx.fs;
  const dir = fs.resolve(String(v.path));
  if (!(await fs.exists(dir))) throw new UsageError(`--path ${String(v.path)}: no such directory`);
  const bucket = await ctx.bucket();
  const w = out(ctx, 'stdout');
  let uploaded = 0, skipped = 0;
  for (const e of (await fs.readDir(dir)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory || !isULID(e.name)) continue;
    const bdir = fs.resolve(dir, e.name);
    if (!(await fs.exists(fs.resolve(bdir, 'meta.json')))) { ctx.log.warn('skipping partial block (no meta.json)', { block: e.name }); skipped++; continue; }
    const meta = parseMeta(await fs.readFile(fs.resolve(bdir, 'meta.json')), bdir);
    if (meta.compaction.level > 1 && v.uploadCompacted !== true) { ctx.log.info('skipping compacted block (use --shipper.upload-compacted)', { block: e.name, compaction_level: meta.compaction.level }); skipped++; continue; }
    if (await bucket.exists(`${meta.ulid}/meta.json`)) { skipped++; continue; }
    await uploadBlock(bucket, fs, bdir, { meta: (m) => ({ ...m, thanos: { ...(m.thanos ?? {}), version: 1, labels: { ...(m.thanos?.labels ?? {}), ...labels }, downsample: m.thanos?.downsample ?? { resolution: 0 }, source: m.thanos?.source || 'bucketupload', files: undefined } }) });
    ctx.log.info('uploaded block', { block: meta.ulid });
    uploaded++;
  }
  await w.write(`uploaded ${uploaded} block(s), skipped ${skipped}\n`);
  return 0;
});

// ---- rewrite ----

const rewriteFlags: FlagSpec[] = [
  { name: 'id', key: 'ids', type: 'strings', default: [], help: 'ID (ULID) of the block to rewrite (repeatable, required).' },
  { name: 'tmp.dir', key: 'tmpDir', type: 'string', help: 'Working directory for temporary files (default: a new temporary directory).' },
  { name: 'dry-run', key: 'dryRun', type: 'bool', default: true, help: 'Only print what would change (default); --no-dry-run uploads the rewritten blocks.' },
  { name: 'delete-blocks', key: 'deleteBlocks', type: 'bool', help: 'Mark the source blocks for deletion after a successful rewrite.' },
  { name: 'prom-blocks', key: 'promBlocks', type: 'bool', help: 'Rewrite Prometheus blocks (without a thanos section) too; they always are.', refused: notImplementedYet('thanos tools bucket rewrite', 'blocks without a thanos section are always rewritten'), accept: [true] },
  { name: 'hash-func', key: 'hashFunc', type: 'string', default: '', help: 'Hash function for the files of produced blocks: "" (none) only.', refused: notImplementedYet('thanos tools bucket rewrite', 'no hashes are computed'), accept: [''] },
  { name: 'rewrite.to-delete-config', key: 'deleteConfig', type: 'string', help: 'YAML list of {matchers: "<selector>", intervals: [{mint, maxt}], request_id}: series (or their intervals) to delete.' },
  { name: 'rewrite.to-delete-config-file', key: 'deleteConfigFile', type: 'string', help: 'Path to the YAML file of --rewrite.to-delete-config.' },
];

export const bucketRewrite = command('bucket rewrite', 'Rewrites blocks without the series (or time intervals) selected by --rewrite.to-delete-config; dry run unless --no-dry-run.', rewriteFlags, async (ctx, v) => {
  const ids = (v.ids as string[]) ?? [];
  if (!ids.length) throw new UsageError('--id is required');
  for (const id of ids) if (!isULID(id)) throw new UsageError(`--id ${id}: not a ULID`);
  if ((v.deleteConfig === undefined) === (v.deleteConfigFile === undefined)) throw new UsageError('give exactly one of --rewrite.to-delete-config and --rewrite.to-delete-config-file');
  // lib/tsdb's downloadBlock removes a stale temp dir that usually does not exist.
  const fs = tolerantRemove(ctx.fs);
  let text = v.deleteConfig as string | undefined;
  if (text === undefined) {
    try {
      text = new TextDecoder().decode(await fs.readFile(fs.resolve(String(v.deleteConfigFile))));
    } catch (e) {
      throw new UsageError(`--rewrite.to-delete-config-file: cannot read ${String(v.deleteConfigFile)}: ${(e as Error).message}`);
    }
  }
  let reqs;
  try {
    reqs = parseDeleteConfig(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const bucket = await ctx.bucket();
  for (const id of ids) if (!(await bucket.exists(`${id}/meta.json`))) throw new UsageError(`block ${id} not found (no ${id}/meta.json)`);
  const tmpRoot = v.tmpDir !== undefined ? fs.resolve(String(v.tmpDir)) : await fs.tempDir('thanos-rewrite-');
  const dry = v.dryRun !== false;
  const w = out(ctx, 'stdout');
  try {
    for (const id of ids) {
      const work = fs.resolve(tmpRoot, `rewrite-${id}`);
      if (await fs.exists(work)) await fs.remove(work, { recursive: true });
      await fs.mkdir(work, { recursive: true });
      try {
        const dir = await downloadBlock(bucket, id, fs, work);
        const src = await BlockReader.open(fsBlockFiles(fs, dir), { core: ctx.core });
        const r = await rewriteBlock(src, reqs, fsBlockSink(fs, work), ctx.core);
        const summary = `${r.seriesDeleted} series deleted, ${r.seriesChanged} series changed, ${r.samplesDeleted} samples deleted`;
        if (dry) {
          await w.write(`dry run: block ${id}: ${summary}; nothing uploaded (pass --no-dry-run)\n`);
          continue;
        }
        const up = await uploadBlock(bucket, fs, fs.resolve(work, r.meta.ulid), { allowEmptyLabels: true });
        await w.write(`block ${id} rewritten into ${up.ulid}: ${summary}\n`);
        if (v.deleteBlocks === true) {
          await writeMarker(bucket, id, 'deletion-mark.json', `rewritten into ${up.ulid}`);
          await w.write(`marked ${id} for deletion\n`);
        }
      } finally {
        await fs.remove(work, { recursive: true }).catch(() => {});
      }
    }
  } finally {
    if (v.tmpDir === undefined) await fs.remove(tmpRoot, { recursive: true }).catch(() => {});
  }
  return 0;
});

// ---- web ----

const webFlags: FlagSpec[] = [
  { name: 'refresh', key: 'refresh', type: 'duration', default: '30m', help: 'Refresh interval to download metadata from remote storage.' },
  { name: 'timeout', key: 'timeout', type: 'duration', help: 'Timeout to download metadata from remote storage.', refused: notImplementedYet('thanos tools bucket web', 'metadata downloads have no deadline') },
  { name: 'label', key: 'label', type: 'string', default: '', help: 'External block label to use as group title.' },
  { name: 'web.route-prefix', key: 'routePrefix', type: 'string', default: '', help: 'Prefix for API and UI endpoints.' },
  { name: 'web.external-prefix', key: 'externalPrefix', type: 'string', default: '', help: 'Static prefix for all HTML links and redirect URLs in the bucket web UI interface. Actual endpoints are still served on / or the web.route-prefix. This allows thanos bucket web UI to be served behind a reverse proxy that strips a URL sub-path.' },
  { name: 'web.prefix-header', key: 'prefixHeader', type: 'string', default: '', help: 'Name of HTTP request header used for dynamic prefixing of UI links and redirects. This option is ignored if web.external-prefix argument is set. Security risk: enable this option only if a reverse proxy in front of thanos is resetting the header.' },
  { name: 'disable-admin-operations', key: 'disableAdmin', type: 'bool', help: 'Disable UI/API admin operations like marking blocks for deletion and no compaction. Unlike Thanos they are off unless --no-disable-admin-operations is given, as this server has no HTTP authentication.' },
  ...TIME_FLAGS,
];

export const bucketWeb = command('bucket web', 'Web interface for the blocks in the bucket: a page of blocks over time grouped by external labels, and /api/v1/blocks. Serves until SIGTERM.', webFlags, async (ctx, v) => {
  let addr: { hostname: string; port: number };
  try {
    addr = splitHostPort(ctx.addresses?.http ?? '0.0.0.0:10902', '0.0.0.0');
  } catch (e) {
    throw new UsageError(`--http-address: ${(e as Error).message}`);
  }
  const refreshMs = dur(v.refresh, 'refresh', parseGoDurationFlag); // time.Duration in Thanos
  // The querier's prefix semantics (lib/web/ui.ts): an empty --web.route-prefix is --web.external-prefix.
  const webPrefix = (flag: string, p: string) => {
    try {
      return normalizeWebPrefix(p);
    } catch (e) {
      throw new UsageError(`--${flag}: ${(e as Error).message}`);
    }
  };
  const externalPrefix = webPrefix('web.external-prefix', String(v.externalPrefix ?? ''));
  const routePrefix = webPrefix('web.route-prefix', String(v.routePrefix ?? '')) || externalPrefix;
  const handler = bucketWebHandler(() => fetchMetas(ctx, v), {
    refreshMs, label: String(v.label ?? ''), prefix: routePrefix, prefixFor: webPrefixFor(externalPrefix, String(v.prefixHeader ?? ''), routePrefix),
    // The bucket for the block marks the page shows; admin operations (POST /api/v1/blocks/mark)
    // only with an explicit --no-disable-admin-operations (lib/web/blockmark.ts checks).
    bucket: await ctx.bucket(), disableAdminOperations: v.disableAdmin === false ? false : v.disableAdmin === true ? true : undefined,
  });
  const listener = await ctx.listen(addr, handler);
  ctx.log.info('bucket web listening', { address: `${listener.address.hostname}:${listener.address.port}` });
  const signal = ctx.signal;
  await new Promise<void>((resolve) => {
    if (!signal) return; // no shutdown signal: serve forever
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await listener.close();
  ctx.log.info('bucket web stopped');
  return 0;
});

export const bucketCommands: ToolCommand[] = [bucketLs, bucketInspect, bucketVerify, bucketMark, bucketCleanup, bucketRetention, bucketDownsample, bucketUploadBlocks, bucketRewrite, bucketWeb];

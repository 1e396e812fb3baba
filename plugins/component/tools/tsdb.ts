// `thanos tools tsdb dump` and `thanos tools tsdb create-blocks-from openmetrics`: promtool's
// tools on our block library, for looking into and backfilling blocks.
import { refuseUnusedCommonFlags, type ComponentContext, type ToolCommand, type TextOut } from '../../../lib/sdk/mod.ts';
import { BlockReader, fsBlockFiles, fsBlockSink, bucketBlockFiles, isULID, PartialBlockError, META_FILENAME, uploadBlock } from '../../../lib/tsdb/mod.ts';
import { dumpSamples } from '../../../lib/tsdb/dump.ts';
import { parseSelector } from '../../../lib/tsdb/selector.ts';
import { backfillOpenMetrics } from '../../../lib/tsdb/backfill.ts';
import { parseArgs, intFlag, UsageError } from './args.ts';

const DEFAULT_MATCH = "{__name__=~'(?s:.*)'}";

function out(ctx: ComponentContext, which: 'stdout' | 'stderr'): TextOut {
  const t = ctx[which];
  if (t) return t;
  const c = globalThis.console;
  return { write: (s: string) => (which === 'stdout' ? c.log(s.replace(/\n$/, '')) : c.error(s.replace(/\n$/, ''))) };
}

/** Block directories named by a path: the block itself, or every complete block inside a data dir. */
async function blockDirs(ctx: ComponentContext, path: string): Promise<string[]> {
  const fs = ctx.fs;
  const abs = fs.resolve(path);
  if (!(await fs.exists(abs))) throw new UsageError(`${path}: no such directory`);
  if (await fs.exists(fs.resolve(abs, META_FILENAME))) return [abs];
  const dirs: string[] = [];
  for (const e of await fs.readDir(abs)) {
    if (!e.isDirectory) continue;
    if (await fs.exists(fs.resolve(abs, e.name, META_FILENAME))) dirs.push(fs.resolve(abs, e.name));
  }
  if (dirs.length === 0) {
    if (await fs.exists(fs.resolve(abs, 'index'))) throw new PartialBlockError(abs);
    throw new UsageError(`${path}: neither a block (no meta.json) nor a directory holding blocks`);
  }
  return dirs.sort();
}

export const tsdbDump: ToolCommand = {
  name: 'tsdb dump',
  help: 'Dump samples of blocks (block directories, data directories holding blocks, or block ULIDs in the bucket given by --objstore.config[-file]) in promtool tsdb dump format: {labels} value timestamp.',
  flags: [
    { name: 'min-time', key: 'minTime', type: 'int', help: 'Minimum timestamp to dump (ms).' },
    { name: 'max-time', key: 'maxTime', type: 'int', help: 'Maximum timestamp to dump (ms).' },
    { name: 'match', key: 'match', type: 'string', help: 'Series selector.', default: DEFAULT_MATCH },
    ...refuseUnusedCommonFlags('thanos tools tsdb dump', ['objstore.config-file', 'objstore.config']),
  ],
  async run(ctx, argv) {
    const stderr = out(ctx, 'stderr');
    try {
      const p = parseArgs(argv, { 'min-time': false, 'max-time': false, match: false });
      if (p.positionals.length === 0) throw new UsageError('usage: thanos tools tsdb dump <block-dir>... [--min-time=ms] [--max-time=ms] [--match=<selector>]');
      const matchers = parseSelector(p.flags.get('match')?.at(-1) ?? DEFAULT_MATCH);
      const blocks: BlockReader[] = [];
      for (const a of p.positionals) {
        // A bare ULID that is not a local path names a block in object storage (--objstore.config[-file]).
        if (isULID(a) && !(await ctx.fs.exists(ctx.fs.resolve(a))) && typeof ctx.bucket === 'function') {
          const bkt = await ctx.bucket();
          blocks.push(await BlockReader.open(bucketBlockFiles(bkt, a), { core: ctx.core, chunkWindow: 8 << 20 }));
          continue;
        }
        for (const d of await blockDirs(ctx, a)) blocks.push(await BlockReader.open(fsBlockFiles(ctx.fs, d), { core: ctx.core }));
      }
      const stdout = out(ctx, 'stdout');
      await dumpSamples(blocks, { matchers, minTime: intFlag(p, 'min-time'), maxTime: intFlag(p, 'max-time') }, (s) => stdout.write(s));
      return 0;
    } catch (e) {
      await stderr.write(`error: ${(e as Error).message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  },
};

export const tsdbCreateBlocksFromOpenMetrics: ToolCommand = {
  name: 'tsdb create-blocks-from openmetrics',
  help: 'Backfill an OpenMetrics text file (every sample with a timestamp, ending in # EOF) into 2h-aligned blocks in <output-dir>; --label k=v adds a thanos section with external labels.',
  flags: [
    { name: 'label', key: 'labels', type: 'strings', help: 'External label k=v for the thanos section (repeatable).' },
    { name: 'quiet', key: 'quiet', type: 'bool', help: 'Do not print progress.' },
    { name: 'upload', key: 'upload', type: 'bool', help: 'Upload every written block to the bucket of --objstore.config[-file] (chunks, index, meta.json last); needs --label.' },
    ...refuseUnusedCommonFlags('thanos tools tsdb create-blocks-from openmetrics', ['objstore.config-file', 'objstore.config']),
  ],
  async run(ctx, argv) {
    const stderr = out(ctx, 'stderr');
    try {
      const p = parseArgs(argv, { label: false, quiet: true, upload: true });
      if (p.positionals.length !== 2) throw new UsageError('usage: thanos tools tsdb create-blocks-from openmetrics <file> <output-dir> [--label k=v ...]');
      const [file, outDir] = p.positionals as [string, string];
      const labels: Record<string, string> = {};
      for (const kv of p.flags.get('label') ?? []) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--label: expected k=v, got ${JSON.stringify(kv)}`);
        const k = kv.slice(0, eq);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new UsageError(`--label: invalid label name ${JSON.stringify(k)}`);
        labels[k] = kv.slice(eq + 1).replace(/^"(.*)"$/, '$1');
      }
      const upload = p.flags.get('upload')?.at(-1) === 'true';
      if (upload && Object.keys(labels).length === 0) throw new UsageError('--upload: Thanos blocks need external labels; add --label k=v');
      const fs = ctx.fs;
      const path = fs.resolve(file);
      if (!(await fs.exists(path))) throw new UsageError(`${file}: no such file`);
      const size = (await fs.stat(path)).size;
      const dir = fs.resolve(outDir);
      await fs.mkdir(dir, { recursive: true });
      const quiet = p.flags.get('quiet')?.at(-1) === 'true';
      const metas = await backfillOpenMetrics({
        core: ctx.core,
        open: () => fs.openRead(path),
        totalBytes: size,
        sink: () => fsBlockSink(fs, dir),
        labels: Object.keys(labels).length ? labels : undefined,
        progress: quiet ? undefined : (m) => void stderr.write(m + '\n'),
      });
      if (upload) {
        const bkt = await ctx.bucket();
        for (const m of metas) {
          await uploadBlock(bkt, fs, fs.resolve(dir, m.ulid));
          if (!quiet) await stderr.write(`uploaded block ${m.ulid}\n`);
        }
      }
      const stdout = out(ctx, 'stdout');
      if (!quiet) {
        let s = 'BLOCK ULID\tMIN TIME\tMAX TIME\tDURATION\tNUM SAMPLES\tNUM CHUNKS\tNUM SERIES\n';
        for (const m of metas) s += `${m.ulid}\t${m.minTime}\t${m.maxTime}\t${m.maxTime - m.minTime}ms\t${m.stats?.numSamples ?? 0}\t${m.stats?.numChunks ?? 0}\t${m.stats?.numSeries ?? 0}\n`;
        await stdout.write(s);
      }
      return 0;
    } catch (e) {
      await stderr.write(`error: ${(e as Error).message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  },
};

export const tsdbCommands: ToolCommand[] = [tsdbDump, tsdbCreateBlocksFromOpenMetrics];

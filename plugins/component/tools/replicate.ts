// `thanos tools bucket replicate`: copies the selected blocks of --objstore.config[-file] into
// --objstore-to.config[-file] (lib/replicate), once (--single-run or --id) or every minute, serving
// probes and /metrics on --http-address while it loops.
import type { ComponentContext, FlagSpec, ToolCommand } from '../../../lib/sdk/mod.ts';
import { parseGoDurationFlag, parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import { Replicator, parseBlockMatchers, replicationRunMetrics } from '../../../lib/replicate/mod.ts';
import { isULID } from '../../../lib/tsdb/mod.ts';
import { splitHostPort } from '../../../lib/net/hostport.ts';
import { command, UsageError } from './bucket.ts';

/** runutil.Repeat(time.Minute, …) in RunReplicate. */
const REPLICATION_INTERVAL_MS = 60_000;

const replicateFlags: FlagSpec[] = [
  { name: 'objstore-to.config-file', key: 'toConfigFile', type: 'string', help: 'Path to YAML file that contains object store-to configuration. The object storage which replicate data to.' },
  { name: 'objstore-to.config', key: 'toConfig', type: 'string', help: 'Alternative to \'objstore-to.config-file\' flag (mutually exclusive). Content of YAML file that contains object store-to configuration. The object storage which replicate data to.' },
  { name: 'resolution', key: 'resolutions', type: 'strings', default: ['0s', '5m', '1h'], help: 'Only blocks with these resolutions will be replicated. Repeated flag.' },
  { name: 'compaction-min', key: 'compactionMin', type: 'int', default: 1, help: 'Only blocks with at least this compaction level will be replicated.' },
  { name: 'compaction-max', key: 'compactionMax', type: 'int', default: 4, help: 'Only blocks up to a maximum of this compaction level will be replicated.' },
  { name: 'compaction', key: 'compactions', type: 'strings', default: [], help: 'Only blocks with these compaction levels will be replicated. Repeated flag. Overrides compaction-min and compaction-max if set.' },
  { name: 'matcher', key: 'matcher', type: 'string', default: '', help: 'blocks whose external labels match this matcher will be replicated. All Prometheus matchers are supported, including =, !=, =~ and !~.' },
  { name: 'single-run', key: 'singleRun', type: 'bool', help: 'Run replication only one time, then exit.' },
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Start of time range limit to replicate. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'max-time', key: 'maxTime', type: 'string', default: '9999-12-31T23:59:59Z', help: 'End of time range limit to replicate. Option can be a constant time in RFC3339 format or time duration relative to current time, such as -1d or 2h45m.' },
  { name: 'id', key: 'ids', type: 'strings', default: [], help: 'Block to be replicated to the destination bucket. IDs will be used to match blocks and other matchers will be ignored. When specified, this command will be run only once after successful replication. Repeated field' },
  { name: 'ignore-marked-for-deletion', key: 'ignoreMarkedForDeletion', type: 'bool', help: 'Do not replicate blocks that have deletion mark.' },
];

async function destinationYaml(ctx: ComponentContext, v: Record<string, unknown>): Promise<{ yaml: string; source: string }> {
  const file = v.toConfigFile as string | undefined;
  const inline = v.toConfig as string | undefined;
  if (file !== undefined && inline !== undefined) throw new UsageError('give only one of --objstore-to.config-file and --objstore-to.config');
  if (file !== undefined) {
    try {
      return { yaml: new TextDecoder().decode(await ctx.fs.readFile(ctx.fs.resolve(file))), source: file };
    } catch (e) {
      throw new UsageError(`--objstore-to.config-file: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  if (inline === undefined || inline.trim() === '') throw new UsageError('No supported bucket was configured to replicate to (pass --objstore-to.config-file or --objstore-to.config)');
  return { yaml: inline, source: '--objstore-to.config' };
}

function intList(list: readonly string[], flag: string): number[] {
  return list.map((s) => {
    if (!/^[-+]?\d+$/.test(s.trim())) throw new UsageError(`--${flag}: expected an integer, got ${JSON.stringify(s)}`);
    return Number(s);
  });
}

export const bucketReplicate: ToolCommand = command(
  'bucket replicate',
  'Replicate data from one object storage to another. NOTE: Currently it works only with Thanos blocks (meta.json has to have Thanos metadata).',
  replicateFlags,
  async (ctx, v) => {
    let matchers;
    try {
      matchers = parseBlockMatchers(String(v.matcher ?? ''));
    } catch (e) {
      throw new UsageError(`parse block label matchers: ${(e as Error).message}`);
    }
    const resolutions = ((v.resolutions as string[]) ?? []).map((r) => {
      try {
        return parseGoDurationFlag(r);
      } catch (e) {
        throw new UsageError(`--resolution: ${(e as Error).message}`);
      }
    });
    let compactions = intList((v.compactions as string[]) ?? [], 'compaction');
    if (compactions.length === 0) {
      const lo = Number(v.compactionMin), hi = Number(v.compactionMax);
      if (lo > hi) throw new UsageError('compaction-min must be less than or equal to compaction-max');
      for (let l = lo; l <= hi; l++) compactions.push(l);
    }
    const ids = (v.ids as string[]) ?? [];
    for (const id of ids) if (!isULID(id)) throw new UsageError(`invalid ULID found in --id flag: ${JSON.stringify(id)}`);
    let minTime: number, maxTime: number;
    try {
      minTime = parseTimeOrDuration(String(v.minTime));
      maxTime = parseTimeOrDuration(String(v.maxTime));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const singleRun = v.singleRun === true || ids.length > 0;
    if (!ctx.openBucket) throw new Error('this host cannot open a second bucket (--objstore-to.config)');
    const toCfg = await destinationYaml(ctx, v);
    const from = await ctx.openBucket({ metricLabels: { replicate: 'from' } });
    const to = await ctx.openBucket({ ...toCfg, metricLabels: { replicate: 'to' } });
    const log = ctx.log.with({ component: 'replicate' });
    const replicator = new Replicator({ from, to, selection: { matchers, resolutions, compactions, ids }, minTime, maxTime, ignoreMarkedForDeletion: v.ignoreMarkedForDeletion === true, metrics: ctx.metrics, log });
    const runM = replicationRunMetrics(ctx.metrics);
    const runOnce = async () => {
      log.info('running replication attempt');
      const r = await replicator.run(ctx.signal);
      log.info('ran replication', { replicated: r.replicated.length, already_replicated: r.alreadyReplicated.length, partial: r.partial.length });
    };
    if (singleRun) {
      // As upstream, a single run's outcome is the exit code; the run counters count loop runs only.
      await runOnce();
      return 0;
    }

    let addr: { hostname: string; port: number };
    try {
      addr = splitHostPort(ctx.addresses?.http ?? '0.0.0.0:10902', '0.0.0.0');
    } catch (e) {
      throw new UsageError(`--http-address: ${(e as Error).message}`);
    }
    ctx.setReady(false);
    const listener = await ctx.listen(addr, () => new Response('404 page not found\n', { status: 404 }));
    log.info('Listening for http service', { address: `${listener.address.hostname}:${listener.address.port}` });
    ctx.setReady(true);
    const signal = ctx.signal;
    try {
      while (!signal?.aborted) {
        const start = performance.now();
        try {
          await runOnce();
          runM.runs.inc({ result: 'success' });
          runM.duration.observe((performance.now() - start) / 1000, { result: 'success' });
        } catch (err) {
          if (signal?.aborted) break;
          // No matter the error the loop goes on, as upstream.
          log.error('running replication failed', { err: (err as Error).message });
          runM.runs.inc({ result: 'error' });
          runM.duration.observe((performance.now() - start) / 1000, { result: 'error' });
        }
        await new Promise<void>((resolve) => {
          if (signal?.aborted) return resolve();
          const t = setTimeout(done, REPLICATION_INTERVAL_MS);
          function done() {
            clearTimeout(t);
            signal?.removeEventListener('abort', done);
            resolve();
          }
          signal?.addEventListener('abort', done, { once: true });
        });
      }
    } finally {
      ctx.setReady(false);
      await listener.close();
    }
    return 0;
  },
);

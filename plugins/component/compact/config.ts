// `thanos compact` flags (Thanos names) and the config object they fill (also from plugins.yaml).
import { ConfigError, notImplementedYet, refuseCommonFlags, type FlagSpec } from '../../../lib/sdk/mod.ts';
import { parseTimeOrDuration } from '../../../lib/store/blocksync/timeflags.ts';
import {
  configBool, configGoDuration, configInt, configMapping, configPromDuration, configString, rejectHostKeys, rejectUnknownKeys, refuseUnimplemented,
} from '../../../lib/config/fields.ts';
import { parseRelabelConfigs } from '../../../lib/store/blocksync/relabel.ts';
import { normalizeWebPrefix } from '../../../lib/web/ui.ts';
import { RES_LEVEL1_DOWNSAMPLE_RANGE, RES_LEVEL2_DOWNSAMPLE_RANGE } from '../../../lib/compact/plan.ts';

export interface CompactConfig {
  dataDir: string;
  wait: boolean;
  waitIntervalMs: number;
  consistencyDelayMs: number;
  retentionRawMs: number;
  retention5mMs: number;
  retention1hMs: number;
  downsamplingDisable: boolean;
  concurrency: number;
  downsampleConcurrency: number;
  metaFetchConcurrency: number;
  deleteDelayMs: number;
  enableVerticalCompaction: boolean;
  replicaLabels: string[];
  maxCompactionLevel: number;
  haltOnError: boolean;
  webDisable: boolean;
  /** --web.route-prefix (default --web.external-prefix), --web.external-prefix, --web.prefix-header: as `tools bucket web` (lib/web/ui.ts). */
  routePrefix: string;
  externalPrefix: string;
  prefixHeader: string;
  /** undefined = not given: admin operations (POST /api/v1/blocks/mark) stay off until --no-disable-admin-operations (no HTTP auth here). */
  disableAdminOperations?: boolean;
  bucketWebLabel: string;
  blockViewerSyncIntervalMs: number;
  minTime: string;
  maxTime: string;
  selectorRelabelConfig?: string;
  selectorRelabelConfigFile?: string;
}

const NOT_YET = (why?: string) => notImplementedYet('thanos compact', why);

export const compactFlags: FlagSpec[] = [
  ...refuseCommonFlags(['request.logging-config-file', 'request.logging-config'], 'is not a flag of thanos compact (Thanos compact has no request logging)'),
  { name: 'min-time', key: 'minTime', type: 'string', default: '0000-01-01T00:00:00Z', help: 'Start of time range limit to compact: blocks overlapping it or later (RFC3339 or a duration relative to now, e.g. -2w).' },
  { name: 'max-time', key: 'maxTime', type: 'string', default: '9999-12-31T23:59:59Z', help: 'End of time range limit to compact (RFC3339 or a duration relative to now).' },
  { name: 'selector.relabel-config', key: 'selectorRelabelConfig', type: 'string', help: 'Relabel configuration (YAML) over external labels and __block_id selecting the blocks to work on (sharding between compactors).' },
  { name: 'selector.relabel-config-file', key: 'selectorRelabelConfigFile', type: 'string', help: 'Path to a YAML file with the relabel configuration selecting blocks.' },
  { name: 'wait', short: 'w', key: 'wait', type: 'bool', default: false, help: 'Do not exit after all compactions have been processed and wait for new work.' },
  { name: 'wait-interval', key: 'waitInterval', type: 'duration', default: '5m', help: 'Wait interval between consecutive compaction runs and bucket refreshes. Only works when --wait flag specified.' },
  { name: 'consistency-delay', key: 'consistencyDelay', type: 'duration', default: '30m', help: 'Minimum age of fresh (non-compacted) blocks before they are being processed.' },
  { name: 'retention.resolution-raw', key: 'retentionResolutionRaw', type: 'duration', default: '0d', help: 'How long to retain raw samples in bucket. Setting this to 0d will retain samples of this resolution forever.' },
  { name: 'retention.resolution-5m', key: 'retentionResolution5m', type: 'duration', default: '0d', help: 'How long to retain samples of resolution 1 (5 minutes) in bucket. 0d = forever.' },
  { name: 'retention.resolution-1h', key: 'retentionResolution1h', type: 'duration', default: '0d', help: 'How long to retain samples of resolution 2 (1 hour) in bucket. 0d = forever.' },
  { name: 'downsampling.disable', key: 'downsamplingDisable', type: 'bool', default: false, help: 'Disables downsampling.' },
  { name: 'compact.concurrency', key: 'compactConcurrency', type: 'int', default: 1, help: 'Number of groups compacted at once.' },
  { name: 'compact.blocks-fetch-concurrency', key: 'blocksFetchConcurrency', type: 'int', default: 1, help: 'Number of goroutines to use when download block during compaction.', refused: NOT_YET('the blocks of a plan are downloaded one after another'), accept: [1] },
  { name: 'compact.cleanup-interval', key: 'cleanupInterval', type: 'duration', help: 'How often we should clean up partially uploaded blocks and blocks with deletion mark in the background.', refused: NOT_YET('cleanup runs at the end of every iteration') },
  { name: 'compact.progress-interval', key: 'progressInterval', type: 'duration', help: 'Frequency of calculating the compaction progress in the background.', refused: NOT_YET('progress is logged per group and block') },
  { name: 'compact.enable-vertical-compaction', key: 'enableVerticalCompaction', type: 'bool', default: false, help: 'Merge overlapping blocks of a group (one-to-one deduplication) instead of halting.' },
  { name: 'downsample.concurrency', key: 'downsampleConcurrency', type: 'int', default: 1, help: 'Number of blocks downsampled at once.' },
  { name: 'block-files-concurrency', key: 'blockFilesConcurrency', type: 'int', default: 1, help: 'Number of goroutines to use when fetching/uploading block files from object storage.', refused: NOT_YET('the files of a block are transferred one after another'), accept: [1] },
  { name: 'block-meta-fetch-concurrency', key: 'blockMetaFetchConcurrency', type: 'int', default: 32, help: 'Number of goroutines to use when fetching block metadata from object storage.' },
  { name: 'delete-delay', key: 'deleteDelay', type: 'duration', default: '48h', help: 'Time before a block marked for deletion is deleted from the bucket.' },
  { name: 'deduplication.replica-label', key: 'replicaLabels', type: 'strings', default: [], help: 'Label to treat as a replica indicator of blocks that can be deduplicated (repeatable); dropped when grouping. Needs --compact.enable-vertical-compaction.' },
  { name: 'deduplication.func', key: 'deduplicationFunc', type: 'string', default: '', help: 'Deduplication algorithm for merging overlapping blocks: "" (one-to-one) only.', refused: NOT_YET('only the one-to-one merge of identical series is implemented'), accept: [''] },
  { name: 'debug.max-compaction-level', key: 'maxCompactionLevel', type: 'int', default: 4, help: 'Maximum compaction level (1..4: 2h, 8h, 2d, 14d).' },
  { name: 'debug.halt-on-error', key: 'haltOnError', type: 'bool', default: true, help: 'Halt the process if a critical compaction error is detected (keep serving with thanos_compact_halted=1 under --wait).' },
  { name: 'hash-func', key: 'hashFunc', type: 'string', default: '', help: 'Hash function for the files of produced blocks: "" (none) only.', refused: NOT_YET('no hashes are computed'), accept: [''] },
  { name: 'web.disable', key: 'webDisable', type: 'bool', default: false, help: 'Disable the block viewer UI.' },
  { name: 'web.route-prefix', key: 'webRoutePrefix', type: 'string', default: '', help: 'Prefix for API and UI endpoints. This allows thanos UI to be served on a sub-path. This option is analogous to --web.route-prefix of Prometheus.' },
  { name: 'web.external-prefix', key: 'webExternalPrefix', type: 'string', default: '', help: 'Static prefix for all HTML links and redirect URLs in the bucket web UI interface. Actual endpoints are still served on / or the web.route-prefix. This allows thanos bucket web UI to be served behind a reverse proxy that strips a URL sub-path.' },
  { name: 'web.prefix-header', key: 'webPrefixHeader', type: 'string', default: '', help: 'Name of HTTP request header used for dynamic prefixing of UI links and redirects. This option is ignored if web.external-prefix argument is set. Security risk: enable this option only if a reverse proxy in front of thanos is resetting the header. The --web.prefix-header=X-Forwarded-Prefix option can be useful, for example, if Thanos UI is served via Traefik reverse proxy with PathPrefixStrip option enabled, which sends the stripped prefix value in X-Forwarded-Prefix header. This allows thanos UI to be served on a sub-path.' },
  { name: 'bucket-web-label', key: 'bucketWebLabel', type: 'string', default: '', help: 'External block label to use as group title in the bucket web UI.' },
  { name: 'disable-admin-operations', key: 'disableAdminOperations', type: 'bool', help: 'Disable UI/API admin operations like marking blocks for deletion and no compaction. Unlike Thanos they are off unless --no-disable-admin-operations is given, as this server has no HTTP authentication.' },
  { name: 'block-viewer.global.sync-block-interval', key: 'blockViewerSyncInterval', type: 'duration', default: '1m', help: 'Repeat interval for syncing the blocks between local and remote view for /global Block Viewer UI.' },
  { name: 'block-viewer.global.sync-block-timeout', key: 'blockViewerSyncTimeout', type: 'duration', help: 'Maximum time for syncing the blocks between local and remote view for /global Block Viewer UI.', refused: NOT_YET('the block viewer\'s sync has no deadline') },
];

/** --data-dir is a host flag (ctx.dataDir); `dataDir` is still read from plugins.yaml config. */
const KNOWN = new Set([...compactFlags.map((f) => f.key), 'dataDir']);

export function parseCompactConfig(input: unknown): CompactConfig {
  const raw = configMapping(input, 'compact');
  rejectHostKeys(raw, 'compact', ['dataDir']);
  rejectUnknownKeys(raw, [KNOWN], 'unknown compact option');
  const def = (k: string) => compactFlags.find((f) => f.key === k)!.default;
  // Thanos types these flags model.Duration, except wait-interval and the block viewer's (time.Duration).
  const dur = (k: string): number => configPromDuration(raw, k, def(k) as string, { nonNegative: true });
  const goDur = (k: string): number => configGoDuration(raw, k, def(k) as string, { nonNegative: true });
  const int = (k: string, min: number): number => configInt(raw, k, def(k) as number, min);
  const bool = (k: string): boolean => configBool(raw, k, def(k) as boolean);
  const str = (k: string): string => configString(raw, k, (def(k) as string | undefined) ?? '');
  const replicaLabels = raw.replicaLabels ?? [];
  if (!Array.isArray(replicaLabels) || !replicaLabels.every((x) => typeof x === 'string')) throw new ConfigError('replicaLabels', 'must be a list of label names');
  if (str('deduplicationFunc') !== '') throw new ConfigError('deduplicationFunc', `unsupported deduplication function "${str('deduplicationFunc')}" (only "" = one-to-one)`);
  const webPrefix = (k: string): string => {
    try {
      return normalizeWebPrefix(str(k));
    } catch (e) {
      throw new ConfigError(k, (e as Error).message);
    }
  };
  const externalPrefix = webPrefix('webExternalPrefix');
  const cfg: CompactConfig = {
    dataDir: typeof raw.dataDir === 'string' ? raw.dataDir : './data',
    wait: bool('wait'),
    waitIntervalMs: goDur('waitInterval'),
    consistencyDelayMs: dur('consistencyDelay'),
    retentionRawMs: dur('retentionResolutionRaw'),
    retention5mMs: dur('retentionResolution5m'),
    retention1hMs: dur('retentionResolution1h'),
    downsamplingDisable: bool('downsamplingDisable'),
    concurrency: int('compactConcurrency', 1),
    downsampleConcurrency: int('downsampleConcurrency', 1),
    metaFetchConcurrency: int('blockMetaFetchConcurrency', 1),
    deleteDelayMs: dur('deleteDelay'),
    enableVerticalCompaction: bool('enableVerticalCompaction'),
    replicaLabels: replicaLabels as string[],
    maxCompactionLevel: int('maxCompactionLevel', 1),
    haltOnError: bool('haltOnError'),
    webDisable: bool('webDisable'),
    // As `tools bucket web`: an empty --web.route-prefix is --web.external-prefix.
    routePrefix: webPrefix('webRoutePrefix') || externalPrefix,
    externalPrefix,
    prefixHeader: str('webPrefixHeader'),
    disableAdminOperations: raw.disableAdminOperations === undefined ? undefined : configBool(raw, 'disableAdminOperations', false),
    bucketWebLabel: str('bucketWebLabel'),
    blockViewerSyncIntervalMs: goDur('blockViewerSyncInterval'),
    minTime: str('minTime'),
    maxTime: str('maxTime'),
    selectorRelabelConfig: raw.selectorRelabelConfig === undefined ? undefined : str('selectorRelabelConfig'),
    selectorRelabelConfigFile: raw.selectorRelabelConfigFile === undefined ? undefined : str('selectorRelabelConfigFile'),
  };
  for (const k of ['minTime', 'maxTime'] as const) {
    try {
      parseTimeOrDuration(cfg[k]);
    } catch (e) {
      throw new ConfigError(k, (e as Error).message);
    }
  }
  if (cfg.selectorRelabelConfig !== undefined && cfg.selectorRelabelConfigFile !== undefined) throw new ConfigError('selectorRelabelConfig', 'give --selector.relabel-config or --selector.relabel-config-file, not both');
  if (cfg.selectorRelabelConfig !== undefined) {
    try {
      parseRelabelConfigs(cfg.selectorRelabelConfig);
    } catch (e) {
      throw new ConfigError('selectorRelabelConfig', (e as Error).message);
    }
  }
  if (cfg.maxCompactionLevel > 4) throw new ConfigError('maxCompactionLevel', `must be between 1 and 4, got ${cfg.maxCompactionLevel}`);
  if (cfg.wait && cfg.waitIntervalMs <= 0) throw new ConfigError('waitInterval', 'must be positive with --wait');
  // Thanos (compact.go): retention shorter than the downsampling thresholds would delete data before it is downsampled.
  if (!cfg.downsamplingDisable) {
    if (cfg.retentionRawMs !== 0 && cfg.retentionRawMs < RES_LEVEL1_DOWNSAMPLE_RANGE) throw new ConfigError('retentionResolutionRaw', '--retention.resolution-raw: raw resolution must be higher than the minimum block size after which 5m resolution downsampling will occur (40 hours); disable downsampling or raise the retention');
    if (cfg.retention5mMs !== 0 && cfg.retention5mMs < RES_LEVEL2_DOWNSAMPLE_RANGE) throw new ConfigError('retentionResolution5m', '--retention.resolution-5m: 5m resolution must be higher than the minimum block size after which 1h resolution downsampling will occur (10 days); disable downsampling or raise the retention');
  }
  if (cfg.replicaLabels.length && !cfg.enableVerticalCompaction) throw new ConfigError('replicaLabels', '--deduplication.replica-label needs --compact.enable-vertical-compaction');
  refuseUnimplemented(raw, compactFlags);
  return cfg;
}

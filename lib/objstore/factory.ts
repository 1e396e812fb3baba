// Thanos objstore YAML (`type`, `config`, `prefix`) -> a wrapped Bucket. Strict: unknown top-level
// keys, a missing/unknown type or a bad config field are errors that name the source and line.
// Which plugin serves a type is the caller's business (the host's registry): pass loadProvider.
import { LineCounter, isMap, isScalar, parseDocument } from '../cjs/yaml.ts';
import type { Capabilities, Metrics, ObjstorePlugin } from '../sdk/mod.ts';
import type { Bucket } from './bucket.ts';
import { MetricsBucket } from './metrics.ts';
import { TracingBucket } from './kit/tracing.ts';
import { PrefixedBucket, normalizePrefix } from './prefix.ts';
import { RetryBucket, type RetryOptions } from './retry.ts';

export interface BucketConfig {
  /** Upper-cased provider type, e.g. S3, FILESYSTEM. */
  type: string;
  config: unknown;
  prefix: string;
  /** Where it came from, for error messages (a file name or `--objstore.config`). */
  source: string;
}

export class BucketConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BucketConfigError';
  }
}

const TOP_KEYS = ['type', 'config', 'prefix'];

/** Parses objstore YAML text strictly. */
export function parseBucketConfig(text: string, source = '--objstore.config'): BucketConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new BucketConfigError(`${source}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new BucketConfigError(`${source}: empty object storage configuration (expected "type:" and "config:")`);
  }
  if (!isMap(root)) throw new BucketConfigError(`${source}:1: object storage configuration must be a mapping with type, config, prefix`);
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (!TOP_KEYS.includes(key)) {
      const off = (item.key as { range?: number[] })?.range?.[0];
      const line = off !== undefined ? lc.linePos(off).line : undefined;
      throw new BucketConfigError(`${source}${line ? `:${line}` : ''}: unknown key "${key}" (expected one of: ${TOP_KEYS.join(', ')})`);
    }
  }
  return bucketConfigFromObject(doc.toJS() as Record<string, unknown>, source);
}

/** Validates an already-parsed object (e.g. from plugins.yaml) with the same rules. */
export function bucketConfigFromObject(obj: Record<string, unknown>, source: string): BucketConfig {
  for (const k of Object.keys(obj)) {
    if (!TOP_KEYS.includes(k)) throw new BucketConfigError(`${source}: unknown key "${k}" (expected one of: ${TOP_KEYS.join(', ')})`);
  }
  const t = obj.type;
  if (typeof t !== 'string' || t.trim() === '') throw new BucketConfigError(`${source}: "type" must be a non-empty string (e.g. FILESYSTEM, S3)`);
  const config = obj.config ?? {};
  if (typeof config !== 'object' || Array.isArray(config)) throw new BucketConfigError(`${source}: "config" must be a mapping`);
  const prefix = obj.prefix ?? '';
  if (typeof prefix !== 'string') throw new BucketConfigError(`${source}: "prefix" must be a string`);
  return { type: t.trim().toUpperCase(), config, prefix: normalizePrefix(prefix), source };
}

export interface CreateBucketOptions {
  /** Resolves a provider type (upper case) to its plugin; throws a clear error for unknown types. */
  loadProvider(type: string): Promise<ObjstorePlugin>;
  /** The capabilities of this objstore instance (its permissions), given the loaded plugin. */
  capabilities: Capabilities | ((plugin: ObjstorePlugin) => Capabilities);
  /** Where thanos_objstore_bucket_* metrics go; omitted = no metrics wrapper. */
  metrics?: Metrics;
  /** The `bucket` label of the metrics (default: the provider type). */
  name?: string;
  /** Retry settings; false disables the retry wrapper. */
  retry?: RetryOptions | false;
  /** Applied to the raw config before the plugin parses it (the host resolves `{ env: NAME }` secrets here). */
  transformConfig?(raw: unknown, plugin: ObjstorePlugin): unknown;
}

/** Builds provider -> prefix -> retry -> metrics -> traces. */
export async function createBucket(cfg: BucketConfig, o: CreateBucketOptions): Promise<Bucket> {
  const plugin = await o.loadProvider(cfg.type);
  let parsed: unknown;
  try {
    const raw = o.transformConfig ? o.transformConfig(cfg.config, plugin) : cfg.config;
    parsed = plugin.parseConfig(raw);
  } catch (err) {
    throw new BucketConfigError(`${cfg.source}: type ${cfg.type}: ${(err as Error).message}`);
  }
  const caps = typeof o.capabilities === 'function' ? o.capabilities(plugin) : o.capabilities;
  let b: Bucket = await plugin.create(caps, parsed);
  if (cfg.prefix) b = new PrefixedBucket(b, cfg.prefix);
  // A provider that retries its own requests still gets the layer, for resuming read bodies
  // that break off after being handed over (no request-level retry covers that).
  if (o.retry !== false) b = new RetryBucket(b, plugin.retries === 'provider' ? { ...o.retry, calls: false } : o.retry ?? {});
  if (o.metrics) b = new MetricsBucket(b, o.metrics, o.name ?? cfg.type.toLowerCase());
  // A span per operation (objstore's WrapWithTraces); no-op until the host registers a tracer.
  return new TracingBucket(b);
}

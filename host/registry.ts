// The one file that knows every built-in plugin. Modules are imported lazily, so a component that
// is not written yet only fails when someone asks for it ("not implemented yet").

/** Component name -> module path (relative to the repository root). */
export const BUILTIN_COMPONENTS: Record<string, string> = {
  sidecar: 'plugins/component/sidecar/mod.ts',
  receive: 'plugins/component/receive/mod.ts',
  store: 'plugins/component/store/mod.ts',
  query: 'plugins/component/query/mod.ts',
  'query-frontend': 'plugins/component/query-frontend/mod.ts',
  compact: 'plugins/component/compact/mod.ts',
  rule: 'plugins/component/rule/mod.ts',
  tools: 'plugins/component/tools/mod.ts',
  // Not a Thanos component: the all-in-one stack's own scraper (plugins.yaml), so its UI has data.
  scrape: 'plugins/component/scrape/mod.ts',
};

/** Objstore provider type (upper case, as in Thanos YAML) -> module path. */
export const BUILTIN_OBJSTORES: Record<string, string> = {
  FILESYSTEM: 'plugins/objstore/filesystem/mod.ts',
  MEMORY: 'plugins/objstore/memory/mod.ts',
  'IN-MEMORY': 'plugins/objstore/memory/mod.ts',
  S3: 'plugins/objstore/s3/mod.ts',
  SWIFT: 'plugins/objstore/swift/mod.ts',
  AZURE: 'plugins/objstore/azure/mod.ts',
  ALIYUNOSS: 'plugins/objstore/oss/mod.ts',
  GCS: 'plugins/objstore/gcs/mod.ts',
  COS: 'plugins/objstore/cos/mod.ts',
};

/**
 * Thanos objstore types we have no plugin for yet. Not registry entries (every entry above points
 * at a module that exists; test/host/registry.test.ts checks it): asking for one is an error that
 * says it is not implemented yet, rather than "unknown type".
 */
export const THANOS_OBJSTORES_NOT_BUILT = ['OCI', 'OBS', 'BOS'] as const;

/** Older top-level spellings -> today's words (matched on the leading words of argv). */
export const COMMAND_ALIASES: Array<{ from: string[]; to: string[] }> = [
  { from: ['check', 'rules'], to: ['tools', 'rules-check'] },
  { from: ['downsample'], to: ['tools', 'bucket', 'downsample'] },
  { from: ['bucket'], to: ['tools', 'bucket'] },
];

/** Short descriptions for `thanos --help`. */
export const COMPONENT_HELP: Record<string, string> = {
  sidecar: 'Sidecar for Prometheus: StoreAPI over remote read, uploads blocks to object storage.',
  receive: 'Accepts Prometheus remote write into a local TSDB, serves StoreAPI, uploads blocks.',
  store: 'Store gateway: StoreAPI over the blocks in object storage.',
  query: 'Querier: Prometheus HTTP API over every StoreAPI endpoint, with deduplication.',
  'query-frontend': 'Query frontend: splits, caches and retries range queries in front of a querier.',
  compact: 'Compacts, downsamples and applies retention to the blocks in object storage.',
  rule: 'Ruler: evaluates recording and alerting rules against a query API.',
  tools: 'Tools: bucket ls|inspect|verify|web|downsample|..., rules-check.',
  scrape: 'Scrapes /metrics targets (Prometheus scrape config subset) and remote-writes them (not a Thanos component).',
};

/** Thanos's tools commands; one the tools plugin does not provide yet is "not implemented yet". */
export const KNOWN_TOOL_COMMANDS = [
  'bucket verify', 'bucket ls', 'bucket inspect', 'bucket web', 'bucket replicate', 'bucket downsample', 'bucket cleanup',
  'bucket mark', 'bucket rewrite', 'bucket retention', 'bucket upload-blocks', 'rules-check',
];

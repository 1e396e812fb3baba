// One owner per concept (ARCHITECTURE.md): each concept below has one module that declares it;
// every other module imports it from there (a re-export is fine, a second declaration is not, even a
// module-private copy). The checker is in rules.ts; the first test proves it fails on a synthetic
// duplicate, the second runs it on lib/, host/ and plugins/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkOwners, format, loadTree, type Allowed, type Concept, type FileSet } from './rules.ts';

/** The concepts and their one owner. Add a concept when a second copy of something is removed. */
export const CONCEPTS: readonly Concept[] = [
  {
    concept: 'durations (Prometheus model.Duration, Go time.Duration)',
    owner: 'lib/duration/mod.ts',
    names: ['parseDuration', 'parsePromDuration', 'parseGoDuration', 'tryParsePromDuration', 'tryParseGoDuration', 'formatPromDuration', 'formatGoDuration', 'DurationError'],
  },
  { concept: 'MD5', owner: 'lib/hash/md5.ts', names: ['md5', 'md5Hex', 'md5Base64'] },
  { concept: 'ULIDs', owner: 'lib/tsdb/ulid.ts', names: ['ulid', 'newULID', 'newUlid', 'isULID', 'ulidTime', 'monotonicULID'] },
  { concept: 'abortable sleep', owner: 'lib/sdk/time.ts', names: ['sleep', 'delay'] },
  {
    concept: 'block meta.json (BlockMeta, resolutions)',
    owner: 'lib/tsdb/meta.ts',
    names: ['BlockMeta', 'ThanosMeta', 'MetaError', 'parseMeta', 'parseBlockMeta', 'formatMeta', 'RES_RAW', 'RES_5M', 'RES_1H'],
  },
  { concept: 'CRC32 Castagnoli (the TS twin of the core kernel; lib/tsdb/encoding.ts re-exports it)', owner: 'lib/core/js/crc32c.ts', names: ['crc32c'] },
  { concept: 'index-header', owner: 'lib/tsdb/indexheader.ts', names: ['buildIndexHeader', 'INDEX_HEADER_MAGIC'] },
  { concept: "Go's strconv.Quote", owner: 'lib/tsdb/gofmt.ts', names: ['goQuote'] },
  { concept: 'the plugin contract (Logger, TcpConnection, BuildInfo, ...)', owner: 'lib/sdk/plugin.ts', names: ['Logger', 'TcpConnection', 'BuildInfo', 'GrpcClientConn', 'definePlugin'] },
  { concept: 'plugin contract errors', owner: 'lib/sdk/errors.ts', names: ['ConfigError', 'PermissionDenied', 'GrpcError', 'GrpcStatus'] },
  { concept: 'host:port listen addresses (Go net.SplitHostPort)', owner: 'lib/net/hostport.ts', names: ['splitHostPort'] },
  { concept: 'the Info service (gRPC thanos.Info) and gRPC request decoding', owner: 'lib/store/server.ts', names: ['infoServices', 'grpcDecoder', 'decoder'] },
  {
    concept: 'downsampling aggregate numbering (AggrChunk order count=0 .. counter=4; not the storepb.Aggr wire enum of lib/proto/store.ts)',
    owner: 'lib/core/aggr.ts',
    names: ['AGGR_COUNT', 'AGGR_SUM', 'AGGR_MIN', 'AGGR_MAX', 'AGGR_COUNTER', 'AGGR_NAMES', 'AggrName'],
  },
];

/**
 * Known duplicates, each to be removed (#11). An entry that no longer matches is reported (not a
 * failure, so the engineer removing a duplicate need not edit this file at the same moment): delete it.
 */
export const ALLOWED: readonly Allowed[] = [
];

test('the owner check fails on a second declaration, exported or private, and accepts imports and re-exports', () => {
  const files: FileSet = {
    'lib/hash/md5.ts': `export function md5(b: Uint8Array): Uint8Array { return b; }`,
    'plugins/objstore/s3/md5.ts': `export function md5(b: Uint8Array): Uint8Array { return b; }`,
    'plugins/component/rule/mod.ts': `import { x } from 'y';\n\nfunction sleep(ms: number) { return new Promise((r) => setTimeout(r, ms)); }`,
    'lib/store/blocksync/meta.ts': `export interface BlockMeta { ulid: string }\nexport const RES_RAW = 0;`,
    'lib/sdk/flags.ts': `export { parseGoDuration as parseDuration } from '../duration/mod.ts';`,
    'lib/query/format.ts': `import { parsePromDuration } from '../duration/mod.ts';\nexport const f = (s: string) => parsePromDuration(s);\nconst o = { sleep: 1 };`,
    'lib/tsdb/ulid.ts': `export function ulid(): string { return ''; }`,
  };
  const { violations, stale } = checkOwners(files, CONCEPTS);
  assert.equal(violations.map((v) => `${v.file}:${v.line} ${v.detail.split(' (')[0]}`).sort(), [
    'lib/store/blocksync/meta.ts:1 declares BlockMeta',
    'lib/store/blocksync/meta.ts:2 declares RES_RAW',
    'plugins/component/rule/mod.ts:3 declares sleep',
    'plugins/objstore/s3/md5.ts:1 declares md5',
  ], format(violations));
  assert.match(violations.find((v) => v.file === 'plugins/objstore/s3/md5.ts')!.detail, /its one owner is lib\/hash\/md5\.ts/);
  assert.equal(stale, []);
  // an allow-list entry silences exactly its file and name; an unused one is reported stale
  const allowed: Allowed[] = [
    { file: 'plugins/objstore/s3/md5.ts', name: 'md5', todo: 'x' },
    { file: 'lib/gone.ts', name: 'sleep', todo: 'y' },
  ];
  const r = checkOwners(files, CONCEPTS, allowed);
  assert.is(r.violations.length, 3, format(r.violations));
  assert.equal(r.stale, [allowed[1]]);
});

test('one owner per concept in lib/, host/ and plugins/', () => {
  const tree = loadTree(['lib', 'host', 'plugins']);
  for (const c of CONCEPTS) assert.ok(c.owner in tree, `the owner of ${c.concept} exists: ${c.owner}`);
  const { violations, stale } = checkOwners(tree, CONCEPTS, ALLOWED);
  if (stale.length) console.log(`owners.test.ts: allow-list entries that no longer match (delete them):\n${stale.map((a) => `  ${a.file} ${a.name}`).join('\n')}`);
  assert.equal(violations, [], `second owners:\n${format(violations)}`);
});

test.run();

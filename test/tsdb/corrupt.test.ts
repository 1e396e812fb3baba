// Bad input: every corruption gives a clear error naming block, file and section; no partial read
// is returned as success.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BlockWriter, BlockReader, memBlockSink, memBlockFiles, CorruptBlockError, PartialBlockError, MetaError, parseMeta,
  chunkRef, type BlockFiles,
} from '../../lib/tsdb/mod.ts';
import { labelsFromRecord, type Matcher } from '../../lib/labels/mod.ts';
import { core, rejects, HOUR } from './helpers.ts';

const T0 = Date.UTC(2026, 10, 20);
const ALL: Matcher[] = [{ type: '=~', name: '__name__', value: '.+' }];
let files: Map<string, Uint8Array>;
let id = '';

test.before(async () => {
  const sink = memBlockSink();
  const w = await BlockWriter.create(sink, ['__name__', 'm', 'i', ...Array.from({ length: 20 }, (_, k) => `v${String(k).padStart(2, "0")}`)], { core, minTime: T0, maxTime: T0 + 2 * HOUR });
  for (let k = 0; k < 20; k++) {
    const t = new Float64Array(300).map((_, i) => T0 + i * 15_000);
    const v = new Float64Array(300).map((_, i) => i * k);
    await w.addSeries(labelsFromRecord({ __name__: 'm', i: `v${String(k).padStart(2, "0")}` }), t, v);
  }
  id = (await w.finish()).meta.ulid;
  files = sink.files;
});

function mutate(rel: string, f: (b: Uint8Array) => Uint8Array): BlockFiles {
  const m = new Map(files);
  m.set(rel, f(files.get(rel)!.slice()));
  return memBlockFiles(m, id);
}

async function readAll(bf: BlockFiles): Promise<number> {
  const b = await BlockReader.open(bf, { core });
  let n = 0;
  for await (const s of b.select(ALL)) n += s.n;
  return n;
}

function expectCorrupt(e: Error, file: RegExp, section: RegExp) {
  assert.instance(e, CorruptBlockError);
  const c = e as CorruptBlockError;
  assert.is(c.block, id);
  assert.match(c.file, file);
  assert.match(c.section, section);
  assert.match(c.message, id);
}

test('intact block reads fully', async () => {
  assert.is(await readAll(memBlockFiles(files, id)), 20 * 300);
});

test('truncated index', async () => {
  const e = await rejects(() => readAll(mutate('index', (b) => b.subarray(0, Math.floor(b.length / 2)))), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e, /^index$/, /TOC|symbol|postings/);
  const e2 = await rejects(() => readAll(mutate('index', (b) => b.subarray(0, 10))), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e2, /^index$/, /header/);
});

test('wrong magic (index and chunk segment)', async () => {
  const e = await rejects(() => readAll(mutate('index', (b) => { b[0] = 0x12; return b; })), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e, /^index$/, /^header$/);
  assert.match(e.message, /invalid magic number 0x12aad700/);
  const e2 = await rejects(() => readAll(mutate('chunks/000001', (b) => { b[1] = 0; return b; })), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e2, /^chunks\/000001$/, /segment header/);
});

test('bad CRC in each index section and in a chunk', async () => {
  const b = await BlockReader.open(memBlockFiles(files, id), { core });
  const toc = b.index.toc;
  const nameList = (await b.index.postingsOffsets.range('__name__', 'm'))!;
  const cases: [string, number, RegExp][] = [
    ['symbol table', toc.symbols + 12, /symbol table/],
    ['series', toc.series + 3, /^series \d+$/],
    ['postings', nameList.start + 9, /^postings list __name__="m"$/],
    ['postings offset table', toc.postingsTable + 10, /postings offset table/],
    ['TOC', files.get('index')!.length - 10, /^TOC$/],
  ];
  for (const [what, off, section] of cases) {
    const e = await rejects(() => readAll(mutate('index', (x) => { x[off] ^= 0x5a; return x; })), (x) => x instanceof CorruptBlockError, what);
    expectCorrupt(e, /^index$/, section);
    assert.match(e.message, /checksum mismatch|symbol reference|trailing|invalid|unexpected|out of range|length/, what);
  }
  const e = await rejects(() => readAll(mutate('chunks/000001', (x) => { x[200] ^= 0xff; return x; })), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e, /^chunks\/000001$/, /^chunk \d+$/);
});

test('chunk reference out of range and truncated segment', async () => {
  const b = await BlockReader.open(memBlockFiles(files, id), { core });
  const size = files.get('chunks/000001')!.length;
  const e1 = await rejects(() => b.chunk(chunkRef(0, size + 100)), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e1, /chunks\/000001/, /^chunk/);
  assert.match(e1.message, /out of range/);
  const e2 = await rejects(() => b.chunk(chunkRef(3, 8)), (x) => x instanceof CorruptBlockError);
  assert.match(e2.message, /out of range: segment 4 of 1/);
  const e3 = await rejects(() => b.index.series(1 << 30), (x) => x instanceof CorruptBlockError);
  assert.match(e3.message, /series .*out of range/);
  const e4 = await rejects(() => readAll(mutate('chunks/000001', (x) => x.subarray(0, x.length - 50))), (x) => x instanceof CorruptBlockError);
  expectCorrupt(e4, /chunks\/000001/, /^chunk/);
  assert.match(e4.message, /truncated|out of range/);
});

test('malformed or missing meta.json', async () => {
  const enc = new TextEncoder();
  const bad = async (text: string, re: RegExp) => {
    const m = new Map(files);
    m.set('meta.json', enc.encode(text));
    const e = await rejects(() => BlockReader.open(memBlockFiles(m, id), { core }), (x) => x instanceof MetaError, text);
    assert.match(e.message, id);
    assert.match(e.message, re);
  };
  const good = JSON.parse(new TextDecoder().decode(files.get('meta.json')));
  await bad('{"ulid": ', /invalid JSON/);
  await bad('[]', /not a JSON object/);
  await bad(JSON.stringify({ ...good, ulid: 'nope' }), /ulid: expected a ULID/);
  await bad(JSON.stringify({ ...good, minTime: '1' }), /minTime: expected an integer/);
  await bad(JSON.stringify({ ...good, maxTime: good.minTime - 1 }), /maxTime: maxTime .* is before minTime/);
  await bad(JSON.stringify({ ...good, version: 7 }), /version: unsupported/);
  await bad(JSON.stringify({ ...good, thanos: { labels: { a: 1 } } }), /thanos\.labels/);
  await bad(JSON.stringify({ ...good, thanos: { labels: {}, downsample: { resolution: 'x' } } }), /thanos\.downsample\.resolution/);
  const m = new Map(files);
  m.delete('meta.json');
  await rejects(() => BlockReader.open(memBlockFiles(m, id), { core }), (x) => x instanceof PartialBlockError && /partial/.test((x as Error).message));
  // Unknown keys survive a round trip (Thanos extensions).
  const meta = parseMeta(JSON.stringify({ ...good, thanos: { labels: { a: 'b' }, downsample: { resolution: 300000 }, source: 'compactor', extensions: { x: 1 } } }));
  assert.equal(meta.thanos!.extensions, { x: 1 });
});

test.run();

// The retry wrapper against a fault-injecting bucket (#21 item 7): a streamed upload that fails
// with a 500 is sent again from a re-opened source; a read that breaks off mid-body continues from
// the first byte not delivered; both bounded. The e2e over a real server is
// test/objstore-swift/retry-e2e.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import memory, { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { createBucket, parseBucketConfig } from '../../lib/objstore/factory.ts';
import { readAll, reopenable, type Bucket, type IterOptions } from '../../lib/objstore/bucket.ts';
import { RetryBucket } from '../../lib/objstore/retry.ts';
import { MetricsBucket } from '../../lib/objstore/metrics.ts';
import { Registry } from '../../host/metrics.ts';
import { pattern, sameBytes, streamOf } from '../harness/bytes.ts';
import { uploadBlock } from '../../lib/tsdb/objstore.ts';
import { BlockWriter, fsBlockSink } from '../../lib/tsdb/writer.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { createJsCore } from '../../lib/core/mod.ts';

const noSleep = { sleep: async () => {} };
const http500 = () => Object.assign(new Error('500 Internal Server Error'), { status: 500 });
// What fetch (undici) throws when the socket closes mid-body.
const cut = () => new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

/** A MemoryBucket whose uploads fail after reading part of the body, and whose reads break off. */
class FaultyBucket implements Bucket {
  readonly provider = 'FAULTY';
  readonly inner = new MemoryBucket();
  /** Uploads still to fail (each reads half the body first, as a server answering 500 mid-way would). */
  failUploads = 0;
  /** Reads still to cut, and after how many bytes of the body. */
  cutReads = 0;
  cutAfter = 1000;
  /** The error a cut read fails with. */
  cutError: () => unknown = cut;
  readonly ranges: Array<[number, number | undefined]> = [];
  uploads = 0;

  iter(dir: string, opts?: IterOptions) { return this.inner.iter(dir, opts); }
  exists(n: string) { return this.inner.exists(n); }
  attributes(n: string) { return this.inner.attributes(n); }
  delete(n: string) { return this.inner.delete(n); }
  isObjNotFoundErr(e: unknown) { return this.inner.isObjNotFoundErr(e); }
  close() { return this.inner.close(); }

  async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    this.uploads++;
    if (this.failUploads > 0) {
      this.failUploads--;
      if (!(body instanceof Uint8Array)) {
        const r = body.getReader();
        await r.read();
        r.releaseLock();
      }
      throw http500();
    }
    return this.inner.upload(name, body);
  }

  get(name: string) { return this.getRange(name, 0); }

  async getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>> {
    this.ranges.push([off, len]);
    const s = await this.inner.getRange(name, off, len);
    if (this.cutReads <= 0) return s;
    this.cutReads--;
    const all = await readAll(s);
    const keep = all.subarray(0, Math.min(this.cutAfter, all.length));
    let sent = false;
    const err = this.cutError;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent && keep.length) { sent = true; c.enqueue(keep.slice()); return; }
        c.error(err());
      },
    });
  }
}

const data = pattern(10_000, 7);

test('upload: a re-openable stream that failed with 500 is opened again and sent whole', async () => {
  const f = new FaultyBucket();
  const b = new RetryBucket(f, noSleep);
  let opens = 0;
  f.failUploads = 2;
  await b.upload('x/chunks/000001', await reopenable(async () => { opens++; return streamOf(data, 999); }));
  assert.is(f.uploads, 3);
  assert.is(opens, 3, 'one open per try');
  assert.ok(sameBytes(await readAll(await f.inner.get('x/chunks/000001')), data));
});

test('upload: re-opening is bounded by retries; a plain stream gets one try', async () => {
  const f = new FaultyBucket();
  f.failUploads = 10;
  const b = new RetryBucket(f, { retries: 2, ...noSleep });
  await b.upload('a', await reopenable(async () => streamOf(data, 999))).then(() => assert.unreachable('should fail'), (e) => assert.is((e as { status: number }).status, 500));
  assert.is(f.uploads, 3);
  f.uploads = 0;
  await b.upload('b', streamOf(data, 999)).then(() => assert.unreachable('should fail'), () => {});
  assert.is(f.uploads, 1, 'a consumed plain stream cannot be sent again');
});

test('upload: re-opening goes through the metrics wrapper (the factory puts metrics outside retry)', async () => {
  const f = new FaultyBucket();
  f.failUploads = 1;
  const b = new MetricsBucket(new RetryBucket(f, noSleep), new Registry(), 'faulty');
  await b.upload('m', await reopenable(async () => streamOf(data, 999)));
  assert.ok(sameBytes(await readAll(await f.inner.get('m')), data));
});

test('upload: a local file is re-read from its start (Node file streams)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'retry-resume-'));
  try {
    const p = join(dir, 'index');
    writeFileSync(p, data);
    const f = new FaultyBucket();
    f.failUploads = 1;
    const openFile = async () => Readable.toWeb((await open(p)).createReadStream({ highWaterMark: 1024 })) as unknown as ReadableStream<Uint8Array>;
    await new RetryBucket(f, noSleep).upload('file', await reopenable(openFile));
    assert.ok(sameBytes(await readAll(await f.inner.get('file')), data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('getRange: a body cut mid-way continues from the first byte not delivered', async () => {
  const f = new FaultyBucket();
  await f.inner.upload('obj', data);
  const b = new RetryBucket(f, noSleep);
  f.cutReads = 3;
  f.cutAfter = 700;
  const got = await readAll(await b.getRange('obj', 100, 5000));
  assert.ok(sameBytes(got, data.subarray(100, 5100)), `got ${got.length} bytes`);
  assert.equal(f.ranges, [[100, 5000], [800, 4300], [1500, 3600], [2200, 2900]]);
});

test('get: a whole-object read cut mid-way resumes to the end', async () => {
  const f = new FaultyBucket();
  await f.inner.upload('obj', data);
  const retries: string[] = [];
  const b = new RetryBucket(f, { ...noSleep, onRetry: (op) => retries.push(op) });
  f.cutReads = 2;
  f.cutAfter = 4096;
  assert.ok(sameBytes(await readAll(await b.get('obj')), data));
  assert.equal(f.ranges, [[0, undefined], [4096, undefined], [8192, undefined]]);
  assert.equal(retries, ['get_resume', 'get_resume']);
});

test('getRange: breaks without progress are bounded; permanent errors are not resumed', async () => {
  const f = new FaultyBucket();
  await f.inner.upload('obj', data);
  const b = new RetryBucket(f, { retries: 2, ...noSleep });
  f.cutReads = 100;
  f.cutAfter = 0; // every try breaks before the first byte
  await readAll(await b.getRange('obj', 0, 100)).then(() => assert.unreachable('should fail'), (e) => assert.is((e as Error).message, 'terminated'));
  assert.is(f.ranges.length, 3, 'first read + 2 resumes');
  f.ranges.length = 0;
  f.cutReads = 1;
  f.cutAfter = 10;
  f.cutError = () => new Error('bad data');
  await readAll(await b.getRange('obj', 0, 100)).then(() => assert.unreachable('should fail'), (e) => assert.is((e as Error).message, 'bad data'));
  assert.is(f.ranges.length, 1);
});

test('uploadBlock (the shipper and bucket upload-blocks): block files are re-read after a 500', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'retry-block-'));
  try {
    const fs = nodeFs();
    const core = createJsCore();
    const w = await BlockWriter.create(fsBlockSink(fs, dir), ['__name__', 'up'], { core, minTime: 0, maxTime: 7_200_000, thanos: { labels: { cluster: 'a' }, downsample: { resolution: 0 }, source: 'test' } });
    await w.addSeries([{ name: '__name__', value: 'up' }], new Float64Array([1000, 2000]), new Float64Array([1, 2]));
    const { meta } = await w.finish();
    const f = new FaultyBucket();
    f.failUploads = 2; // the chunk segment's first try, then the index's
    await uploadBlock(new RetryBucket(f, noSleep), fs, join(dir, meta.ulid));
    assert.is(f.uploads, 5, '3 files + 2 retries');
    for (const rel of ['chunks/000001', 'index']) {
      assert.ok(sameBytes(await readAll(await f.inner.get(`${meta.ulid}/${rel}`)), new Uint8Array(readFileSync(join(dir, meta.ulid, rel)))), rel);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a provider that retries itself (retries: 'provider') still gets cut bodies resumed, but no call retried again", async () => {
  const f = new FaultyBucket();
  await f.inner.upload('obj', data);
  const b = await createBucket(parseBucketConfig('type: MEMORY\n', 'b.yaml'), {
    loadProvider: async () => ({ ...memory, retries: 'provider' as const, create: async () => f }), capabilities: () => ({}) as never, retry: { sleep: async () => {} },
  });
  f.cutReads = 1;
  assert.ok(sameBytes(await readAll(await b.getRange('obj', 0, 5000)), data.subarray(0, 5000)));
  f.failUploads = 1;
  await b.upload('x', await reopenable(async () => streamOf(data, 999))).then(() => assert.unreachable('should fail'), () => {});
  assert.is(f.uploads, 1, 'the provider already retried: attempts do not multiply');
});

test.run();

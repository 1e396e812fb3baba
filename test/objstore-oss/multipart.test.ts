// ALIYUNOSS multipart uploads (Thanos's providers/oss: objects of at least PartSize bytes go up in parts of
// PartSize) against the signature-verifying OSS fake (fake.ts). The part size is shrunk through the
// plugin's internal option (not a config key: Thanos has none) to 100 KiB, OSS's minimum part size,
// which the fake enforces on completion.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createOssBucket, OSS_PART_SIZE, parseOssConfig } from '../../plugins/objstore/oss/mod.ts';
import { testCtx } from '../objstore-s3/ctx.ts';
import { startFakeOss, type FakeOss } from './fake.ts';

const CREDS = { bucket: 'thanos', accessKeyId: 'LTAI-test', secret: 'oss-secret' };
const PART = 100 * 1024;
let oss: FakeOss;
test.before(async () => { oss = await startFakeOss(CREDS); });
test.after(async () => { await oss?.stop(); });

function bucket(partSize = PART) {
  const cfg = parseOssConfig({ endpoint: oss.endpoint, bucket: CREDS.bucket, access_key_id: CREDS.accessKeyId, access_key_secret: CREDS.secret });
  return createOssBucket(testCtx({ net: [oss.hostPort] }), cfg, { partSize });
}

/** Deterministic, position-dependent bytes, so a swapped or repeated part shows. */
function pattern(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 10) * 7) & 0xff;
  return b;
}

/** A stream of `data` in chunks of `chunk` bytes (not aligned to parts); `failAt` errors it after that many bytes. */
function streamOf(data: Uint8Array, chunk: number, failAt?: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (failAt !== undefined && off >= failAt) return c.error(new Error('body source broke'));
      if (off >= data.length) return c.close();
      c.enqueue(data.slice(off, off + chunk));
      off += chunk;
    },
  });
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(s).arrayBuffer());
}

const delta = (before: FakeOss['multipart']) => {
  const now = oss.multipart;
  return { initiated: now.initiated - before.initiated, parts: now.parts - before.parts, completed: now.completed - before.completed, aborted: now.aborted - before.aborted, open: now.open };
};

test("Thanos's part size: 128 MiB", () => {
  assert.is(OSS_PART_SIZE, 128 * 1024 * 1024);
});

test('a stream over the part size arrives byte-identical, in parts (3.5 parts, chunks not aligned to parts)', async () => {
  const b = await bucket();
  const data = pattern(Math.floor(3.5 * PART));
  const before = oss.multipart;
  await b.upload('big/stream', streamOf(data, 7777));
  assert.equal(delta(before), { initiated: 1, parts: 4, completed: 1, aborted: 0, open: 0 });
  assert.ok((await readAll(await b.get('big/stream'))).equals(data), 'byte-identical');
  assert.is((await b.attributes('big/stream')).size, data.length);
});

test('a byte array over the part size goes up in parts too; exactly one part is multipart (as Thanos: size >= PartSize), one byte less is one PUT', async () => {
  const b = await bucket();
  for (const [size, parts] of [[2 * PART + 1, 3], [PART, 1], [PART - 1, 0]] as const) {
    const data = pattern(size);
    for (const [how, body] of [['bytes', data], ['stream', streamOf(data, 4096)]] as const) {
      const before = oss.multipart;
      const name = `sized/${size}-${how}`;
      await b.upload(name, body);
      const d = delta(before);
      assert.equal(d, { initiated: parts ? 1 : 0, parts, completed: parts ? 1 : 0, aborted: 0, open: 0 }, `${size} ${how}`);
      assert.ok((await readAll(await b.get(name))).equals(data), `${size} ${how}: byte-identical`);
    }
  }
});

test('a failing part aborts the upload: the error names the part, no parts are left, no object appears', async () => {
  const b = await bucket();
  const data = pattern(4 * PART + 10);
  for (const [how, body] of [['bytes', () => data], ['stream', () => streamOf(data, 10_000)]] as const) {
    oss.failPart = 3;
    const before = oss.multipart;
    try {
      await b.upload(`failing/${how}`, body());
      assert.unreachable('expected the upload to fail');
    } catch (err) {
      assert.match(String(err), /part 3.*500 InternalError/);
    } finally {
      oss.failPart = undefined;
    }
    assert.equal(delta(before), { initiated: 1, parts: 2, completed: 0, aborted: 1, open: 0 }, how);
    assert.is(await b.exists(`failing/${how}`), false);
  }
});

test('a body that breaks after the first part aborts the upload too', async () => {
  const b = await bucket();
  const before = oss.multipart;
  try {
    await b.upload('broken/body', streamOf(pattern(3 * PART), 5000, Math.floor(1.5 * PART)));
    assert.unreachable('expected the upload to fail');
  } catch (err) {
    assert.match(String(err), /body source broke/);
  }
  assert.equal(delta(before), { initiated: 1, parts: 1, completed: 0, aborted: 1, open: 0 });
  assert.is(await b.exists('broken/body'), false);
});

test('multipart requests are signed: a wrong secret is refused at initiation, nothing is started', async () => {
  const cfg = parseOssConfig({ endpoint: oss.endpoint, bucket: CREDS.bucket, access_key_id: CREDS.accessKeyId, access_key_secret: 'wrong' });
  const b = await createOssBucket(testCtx({ net: [oss.hostPort] }), cfg, { partSize: PART });
  const before = oss.multipart;
  try {
    await b.upload('unsigned/big', pattern(2 * PART));
    assert.unreachable('expected a signature error');
  } catch (err) {
    assert.match(String(err), /initiate multipart.*403 SignatureDoesNotMatch/);
  }
  assert.equal(delta(before), { initiated: 0, parts: 0, completed: 0, aborted: 0, open: 0 });
});

test('the stream is read one part at a time, not ahead: when part N is sent, at most N parts and a chunk were pulled', async () => {
  const b = await bucket();
  const data = pattern(5 * PART);
  let pulled = 0;
  let worstExcess = 0;
  const base = streamOf(data, 3000);
  const reader = base.getReader();
  const counted = new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await reader.read();
      if (r.done) return c.close();
      pulled += r.value.byteLength;
      c.enqueue(r.value);
    },
  }, { highWaterMark: 0 });
  const before = oss.multipart;
  const poll = setInterval(() => {
    const sent = oss.multipart.parts - before.parts;
    worstExcess = Math.max(worstExcess, pulled - (sent + 1) * PART);
  }, 1);
  try {
    await b.upload('bounded/stream', counted);
  } finally {
    clearInterval(poll);
  }
  assert.ok(worstExcess <= 3000, `read ahead by ${worstExcess} bytes beyond the part in flight`);
  assert.ok((await readAll(await b.get('bounded/stream'))).equals(data));
});

test.run();

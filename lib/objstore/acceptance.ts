// The one acceptance suite every object-store provider passes (the role of objstore's
// AcceptanceTest). Usage from a provider's test file:
//
//   import { test } from 'uvu';
//   import { registerAcceptance } from '../../lib/objstore/acceptance.ts';
//   registerAcceptance(test, async () => makeMyBucket());   // a fresh, empty bucket (or prefix) per call
//   test.run();
//
// Each registered test calls the factory once, uses the bucket, and closes it. A provider whose
// buckets are expensive can return a prefixed view of one shared bucket (lib/objstore/prefix.ts)
// with a fresh random prefix each time.
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRangeInto, readAll, type Bucket } from './bucket.ts';

export interface AcceptanceOptions {
  /** Prefix for test names, e.g. 'S3: '. */
  name?: string;
  /** Allowed clock skew between the test and the store when checking lastModified (ms). Default 5 min. */
  clockSkewMs?: number;
  /** Size of the large streamed upload (bytes). Default 3 MiB + 17. */
  largeSize?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function streamOf(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < parts.length) c.enqueue(parts[i++]!);
      else c.close();
    },
  });
}

async function text(s: ReadableStream<Uint8Array>): Promise<string> {
  return dec.decode(await readAll(s));
}

async function list(b: Bucket, dir: string, recursive = false): Promise<string[]> {
  const out: string[] = [];
  for await (const n of b.iter(dir, { recursive })) out.push(n);
  return out.sort();
}

async function rejectsNotFound(b: Bucket, p: Promise<unknown>, what: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(b.isObjNotFoundErr(err), `${what}: expected a not-found error, got ${String(err)}`);
    return;
  }
  assert.unreachable(`${what}: expected a not-found error, but it resolved`);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Registers the acceptance tests on `suite`; `make` returns a fresh, empty bucket each call. */
export function registerAcceptance(suite: Test, make: () => Promise<Bucket>, opts: AcceptanceOptions = {}): void {
  const p = opts.name ?? '';
  const skew = opts.clockSkewMs ?? 5 * 60_000;
  const largeSize = opts.largeSize ?? 3 * 1024 * 1024 + 17;

  const t = (name: string, fn: (b: Bucket) => Promise<void>) =>
    suite(`${p}${name}`, async () => {
      const b = await make();
      try {
        await fn(b);
      } finally {
        await b.close();
      }
    });

  t('provider is named', async (b) => {
    assert.type(b.provider, 'string');
    assert.ok(b.provider.length > 0);
  });

  t('missing objects: get/getRange/attributes are not-found, exists is false', async (b) => {
    assert.is(await b.exists('id1/obj_1.some'), false);
    await rejectsNotFound(b, b.get('id1/obj_1.some'), 'get');
    await rejectsNotFound(b, b.getRange('id1/obj_1.some', 1, 3), 'getRange');
    await rejectsNotFound(b, b.attributes('id1/obj_1.some'), 'attributes');
    assert.is(b.isObjNotFoundErr(new Error('boom')), false, 'a plain error is not not-found');
  });

  t('get("") is an error, but not a not-found error', async (b) => {
    let threw: unknown;
    try {
      await readAll(await b.get(''));
    } catch (err) {
      threw = err;
    }
    assert.ok(threw, 'get("") must fail');
    assert.is(b.isObjNotFoundErr(threw), false, 'get("") must not look like not-found');
  });

  t('upload bytes, get, exists, attributes', async (b) => {
    const before = Date.now();
    await b.upload('id1/obj_1.some', enc.encode('@test-data@'));
    assert.is(await b.exists('id1/obj_1.some'), true);
    assert.is(await text(await b.get('id1/obj_1.some')), '@test-data@');
    const a = await b.attributes('id1/obj_1.some');
    assert.is(a.size, 11);
    assert.instance(a.lastModified, Date);
    const lm = a.lastModified.getTime();
    assert.ok(lm >= before - skew && lm <= Date.now() + skew, `lastModified ${a.lastModified.toISOString()} is not near now`);
  });

  t('getRange: inside, open-ended, -1, past the end', async (b) => {
    await b.upload('id1/obj_1.some', enc.encode('@test-data@'));
    assert.is(await text(await b.getRange('id1/obj_1.some', 1, 3)), 'tes');
    assert.is(await text(await b.getRange('id1/obj_1.some', 0, 11)), '@test-data@');
    assert.is(await text(await b.getRange('id1/obj_1.some', 3, -1)), 'st-data@', 'length -1 reads to the end');
    assert.is(await text(await b.getRange('id1/obj_1.some', 3)), 'st-data@', 'no length reads to the end');
    assert.is(await text(await b.getRange('id1/obj_1.some', 8, 100)), 'ta@', 'a length past the end reads what exists');
    assert.is(await text(await b.getRange('id1/obj_1.some', 0, 0)), '', 'zero length reads nothing');
    // An offset past the end is provider-specific (S3: 416 InvalidRange): either an error that is
    // not a not-found error, or an empty read. It must not hang or return data.
    try {
      const got = await text(await b.getRange('id1/obj_1.some', 144, 3));
      assert.is(got, '', 'offset past the end returns no data');
    } catch (err) {
      assert.is(b.isObjNotFoundErr(err), false, `offset past the end is not not-found: ${String(err)}`);
    }
  });

  t('getRangeInto (the bucket\'s own or the getRange fallback): the caller\'s buffer gets getRange\'s bytes', async (b) => {
    await b.upload('id1/obj_1.some', enc.encode('@test-data@'));
    const into = async (off: number, len: number, at = 0): Promise<string> => {
      const buf = new Uint8Array(at + len).fill(0x2a); // '*' around what is read
      const n = await getRangeInto(b, 'id1/obj_1.some', off, buf.subarray(at));
      assert.ok(buf.subarray(0, at).every((x) => x === 0x2a), 'nothing written before dst');
      assert.ok(buf.subarray(at + n).every((x) => x === 0x2a), 'nothing written past the count');
      return new TextDecoder().decode(buf.subarray(at, at + n));
    };
    assert.is(await into(1, 3), 'tes');
    assert.is(await into(1, 3, 5), 'tes', 'dst a view into a larger buffer');
    assert.is(await into(0, 11), '@test-data@');
    assert.is(await into(8, 100), 'ta@', 'a length past the end reads what exists');
    assert.is(await into(0, 0), '', 'an empty dst reads nothing');
    await rejectsNotFound(b, getRangeInto(b, 'id1/missing', 0, new Uint8Array(4)), 'getRangeInto');
    try {
      assert.is(await into(144, 3), '', 'offset past the end reads no data');
    } catch (err) {
      assert.is(b.isObjNotFoundErr(err), false, `offset past the end is not not-found: ${String(err)}`);
    }
  });

  t('upload a stream in several chunks; large object; ranged read from the middle', async (b) => {
    const data = pattern(largeSize);
    const parts: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += 100_003) parts.push(data.slice(off, off + 100_003));
    await b.upload('big/object.bin', streamOf(parts));
    assert.is((await b.attributes('big/object.bin')).size, largeSize);
    const all = await readAll(await b.get('big/object.bin'));
    assert.is(all.length, largeSize);
    assert.ok(bytesEqual(all, data), 'round trip of the large object');
    const mid = await readAll(await b.getRange('big/object.bin', 1_000_001, 70_000));
    assert.ok(bytesEqual(mid, data.subarray(1_000_001, 1_070_001)), 'ranged read of the large object');
  });

  t('empty object', async (b) => {
    await b.upload('empty', new Uint8Array(0));
    assert.is(await b.exists('empty'), true);
    assert.is((await b.attributes('empty')).size, 0);
    assert.is((await readAll(await b.get('empty'))).length, 0);
  });

  t('overwrite replaces the content', async (b) => {
    await b.upload('id1/obj_1.some', enc.encode('first version, longer'));
    await b.upload('id1/obj_1.some', enc.encode('second'));
    assert.is(await text(await b.get('id1/obj_1.some')), 'second');
    assert.is((await b.attributes('id1/obj_1.some')).size, 6);
  });

  t('delete', async (b) => {
    await b.upload('id1/obj_1.some', enc.encode('x'));
    await b.upload('id1/obj_2.some', enc.encode('y'));
    await b.delete('id1/obj_1.some');
    assert.is(await b.exists('id1/obj_1.some'), false);
    await rejectsNotFound(b, b.get('id1/obj_1.some'), 'get after delete');
    assert.is(await text(await b.get('id1/obj_2.some')), 'y', 'the sibling survives');
  });

  t('iter: flat and recursive, directories with a trailing "/"', async (b) => {
    for (const n of ['obj_5.some', 'id1/obj_1.some', 'id1/obj_2.some', 'id1/obj_3.some', 'id2/obj_4.some', 'id1/sub/deeper/obj_6.some']) {
      await b.upload(n, enc.encode(n));
    }
    assert.equal(await list(b, ''), ['id1/', 'id2/', 'obj_5.some']);
    const id1 = ['id1/obj_1.some', 'id1/obj_2.some', 'id1/obj_3.some', 'id1/sub/'];
    assert.equal(await list(b, 'id1'), id1, 'iter("id1")');
    assert.equal(await list(b, 'id1/'), id1, 'iter("id1/") equals iter("id1")');
    assert.equal(await list(b, 'id1/sub/'), ['id1/sub/deeper/']);
    assert.equal(await list(b, '', true), [
      'id1/obj_1.some', 'id1/obj_2.some', 'id1/obj_3.some', 'id1/sub/deeper/obj_6.some', 'id2/obj_4.some', 'obj_5.some',
    ], 'recursive iter returns objects only');
    assert.equal(await list(b, 'id1', true), ['id1/obj_1.some', 'id1/obj_2.some', 'id1/obj_3.some', 'id1/sub/deeper/obj_6.some']);
    assert.equal(await list(b, 'id1/obj_1.some'), [], 'iter of an object name (not a dir) lists nothing');
    assert.equal(await list(b, 'not-existing'), [], 'iter of a missing dir lists nothing');
    assert.equal(await list(b, 'not-existing', true), []);
    assert.equal(await list(b, 'id'), [], 'iter does not match name prefixes of directories');
    // a directory disappears once it is empty
    await b.delete('id2/obj_4.some');
    assert.equal(await list(b, ''), ['id1/', 'obj_5.some']);
    await b.delete('id1/sub/deeper/obj_6.some');
    assert.equal(await list(b, 'id1'), ['id1/obj_1.some', 'id1/obj_2.some', 'id1/obj_3.some']);
  });

  t('nested names and unusual characters', async (b) => {
    const names = ['a/b/c/d/e.txt', 'with space/file name.json', 'unicode/ä€漢.bin', 'dots/x.y.z', '01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/000001'];
    for (const n of names) await b.upload(n, enc.encode(`<${n}>`));
    for (const n of names) {
      assert.is(await text(await b.get(n)), `<${n}>`, n);
      assert.is(await b.exists(n), true, n);
    }
    assert.equal(await list(b, 'a/b'), ['a/b/c/']);
    assert.equal(await list(b, '01ARZ3NDEKTSV4RRFFQ69G5FAV/'), ['01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/']);
    assert.equal(await list(b, '', true), [...names].sort());
  });

  t('a read stream can be cancelled early', async (b) => {
    await b.upload('big/cancel.bin', pattern(512 * 1024, 3));
    const s = await b.get('big/cancel.bin');
    const r = s.getReader();
    const first = await r.read();
    assert.ok(!first.done && first.value.length > 0);
    await r.cancel();
    assert.is((await readAll(await b.get('big/cancel.bin'))).length, 512 * 1024, 'the object is still readable');
  });
}

// lib/objstore/kit: what HTTP vendors share, and the rule that providers never import each other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NetworkError, NoObjectStorageError, backoffMs, isNoObjectStorage, isPermissionDenied, isRetryableStatus, md5, toHex,
} from '../../lib/objstore/kit/mod.ts';
import { isRetryableError } from '../../lib/objstore/retry.ts';

const root = new URL('../../', import.meta.url).pathname;

test('providers never import another provider', () => {
  const dir = join(root, 'plugins/objstore');
  const providers = readdirSync(dir);
  for (const p of providers) {
    for (const f of readdirSync(join(dir, p)).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(dir, p, f), 'utf8');
      for (const m of src.matchAll(/from '([^']+)'/g)) {
        const spec = m[1]!;
        for (const other of providers) {
          if (other !== p) assert.not.ok(spec.includes(`/${other}/`) || spec.startsWith(`../${other}`), `${p}/${f} imports ${spec}`);
        }
      }
    }
  }
});

test('"no object storage configured": the typed error (or its code), not its wording', () => {
  assert.ok(isNoObjectStorage(new NoObjectStorageError('sidecar', 'pass --objstore.config-file or --objstore.config')));
  assert.ok(isNoObjectStorage(Object.assign(new Error('x'), { code: 'NoObjectStorage' })));
  assert.not.ok(isNoObjectStorage(new Error('receive: no object storage configured (pass --objstore.config-file or --objstore.config)')));
  assert.not.ok(isNoObjectStorage(new Error('s3 get b/x: 404 NoSuchBucket')));
  assert.not.ok(isNoObjectStorage('no object storage configured'));
  assert.match(new NoObjectStorageError('x', 'set objstore:').message, /^x: no object storage configured \(set objstore:\)$/);
});

test('retry classification and backoff', () => {
  for (const s of [500, 502, 503, 504]) assert.ok(isRetryableStatus(s));
  for (const s of [400, 403, 404, 429, 501]) assert.not.ok(isRetryableStatus(s));
  assert.equal([0, 1, 2, 6, 7].map((a) => backoffMs(a, 5000)), [100, 200, 400, 5000, 5000]);
  assert.is(backoffMs(7), 12_800);
  const denied = new Error('no'); denied.name = 'PermissionDenied';
  assert.ok(isPermissionDenied(denied));
  assert.ok(isRetryableError(new NetworkError('s3 get: fetch failed', undefined)));
});

test('md5 (lib/hash) through the kit', () => {
  assert.is(toHex(md5(new TextEncoder().encode('abc'))), '900150983cd24fb0d6963f7d28e17f72');
});

test.run();

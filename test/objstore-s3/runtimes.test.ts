// The S3 and SWIFT plugins use only web APIs (fetch, WebCrypto, web streams) and the capabilities
// (S3's AWS SDK also reads os.release() for its user agent: Deno needs --allow-sys=osRelease)
// they are given: the same round trip (multipart / SLO upload, get, range, list, delete) runs under
// Node, Deno and Bun against the Swift all-in-one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useSwift } from '../harness/swift.ts';

const saio = useSwift(test);
const root = fileURLToPath(new URL('../../', import.meta.url));
const script = 'test/objstore-s3/fixtures/roundtrip.ts';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: root, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const runtimes: Array<[string, string, (s: string[]) => string[]]> = [
  ['node', process.execPath, (a) => ['--import', 'tsx', script, ...a]],
  ['deno', `${root}node_modules/.bin/deno`, (a) => ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-sys=osRelease', '--no-prompt', script, ...a]],
  ['bun', `${root}node_modules/.bin/bun`, (a) => [script, ...a]],
];

for (const [name, cmd, args] of runtimes) {
  test(`${name}: S3 multipart and SWIFT SLO round trip`, async () => {
    const b = `rt-${name}-s3`;
    const c = `rt-${name}-swift`;
    await saio.server.createContainer(b);
    await saio.server.createContainer(c);
    const out = await run(cmd, args([saio.server.hostPort, b, c]));
    const line = out.trim().split('\n').pop()!;
    const res = JSON.parse(line) as Record<string, { same: boolean; range: number[]; names: string[]; existsAfterDelete: boolean; size: number }>;
    for (const k of ['s3', 'swift']) {
      assert.ok(res[k]!.same, `${name} ${k}: bytes round-trip`);
      assert.equal(res[k]!.range, [73, 80, 87], `${name} ${k}: range`);
      assert.equal(res[k]!.names, ['rt/big.bin'], `${name} ${k}: listing`);
      assert.is(res[k]!.existsAfterDelete, false, `${name} ${k}: delete`);
    }
  });
}

test.run();

// One launcher for s3rver (the S3 test server from npm) in a child process, shared by the suites that
// need a real S3 endpoint on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { STARTUP_MS } from '../harness/startup.ts';

/** Starts s3rver on 127.0.0.1:`port` keeping its objects in `dir`; resolves once it says it is ready. */
export async function startS3rver(port: number, dir: string): Promise<ChildProcess> {
  // --openssl-legacy-provider: s3rver's ListObjectsV2 continuation tokens are DES-encrypted.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', new URL('./fixtures/s3rver-run.cjs', import.meta.url).pathname, String(port), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`s3rver not ready after ${STARTUP_MS} ms: ${out}`)), STARTUP_MS);
    child.stdout!.on('data', (d) => { out += d; if (out.includes('ready')) { clearTimeout(t); resolve(); } });
    child.stderr!.on('data', (d) => { out += d; });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`s3rver exited ${code}: ${out}`)); });
  });
  return child;
}

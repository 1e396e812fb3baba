// Temporary directories a test file makes, all removed after its last test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';

/** Returns a maker of fresh directories under the system temp dir (named prefix + random), removed by test.after. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  test.after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

// Whether the built artifact (dist/, scripts/build.mjs) is current: it exists and no input listed in
// dist/.build.json is newer than that stamp. Inputs that are gone (an image that ships dist/
// without the TypeScript sources) do not count. Shared by bin/thanos.mjs, the build and the tests.
import * as fs from 'node:fs';

export const ROOT_URL = new URL('../', import.meta.url);
export const STAMP_URL = new URL('dist/.build.json', ROOT_URL);

export function distIsCurrent() {
  let mtime, inputs;
  try {
    mtime = fs.statSync(STAMP_URL).mtimeMs;
    inputs = JSON.parse(fs.readFileSync(STAMP_URL, 'utf8')).inputs ?? [];
  } catch {
    return false;
  }
  for (const rel of inputs) {
    let m;
    try { m = fs.statSync(new URL(rel, ROOT_URL)).mtimeMs; } catch { continue; }
    if (m > mtime) return false;
  }
  return true;
}

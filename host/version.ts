// The one version of the program. `thanos --version`, the query API's /api/v1/status/buildinfo
// and the thanos_build_info metric all read BUILD_INFO; the number itself lives in package.json
// ("version"), the revision and branch come from the git checkout the program runs from (empty
// when it is not one). The Go version Thanos reports is, here, the Node.js version.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// The shape is part of the plugin contract (ComponentContext.build); the host fills it in.
import type { BuildInfo } from '../lib/sdk/plugin.ts';
export type { BuildInfo };

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function packageVersion(root: string): string {
  try {
    const v = (JSON.parse(readText(path.join(root, 'package.json')) ?? '') as { version?: unknown }).version;
    return typeof v === 'string' && v !== '' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Branch and revision of the checkout at root, read from .git without running git. */
export function gitInfo(root: string): { branch: string; revision: string } {
  let gitDir = path.join(root, '.git');
  const dotGit = readText(gitDir);
  if (dotGit !== undefined) {
    // A worktree or submodule: `.git` is a file `gitdir: <path>`.
    const m = /^gitdir:\s*(.+)$/m.exec(dotGit);
    if (!m) return { branch: '', revision: '' };
    gitDir = path.resolve(root, m[1]!.trim());
  }
  const head = readText(path.join(gitDir, 'HEAD'))?.trim();
  if (!head) return { branch: '', revision: '' };
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return { branch: 'HEAD', revision: /^[0-9a-f]{40,64}$/.test(head) ? head : '' };
  const branch = ref.replace(/^refs\/heads\//, '');
  const common = readText(path.join(gitDir, 'commondir'))?.trim();
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const d of dirs) {
    const loose = readText(path.join(d, ref))?.trim();
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return { branch, revision: loose };
  }
  for (const d of dirs) {
    for (const line of (readText(path.join(d, 'packed-refs')) ?? '').split('\n')) {
      const [sha, name] = line.trim().split(/\s+/);
      if (name === ref && sha && /^[0-9a-f]{40,64}$/.test(sha)) return { branch, revision: sha };
    }
  }
  return { branch, revision: '' };
}

export function buildInfoOf(root: string): BuildInfo {
  const g = gitInfo(root);
  return {
    version: packageVersion(root),
    revision: g.revision,
    branch: g.branch,
    buildUser: '',
    buildDate: '',
    goVersion: `node ${process.version}`,
    platform: `${process.platform}/${process.arch}`,
  };
}

export const BUILD_INFO: Readonly<BuildInfo> = Object.freeze(buildInfoOf(ROOT));

/** `thanos --version`, laid out like Prometheus's version.Print. */
export function versionText(b: BuildInfo = BUILD_INFO): string {
  return [
    `thanos, version ${b.version} (branch: ${b.branch || 'unknown'}, revision: ${b.revision || 'unknown'})`,
    `  build user:       ${b.buildUser}`,
    `  build date:       ${b.buildDate}`,
    `  go version:       ${b.goVersion}`,
    `  platform:         ${b.platform}`,
    `  implementation:   thanos-ts (TypeScript re-implementation of Thanos)`,
    '',
  ].join('\n');
}

/** The thanos_build_info gauge (constant 1), labelled like Thanos's. */
export function buildInfoMetric(b: BuildInfo = BUILD_INFO): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const [goos, goarch] = b.platform.split('/');
  const labels = `{branch="${esc(b.branch)}",goarch="${esc(goarch ?? '')}",goos="${esc(goos ?? '')}",goversion="${esc(b.goVersion)}",revision="${esc(b.revision)}",tags="",version="${esc(b.version)}"}`;
  return `# HELP thanos_build_info A metric with a constant '1' value labeled by version, revision, branch, goversion from which thanos was built, and the goos and goarch for the build.\n# TYPE thanos_build_info gauge\nthanos_build_info${labels} 1\n`;
}

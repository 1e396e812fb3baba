// Go filepath.Glob over a FsCapability-like file system: `*`, `?` and `[...]` within one path
// segment; a pattern without meta characters matches itself if it exists. Results are sorted.
export interface GlobFs {
  exists(path: string): Promise<boolean>;
  readDir(path: string): Promise<Array<{ name: string; isDirectory: boolean }>>;
  resolve(...parts: string[]): string;
}

const META = /[*?[\\]/;

export function hasMeta(p: string): boolean {
  return META.test(p);
}

function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < seg.length) re += seg[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern: ${seg}`);
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Paths matching `pattern` (relative patterns stay relative to the fs's cwd; results keep the pattern's form). */
export async function glob(fs: GlobFs, pattern: string): Promise<string[]> {
  if (!hasMeta(pattern)) return (await fs.exists(fs.resolve(pattern))) ? [pattern] : [];
  const abs = pattern.startsWith('/');
  const segs = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let cur: string[] = [abs ? '/' : ''];
  for (let i = abs ? 1 : 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    const next: string[] = [];
    for (const base of cur) {
      const join = (n: string) => (base === '' ? n : base.endsWith('/') ? base + n : `${base}/${n}`);
      if (!hasMeta(seg)) {
        if (last ? await fs.exists(fs.resolve(join(seg))) : true) next.push(join(seg));
        continue;
      }
      const re = segmentRegex(seg);
      let entries: Array<{ name: string; isDirectory: boolean }>;
      try {
        entries = await fs.readDir(fs.resolve(base === '' ? '.' : base));
      } catch {
        continue;
      }
      for (const e of entries) if (re.test(e.name) && (last || e.isDirectory)) next.push(join(e.name));
    }
    cur = next;
  }
  return cur.sort();
}

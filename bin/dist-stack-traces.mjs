// Stack traces of the built artifact (dist/) name the TypeScript sources, as when running them
// (the logger's caller=main.ts:236, not main.js:210; error stacks host/main.ts:236:5), on Node.
//
// Why not Node's own source-map support (process.setSourceMapsEnabled): it reads and parses the
// map of every module as it loads, node_modules included (grpc-js and others ship maps with their
// sources inside), and keeps them all: about 3.5 MiB resident at idle, a twentieth of the edge
// profile's budget (docs/operator-guide.md, "Edge profile"). Here only frames in dist/ are mapped,
// and a file's map is read the first time one of its frames is formatted (log callers: a few files).
//
// Why not node:module's SourceMap either: it decodes a whole map into one array per mapping up
// front. dist/ is bundled (a chunk holds many modules, its map up to ~100 KB of mappings), and the
// few chunks the logger's callers are in came to about 4.5 MiB of those arrays at idle (edge profile,
// /proc/<pid>/smaps). A map here keeps its mappings text and the decoder's state at every
// LINE_INDEX_EVERY-th generated line (written into the map by the build, `x_thanos_lineIndex`);
// a lookup decodes at most that many lines. Decoding whole maps at startup in JavaScript instead ran
// long enough for TurboFan to compile the decoder: 1.3 MiB more of the node binary resident.
import * as fs from 'node:fs';

const BASE64 = new Int8Array(128).fill(-1);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].forEach((c, i) => { BASE64[c.charCodeAt(0)] = i; });

/** Generated lines between two saved decoder states in a map's line index. */
export const LINE_INDEX_EVERY = 16;

/** Decoder state: position in the mappings text and the cumulative source, original line and column. */
function state(index, i) {
  return { pos: index[i * 4], src: index[i * 4 + 1], line: index[i * 4 + 2], col: index[i * 4 + 3] };
}

/**
 * Decodes the segments of the generated line starting at st.pos (st is updated in place to the
 * state after it); calls `onSegment(genCol, src, line, col)` for each mapped segment. Returns the
 * line's end (the index of its ';', or the text's length).
 */
function decodeLine(m, st, onSegment) {
  let i = st.pos;
  let genCol = 0;
  const fields = [0, 0, 0, 0, 0];
  while (i < m.length && m.charCodeAt(i) !== 59 /* ; */) {
    if (m.charCodeAt(i) === 44 /* , */) { i++; continue; }
    let n = 0;
    while (i < m.length && m.charCodeAt(i) !== 44 && m.charCodeAt(i) !== 59) {
      let value = 0;
      let shift = 0;
      let digit;
      do {
        digit = BASE64[m.charCodeAt(i++)] ?? -1;
        if (digit < 0) throw new Error('invalid base64 VLQ in source map');
        value += (digit & 31) * 2 ** shift;
        shift += 5;
      } while (digit & 32);
      if (n < 5) fields[n] = value % 2 === 1 ? -(value - 1) / 2 : value / 2;
      n++;
    }
    genCol += fields[0];
    if (n >= 4) {
      st.src += fields[1];
      st.line += fields[2];
      st.col += fields[3];
      onSegment?.(genCol, st.src, st.line, st.col);
    }
  }
  return i;
}

/** The decoder's state at generated lines 0, every, 2·every, …: 4 integers each. */
export function lineIndex(mappings, every = LINE_INDEX_EVERY) {
  const out = [0, 0, 0, 0];
  const st = { pos: 0, src: 0, line: 0, col: 0 };
  for (let line = 1; ; line++) {
    const end = decodeLine(mappings, st, undefined);
    if (end >= mappings.length) break;
    st.pos = end + 1;
    if (line % every === 0) out.push(st.pos, st.src, st.line, st.col);
  }
  return Int32Array.from(out);
}

/** Adds the line index LazySourceMap reads to a parsed source map (scripts/build.mjs, for dist/'s maps). */
export function withLineIndex(json, every = LINE_INDEX_EVERY) {
  const index = lineIndex(String(json.mappings ?? ''), every);
  return { ...json, x_thanos_lineIndex: { every, data: Buffer.from(index.buffer, index.byteOffset, index.byteLength).toString('base64') } };
}

/** A source map (version 3, `mappings` as base64 VLQ), looked up by generated position. */
export class LazySourceMap {
  constructor(json) {
    this.sources = json.sources ?? [];
    this.mappings = String(json.mappings ?? '');
    const saved = json.x_thanos_lineIndex;
    if (saved && Number.isInteger(saved.every) && saved.every > 0 && typeof saved.data === 'string') {
      const bytes = Buffer.from(saved.data, 'base64');
      this.every = saved.every;
      this.index = new Int32Array(new Uint8Array(bytes).buffer); // copied: aligned for Int32Array
    }
  }

  /**
   * Zero-based generated line and column -> { originalSource, originalLine, originalColumn }
   * (zero-based) of the last mapping at or before it, as node:module's SourceMap.findEntry; undefined if none.
   */
  find(line, column) {
    if (!this.index) {
      this.every = LINE_INDEX_EVERY;
      this.index = lineIndex(this.mappings, this.every);
    }
    const m = this.mappings;
    const blocks = this.index.length / 4;
    while (line >= 0) {
      const b = Math.min(Math.floor(line / this.every), blocks - 1);
      const st = state(this.index, b);
      let hit;
      for (let at = b * this.every; ; at++) {
        const end = decodeLine(m, st, (genCol, src, oline, ocol) => {
          if (at < line || genCol <= column) hit = { originalSource: this.sources[src], originalLine: oline, originalColumn: ocol };
        });
        if (at >= line || end >= m.length) break;
        st.pos = end + 1;
      }
      if (hit) return hit;
      // Nothing at or before the position from this block's start: the last mapping before it.
      line = b * this.every - 1;
      column = Infinity;
    }
    return undefined;
  }
}

/** Maps the dist/ frames of every stack trace formatted from now on (distUrl: the dist/ directory). */
export function mapDistStackTraces(distUrl) {
  const distPrefix = distUrl.href;
  /** A dist/ module's URL -> its map, or null when it has none (or it does not parse). */
  const maps = new Map();
  const mapOf = (url) => {
    let map = maps.get(url);
    if (map === undefined) {
      try {
        map = new LazySourceMap(JSON.parse(fs.readFileSync(new URL(`${url}.map`), 'utf8')));
      } catch {
        map = null;
      }
      maps.set(url, map);
    }
    return map;
  };
  const frameText = (frame) => {
    const text = String(frame);
    const file = frame.getFileName();
    const line = frame.getLineNumber();
    const col = frame.getColumnNumber();
    if (typeof file !== 'string' || !file.startsWith(distPrefix) || !line || !col) return text;
    let entry;
    try {
      entry = mapOf(file)?.find(line - 1, col - 1);
    } catch {
      return text;
    }
    if (!entry?.originalSource) return text;
    const generated = `${file}:${line}:${col}`;
    const at = text.lastIndexOf(generated);
    if (at < 0) return text;
    // The map is next to the module, so its relative source paths resolve against the module's URL.
    const original = `${new URL(entry.originalSource, file).href}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    return text.slice(0, at) + original + text.slice(at + generated.length);
  };
  Error.prepareStackTrace = (error, frames) => {
    let header;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    return header + frames.map((f) => `\n    at ${frameText(f)}`).join('');
  };
}

// Stack traces of the built artifact (dist/) name the TypeScript sources, as when running them
// (the logger's caller=main.ts:236, not main.js:210; error stacks host/main.ts:236:5), on Node.
//
// Why not Node's own source-map support (process.setSourceMapsEnabled): it reads and parses the
// map of every module as it loads, node_modules included (grpc-js and others ship maps with their
// sources inside), and keeps them all: about 3.5 MiB resident at idle, a twentieth of the edge
// profile's budget (docs/operator-guide.md, "Edge profile"). Here only frames in dist/ are mapped,
// and a file's map is read the first time one of its frames is formatted (log callers: a few files).
import * as fs from 'node:fs';
import { SourceMap } from 'node:module';

/** Maps the dist/ frames of every stack trace formatted from now on (distUrl: the dist/ directory). */
export function mapDistStackTraces(distUrl) {
  const distPrefix = distUrl.href;
  /** A dist/ module's URL -> its parsed map, or null when it has none (or it does not parse). */
  const maps = new Map();
  const mapOf = (url) => {
    let map = maps.get(url);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(fs.readFileSync(new URL(`${url}.map`), 'utf8')));
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
    const entry = mapOf(file)?.findEntry(line - 1, col - 1);
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

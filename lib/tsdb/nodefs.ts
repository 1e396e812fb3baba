// FsCapability over node:fs with no permission checks, for tests, benchmarks and scripts that run
// outside the plugin host. Plugins get their (checked) FsCapability from the host instead.
import { Buffer } from 'node:buffer';
import { promises as fsp, createWriteStream, open as openFd, write as writeFd, fdatasync as fdatasyncFd, close as closeFd } from 'node:fs';
import { promisify } from 'node:util';
import { resolve as pathResolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppendHandle, FsCapability, FileInfo } from '../sdk/mod.ts';

/** Past this many bytes a read's buffer is not zeroed first (the read overwrites what is returned). */
const UNZEROED_READ = 64 * 1024;

/** Reads up to n bytes at offset from an open file (fewer at its end): the FsCapability readRange loop. */
export async function readFully(fh: fsp.FileHandle, offset: number, n: number): Promise<Uint8Array> {
  // A store gateway's chunk reads are up to 4 MiB each: zero-filling them first was most of the
  // read's user CPU (/tmp/s11/readbench.mts: 4 MiB reads through the host's fs, user 146-218 ->
  // 43-92 ms per 270 reads). A plain Uint8Array over the unpooled buffer (a Buffer's slice() would
  // be a view, not the copy callers expect); only the bytes read are returned.
  let buf: Uint8Array;
  if (n >= UNZEROED_READ) {
    const u = Buffer.allocUnsafeSlow(n);
    buf = new Uint8Array(u.buffer, u.byteOffset, n);
  } else buf = new Uint8Array(n);
  const got = await readInto(fh, offset, buf);
  if (got === n) return buf;
  buf.fill(0, got); // a short read (the file's end): nothing of the process's old memory behind the view
  return buf.subarray(0, got);
}

/** Reads up to dst.length bytes at offset from an open file into dst (fewer at its end); the count read. */
export async function readInto(fh: fsp.FileHandle, offset: number, dst: Uint8Array): Promise<number> {
  let got = 0;
  while (got < dst.length) {
    const { bytesRead } = await fh.read(dst, got, dst.length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

const openP = promisify(openFd);
const writeP = promisify(writeFd);
const fdatasyncP = promisify(fdatasyncFd);
const closeP = promisify(closeFd);

/**
 * A file opened for appending, by its descriptor number: a descriptor nobody closed (a TSDB that is
 * dropped without closing, in a test) stays open until the process exits, where a FileHandle
 * object would be closed by the garbage collector with a deprecation warning (DEP0137).
 */
export async function openAppendFd(p: string): Promise<AppendHandle> {
  const fd = await openP(p, 'a');
  let closed = false;
  const live = () => {
    if (closed) throw new Error(`append to ${p}: file closed`);
  };
  return {
    async write(data) {
      live();
      let off = 0;
      while (off < data.length) off += (await writeP(fd, data, off, data.length - off)).bytesWritten;
    },
    async sync() {
      live();
      await fdatasyncP(fd);
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeP(fd);
    },
  };
}

export function nodeFs(): FsCapability {
  return {
    async readFile(p) {
      return new Uint8Array(await fsp.readFile(p));
    },
    async readRange(p, offset, length) {
      const fh = await fsp.open(p, 'r');
      try {
        return await readFully(fh, offset, length);
      } finally {
        await fh.close();
      }
    },
    async readRangeInto(p, offset, dst) {
      const fh = await fsp.open(p, 'r');
      try {
        return await readInto(fh, offset, dst);
      } finally {
        await fh.close();
      }
    },
    async writeFile(p, data) {
      if (data instanceof Uint8Array) return fsp.writeFile(p, data);
      await pipeline(Readable.fromWeb(data as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(p));
    },
    async appendFile(p, data, opts) {
      const fh = await fsp.open(p, 'a');
      try {
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
        if (opts?.sync !== false) await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    openAppend: openAppendFd,
    async syncFile(p) {
      const fh = await fsp.open(p, 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    async openRead(p, range) {
      const fh = await fsp.open(p, 'r');
      const start = range?.offset ?? 0;
      const end = range?.length !== undefined ? start + range.length - 1 : undefined;
      return Readable.toWeb(fh.createReadStream({ start, end })) as unknown as ReadableStream<Uint8Array>;
    },
    async stat(p) {
      const s = await fsp.stat(p);
      return { name: p.slice(p.lastIndexOf('/') + 1), isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size, mtimeMs: s.mtimeMs };
    },
    async exists(p) {
      try {
        await fsp.stat(p);
        return true;
      } catch {
        return false;
      }
    },
    async readDir(p) {
      const ents = await fsp.readdir(p, { withFileTypes: true });
      const out: FileInfo[] = [];
      for (const e of ents) {
        const s = await fsp.stat(pathResolve(p, e.name));
        out.push({ name: e.name, isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size, mtimeMs: s.mtimeMs });
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async mkdir(p, opts) {
      await fsp.mkdir(p, { recursive: opts?.recursive ?? false });
    },
    async rename(from, to) {
      await fsp.rename(from, to);
    },
    async remove(p, opts) {
      await fsp.rm(p, { recursive: opts?.recursive ?? false, force: true });
    },
    resolve(...parts) {
      return pathResolve(...parts);
    },
    async tempDir(prefix) {
      return fsp.mkdtemp(pathResolve(tmpdir(), prefix));
    },
  };
}

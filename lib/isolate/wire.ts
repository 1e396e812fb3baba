// The typed channel between the host and an isolated plugin's process (issue #22; the host's side
// is host/isolate/host.ts, the plugin's host/isolate/child.ts). Runs unchanged
// under Node (the host) and Deno (the plugin process): web streams and Uint8Array only.
//
// A frame is [u32 length of the rest][u32 length of the header][header][binary payload]; the header
// is binary with a JSON tail for the data (encodeFrame).
// Messages (the header's `t`):
//   call {id, m, a}  -> ok {id, v} | err {id, e}        a request and its answer; a binary payload
//                                                        (an object body) rides in the same frame
//   note {m, a}                                          fire and forget (log lines, metrics)
//   chunk {s} + bytes | items {s, v} | end {s} | serr {s, e}   a stream, sender -> receiver
//   credit {s, n} | cancel {s}                           receiver -> sender: flow control
// Streams (object bodies, upload bodies, listings) are announced inside a call or ok header as
// {s: id, sk: 'bytes' | 'items'} and flow in pieces with credits (the wire protocol in full:
// lib/isolate/README.md). A body goes as messages of at most PIECE bytes, each sent as soon as the
// receiver's credit allows, so the source's reads, the socket transfer and the consumer overlap;
// the sender may have at most WINDOW_BYTES (a listing: WINDOW_BATCHES batches) in flight that the
// receiver's consumer has not taken, so a slow reader on either side holds the other back instead
// of buffering a whole object (backpressure), and neither side ever holds a whole range.
import { ConfigError, GrpcError, PermissionDenied } from '../sdk/errors.ts';
import { ObjectNotFoundError } from '../objstore/bucket.ts';

/**
 * Bytes of a stream in flight (sent and not yet taken by the receiver's consumer) before the sender
 * waits for credit: what one stream may hold in memory on the receiving side, and enough for the
 * source's reads, the socket and the consumer to overlap.
 */
export const WINDOW_BYTES = 8 << 20;
/** Listing batches of a stream in flight before the sender waits. */
const WINDOW_BATCHES = 8;
/**
 * The largest payload of one stream message; a bigger source chunk is split into views of this
 * size (no copy), and the size of the pooled buffers a byte-stream source is read into.
 * Measured (8 MiB ranged reads from the folder fixture, best of 2, load 15-16): 256 KiB 23 ms CPU
 * and 133 MiB/s per read, 512 KiB 17 ms and 197 MiB/s, 1 MiB 18 ms and 192 MiB/s: no gain past 512 KiB.
 */
export const PIECE = 512 * 1024;
/** Source chunks smaller than this are gathered into one message (each message costs a write and a wake-up). */
const GATHER_BELOW = 64 * 1024;
/** The largest inline binary payload of a call or answer (an upload body, a component's wasm module). */
export const MAX_CHUNK = 1 << 20;
/** Payloads at least this large are written by reference instead of copied into their frame. */
const BY_REFERENCE = 64 * 1024;
/**
 * The largest frame accepted: an inline payload plus its header. The other side may be hostile; a
 * frame length beyond this closes the channel instead of allocating it.
 */
export const MAX_FRAME = 9 * MAX_CHUNK;
/** Listing names per items message. */
const ITEMS_BATCH = 512;

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  /** PermissionDenied's fields. */
  pd?: [string, string, string, string, string | undefined];
  /** ConfigError's key. */
  ck?: string;
  /** The provider's isObjNotFoundErr said yes: the object's name. */
  nf?: string;
  /** A GrpcError's status code (a gRPC handler's answer across the channel). */
  gc?: number;
}

export function serializeError(err: unknown, notFound?: (e: unknown) => boolean): SerializedError {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { code?: unknown; objectName?: unknown };
  const out: SerializedError = { name: e.name, message: e.message };
  if (typeof e.code === 'string') out.code = e.code;
  if (err instanceof PermissionDenied) out.pd = [err.pluginId, err.api, err.descriptor, err.manifestKey, err.reason];
  if (err instanceof ConfigError) out.ck = err.key;
  if (err instanceof GrpcError) out.gc = err.code;
  if (notFound?.(err)) out.nf = typeof e.objectName === 'string' ? e.objectName : '';
  return out;
}

/** The host-side error for a serialized one: PermissionDenied, ConfigError, ObjectNotFoundError keep their class. */
export function deserializeError(s: SerializedError): Error {
  let e: Error;
  if (s.pd) e = new PermissionDenied(s.pd[0], s.pd[1], s.pd[2], s.pd[3], s.pd[4] ?? undefined);
  else if (s.ck !== undefined) e = new ConfigError(s.ck, '');
  else if (s.nf !== undefined) e = new ObjectNotFoundError(s.nf);
  else if (typeof s.gc === 'number' && Number.isInteger(s.gc) && s.gc > 0 && s.gc <= 16) e = new GrpcError(s.gc, s.message);
  else {
    e = new Error(s.message);
    e.name = s.name;
  }
  Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true });
  if (s.code !== undefined && !s.pd && s.nf === undefined && !(e instanceof GrpcError)) (e as { code?: string }).code = s.code;
  return e;
}

export interface Header {
  t: string;
  id?: number;
  m?: string;
  a?: unknown[];
  v?: unknown;
  e?: SerializedError;
  s?: number;
  sk?: 'bytes' | 'items';
  n?: number;
  /** The value is the frame's binary payload. */
  b?: 1;
}

export interface Incoming {
  /** The JSON value (call arguments or an answer). */
  value: unknown;
  /** The frame's binary payload, if any. */
  bin?: Uint8Array;
  /** An announced stream: bytes or listing items. */
  stream?: ReadableStream<Uint8Array> | ReadableStream<unknown>;
}

export interface Outgoing {
  value?: unknown;
  bin?: Uint8Array;
  bytes?: ReadableStream<Uint8Array>;
  /** Chunks already taken from `bytes` (unlocked again): sent first. */
  pre?: Uint8Array[];
  items?: AsyncIterable<unknown>;
}

export type Handler = (method: string, args: unknown[], inc: Incoming) => Promise<Outgoing>;
export type NoteHandler = (method: string, args: unknown[]) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Sender {
  credits: number;
  /** The most credit the receiver can have granted: its window. */
  window: number;
  cancelled: boolean;
  wake?: () => void;
}

interface Receiver {
  onChunk(v: Uint8Array | unknown[]): void;
  onEnd(): void;
  onError(e: Error): void;
  /** A byte stream's own buffers its payloads land in (a peer whose reader reads into buffers of its choosing). */
  landing?: Landing;
}

/**
 * Where a byte stream's payloads are put on a peer that chooses its input's read buffers (the
 * host: net.connect's onread): the stream's own buffer, which the socket reads its payloads into
 * directly, so consecutive chunks are adjacent views of one buffer (readAll joins them without a
 * copy) and the frame headers between them are never in the way.
 */
interface Landing {
  /** The current buffer; bytes before `at` have landed and are never written again. */
  buf?: Uint8Array;
  at: number;
  /** Landed bytes from here to `at` are not handed on yet (a frame's payload goes on whole). */
  from: number;
  /** Payload bytes still expected, not landed yet (the caller's hint: a ranged read's length); undefined: unknown. */
  expect?: number;
}

/**
 * The largest landing buffer: a stream has at most WINDOW_BYTES in flight, so one buffer of the
 * window holds whatever the receiver may queue, and a consumer that keeps a view pins at most this.
 */
const LANDING_MAX = WINDOW_BYTES;
/**
 * The read after a landed payload: this small, so the next frame's header is read on its own and
 * its payload lands in its stream's buffer too (a larger read would put the start of that payload
 * in a slab, to be copied).
 */
export const HEADER_READ = 64;

/**
 * Payloads from an owned input at least this large are handed on as views of it; smaller ones are
 * copied, so a consumer that keeps a small payload (a cached object) does not pin a whole read
 * buffer (the host reads into slabs of 1 MiB: a view pins at most 16x its size).
 */
export const VIEW_AT_LEAST = 64 * 1024;

/** A payload slice as handed on: a view when the input is not reused and the slice is large, else a copy. */
function keep(piece: Uint8Array, transient: boolean): Uint8Array {
  // Not piece.slice: on a Node Buffer that is a view, not a copy.
  return !transient && piece.length >= VIEW_AT_LEAST ? piece : new Uint8Array(piece);
}
/** keep() handed on a view of its input (the input's bytes must stay as they are). */
const keptView = (piece: Uint8Array, kept: Uint8Array) => kept === piece;

/**
 * The header's binary form (big-endian): [u8 type][u8 flags][u32 a][u32 b][u8 method length]
 * [method, ASCII][JSON tail]. a: the call's id (call, ok, err) or the stream's (chunk, items, end,
 * serr, credit, cancel); b: the stream a call or answer announces (flag STREAM), or a credit's n.
 * The JSON tail is the part that is data: a call's or note's arguments, an answer's value, an
 * error, a listing batch. Fixed fields instead of a JSON header object: the hot frames (a ranged
 * read's call and answer, credits, chunks) are built and read without JSON for their routing.
 */
const TYPE_CODES: Record<string, number> = { call: 1, ok: 2, err: 3, note: 4, chunk: 5, items: 6, end: 7, serr: 8, credit: 9, cancel: 10 };
const TYPES = ['', 'call', 'ok', 'err', 'note', 'chunk', 'items', 'end', 'serr', 'credit', 'cancel'];
/** Header flags: the payload is the value (b: 1), a stream is announced (and is a listing), a JSON tail follows. */
const F_BIN = 1;
const F_STREAM = 2;
const F_ITEMS = 4;
const F_JSON = 8;
/** The fixed part of a header. */
export const HEADER_FIXED = 11;

/** The JSON-carried part of a header of type t (undefined: none). */
function tailOf(h: Header): unknown {
  switch (h.t) {
    case 'call': case 'note': return h.a;
    case 'ok': case 'items': return h.v;
    case 'err': case 'serr': return h.e;
    default: return undefined;
  }
}

/**
 * A frame's first bytes for header h and a payload of n bytes ([u32 rest][u32 header length]
 * [header]), with room for `room` bytes of payload after them (copied in by the caller at
 * `headerEnd`). Exported for tests that build frames by hand.
 */
export function encodeFrame(h: Header, n: number, room = 0): { frame: Uint8Array; headerEnd: number } {
  const m = h.m ?? '';
  const tail = tailOf(h);
  const json = tail === undefined ? undefined : JSON.stringify(tail);
  let ascii = m.length < 256;
  for (let i = 0; i < m.length && ascii; i++) if (m.charCodeAt(i) > 0x7e) ascii = false;
  if (!ascii) throw new Error(`channel: a method name must be ASCII and under 256 bytes: ${m.slice(0, 40)}`);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: written with encodeInto, the frame cut to what was used.
  const max = 8 + HEADER_FIXED + m.length + (json ? json.length * 3 : 0);
  const f = new Uint8Array(max + room);
  const code = TYPE_CODES[h.t];
  if (!code) throw new Error(`channel: no frame type ${h.t}`);
  const isCall = code <= 3;
  const a = (isCall ? h.id : h.s) ?? 0;
  const b = code === 9 ? h.n ?? 0 : isCall && h.s !== undefined ? h.s : 0;
  f[8] = code;
  f[9] = (h.b ? F_BIN : 0) | (isCall && h.s !== undefined ? F_STREAM | (h.sk === 'items' ? F_ITEMS : 0) : 0) | (json !== undefined ? F_JSON : 0);
  f[10] = a >>> 24; f[11] = a >>> 16; f[12] = a >>> 8; f[13] = a;
  f[14] = b >>> 24; f[15] = b >>> 16; f[16] = b >>> 8; f[17] = b;
  f[18] = m.length;
  for (let i = 0; i < m.length; i++) f[19 + i] = m.charCodeAt(i);
  let end = 19 + m.length;
  if (json !== undefined) end += enc.encodeInto(json, f.subarray(end, max)).written;
  const hl = end - 8;
  const rest = 4 + hl + n;
  f[0] = rest >>> 24; f[1] = rest >>> 16; f[2] = rest >>> 8; f[3] = rest;
  f[4] = hl >>> 24; f[5] = hl >>> 16; f[6] = hl >>> 8; f[7] = hl;
  return { frame: f, headerEnd: end };
}

const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

function parseHeader(b: Uint8Array): Header {
  const t = b.length >= HEADER_FIXED ? TYPES[b[0]!] : undefined;
  if (!t) throw new Error('channel: a frame header of no known type');
  const flags = b[1]!;
  const x = u32(b, 2);
  const y = u32(b, 6);
  const ml = b[10]!;
  if (HEADER_FIXED + ml > b.length) throw new Error('channel: a frame header shorter than its method name');
  const h: Header = { t };
  if (b[0]! <= 3) {
    h.id = x;
    if (flags & F_STREAM) { h.s = y; h.sk = flags & F_ITEMS ? 'items' : 'bytes'; }
  } else {
    h.s = x;
    if (t === 'credit') h.n = y;
  }
  if (flags & F_BIN) h.b = 1;
  if (ml) h.m = String.fromCharCode.apply(null, b.subarray(HEADER_FIXED, HEADER_FIXED + ml) as unknown as number[]);
  if (flags & F_JSON) {
    const tail = JSON.parse(dec.decode(b.subarray(HEADER_FIXED + ml))) as unknown;
    switch (t) {
      case 'call': case 'note':
        if (!Array.isArray(tail)) throw new Error('channel: arguments that are not an array');
        h.a = tail;
        break;
      case 'ok': case 'items': h.v = tail; break;
      case 'err': case 'serr':
        if (!tail || typeof tail !== 'object') throw new Error('channel: an error that is not an object');
        h.e = tail as SerializedError;
        break;
    }
  }
  if ((t === 'err' || t === 'serr') && !h.e) throw new Error('channel: an error frame without its error');
  return h;
}

/**
 * The host reads the channel where the peer says (Peer.readTarget: the rest of a payload being
 * received, in its own buffer: a byte stream's chunks are the socket's reads into the stream's
 * buffer, adjacent, with no copy), else into slabs of this size, each read into the part of the
 * slab no read has used yet, and a new slab once less than VIEW_AT_LEAST is left. Nothing is ever
 * written to a used part again, so the peer may hand on payloads as views of the slab (see
 * Peer.feed). After a landed payload the next read is of HEADER_READ bytes into a
 * reused buffer, so the next frame's header comes alone and its payload lands too.
 */
const READ_SLAB = 1 << 20;

/**
 * A read buffer for each socket read (net.connect's onread.buffer as a function), and what the
 * read brought, for the peer. `alloc` makes the slabs and the header buffer (the host passes an
 * unzeroed allocator: only bytes a read has written are ever handed on).
 */
export function channelReader(alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n)): {
  next(peer: Peer | undefined): Uint8Array;
  read(buf: Uint8Array, n: number): { view: Uint8Array; transient: boolean };
  /**
   * The last read's bytes were all parsed or copied (Peer.takeViewed() said no view was kept): its
   * part of the slab is read into again. Without this, every read (a small answer's 16 KiB too)
   * used fresh slab memory — a page fault per 4 KiB and a new 1 MiB slab every ~60 small reads —
   * while the payload was copied out anyway.
   */
  reuse(): void;
} {
  const fresh = () => alloc(READ_SLAB);
  let slab = fresh();
  let at = 0;
  let last = 0;
  const head = alloc(HEADER_READ);
  return {
    next(peer) {
      last = 0;
      const target = peer?.readTarget();
      if (target) return target;
      if (peer?.headerNext) return head;
      if (slab.length - at < VIEW_AT_LEAST) { slab = fresh(); at = 0; }
      return slab.subarray(at);
    },
    read(buf, n) {
      if (buf.buffer === slab.buffer) { at += n; last = n; }
      return { view: buf.subarray(0, n), transient: buf === head };
    },
    reuse() {
      at -= last;
      last = 0;
    },
  };
}

/**
 * Pieces to write, in order, with each run of small ones (under BY_REFERENCE) copied into one
 * buffer: one write for the frames of a flush (or of several flushes the writer queued while its
 * last write was under way) instead of one each; large payloads stay as they are (by reference).
 */
export function gatherSmall(pieces: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  let len = 0;
  const gather = (to: number) => {
    if (to - from === 1) out.push(pieces[from]!);
    else if (to - from > 1) {
      const b = new Uint8Array(len);
      let off = 0;
      for (let i = from; i < to; i++) { b.set(pieces[i]!, off); off += pieces[i]!.length; }
      out.push(b);
    }
    len = 0;
  };
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (p.length >= BY_REFERENCE) { gather(i); out.push(p); from = i + 1; }
    else len += p.length;
  }
  gather(pieces.length);
  return out;
}

export class Peer {
  private nextId = 1;
  private nextSid = 1;
  private pending = new Map<number, { resolve(i: Incoming): void; reject(e: Error): void; expect?: number }>();
  private senders = new Map<number, Sender>();
  private receivers = new Map<number, Receiver>();
  private closedWith?: Error;
  /** Calls and streams in flight (the host keeps the child referenced while > 0). */
  active = 0;
  onActive?: (n: number) => void;
  /** Called once when the channel closes (EOF, error, or close()). */
  onClose?: (err: Error) => void;

  /**
   * input: the other side's bytes as a stream; omitted, the owner calls feed() and close().
   * write: sends pieces in order (a frame may span pieces); a promise it returns says when the
   * pieces have been handed to the OS and may be reused (then a byte stream's buffers are pooled).
   * wait: false when nobody waits for that (the writer may skip the promise and the callback).
   */
  constructor(
    input: ReadableStream<Uint8Array> | undefined,
    private readonly write: (pieces: Uint8Array[], wait: boolean) => void | Promise<void>,
    private readonly handler: Handler = async (m) => { throw new Error(`no handler for ${m}`); },
    private readonly noteHandler: NoteHandler = () => {},
    /**
     * landing: the owner reads its input into the buffer readTarget() names (when it names none,
     * into a HEADER_READ-byte buffer it reuses when headerNext says so, else into buffers it never
     * writes to again), so the byte streams this side receives get buffers of their own (allocated
     * by this function: need not be zeroed, only bytes read into them are handed on), read into
     * directly.
     */
    private readonly options: {
      landing?: (size: number) => Uint8Array;
      /**
       * When the frames sent meanwhile go out (default: queueMicrotask, at the end of the current
       * job). The host passes setImmediate: calls issued by many tasks of one event-loop turn (16
       * readers each taking their answer and asking again, a few promise hops apart) go out in one
       * write instead of one write each, and the plugin process is woken once for them.
       */
      schedule?: (flush: () => void) => void;
    } = {},
  ) {
    if (input) void this.readLoop(input);
  }

  private bump(d: number): void {
    this.active += d;
    this.onActive?.(this.active);
  }

  /** release: called once `bin` has been written and may be reused (never, if the writer cannot say). */
  private send(h: Header, bin?: Uint8Array, release?: () => void): void {
    if (this.closedWith) return;
    const n = bin ? bin.length : 0;
    // A large payload goes out as its own piece, by reference (the sender hands it over): copying
    // a 1 MiB chunk into the frame cost more than the extra write.
    const inline = n > 0 && n < BY_REFERENCE;
    const { frame, headerEnd } = encodeFrame(h, n, inline ? n : 0);
    if (inline) frame.set(bin!, headerEnd);
    this.queue.push(frame.subarray(0, headerEnd + (inline ? n : 0)));
    if (n > 0 && !inline) {
      this.queue.push(bin!);
      if (release) this.released.push(release);
    } else release?.();
    if (!this.flushing) {
      this.flushing = true;
      (this.options.schedule ?? queueMicrotask)(this.flushNow);
    }
  }

  private queue: Uint8Array[] = [];
  /** Called once the queued pieces have been written (the payloads sent by reference). */
  private released: Array<() => void> = [];
  private flushing = false;

  /**
   * Frames sent in one turn of the event loop go out together: small pieces gathered into one
   * buffer (one syscall, one wake-up of the other side instead of one each), large payloads as
   * they are.
   */
  private readonly flushNow = () => this.flush();

  private flush(): void {
    this.flushing = false;
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    const released = this.released;
    this.released = [];
    const written = this.write(q.length === 1 ? q : gatherSmall(q), released.length > 0);
    if (written && released.length) written.then(() => { for (const r of released) r(); }, () => {});
  }

  /**
   * Buffers of PIECE bytes a byte stream's source read into, back from the socket once written:
   * the next reads go into them instead of fresh memory (fresh memory costs a page fault per 4 KiB;
   * measured in the plugin process, reading a file into fresh 256 KiB buffers cost 3-5x the read
   * itself). At most a window's worth is kept.
   */
  private spare: ArrayBuffer[] = [];
  private recycle(b: ArrayBuffer): void {
    if (b.byteLength === PIECE && this.spare.length < WINDOW_BYTES / PIECE) this.spare.push(b);
  }

  /** Fails every pending call and stream (the other side went away). */
  close(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.onClose?.(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const r of this.receivers.values()) r.onError(err);
    this.receivers.clear();
    for (const s of this.senders.values()) { s.cancelled = true; s.wake?.(); }
  }

  /**
   * expectBytes: how long the answer's body is expected to be (a ranged read's length), so a
   * landing peer reads it into one buffer of that size (at most LANDING_MAX) instead of many.
   */
  call(method: string, args: unknown[], out: Outgoing = {}, expectBytes?: number): Promise<Incoming> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId;
    // Ids are u32 on the wire: wrapped (a call pending across 4 billion others is not expected).
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    this.bump(1);
    const p = new Promise<Incoming>((resolve, reject) => this.pending.set(id, {
      resolve: (i) => { this.bump(-1); resolve(i); },
      reject: (e) => { this.bump(-1); reject(e); },
      expect: expectBytes,
    }));
    this.sendWith({ t: 'call', id, m: method, a: args }, out);
    return p;
  }

  note(method: string, args: unknown[]): void {
    this.send({ t: 'note', m: method, a: args });
  }

  /** Sends a header with an Outgoing (inline value/bytes, or an announced stream). */
  private sendWith(h: Header, out: Outgoing): void {
    if (out.value !== undefined) h.v = out.value;
    if (out.bytes || out.items) {
      const sid = this.nextSid;
      this.nextSid = this.nextSid >= 0xffffffff ? 1 : this.nextSid + 1;
      h.s = sid;
      h.sk = out.bytes ? 'bytes' : 'items';
      this.send(h);
      void this.pump(sid, out);
      return;
    }
    if (out.bin) h.b = 1;
    this.send(h, out.bin);
  }

  private async pump(sid: number, out: Outgoing): Promise<void> {
    const window = out.bytes ? WINDOW_BYTES : WINDOW_BATCHES;
    const st: Sender = { credits: window, window, cancelled: false };
    this.senders.set(sid, st);
    this.bump(1);
    const waitCredit = async (need: number) => {
      while (st.credits < need && !st.cancelled) await new Promise<void>((r) => { st.wake = r; });
    };
    try {
      if (out.bytes) {
        if (!(await this.pumpBytes(sid, st, out.bytes, waitCredit, out.pre ?? []))) return;
      } else {
        let batch: unknown[] = [];
        const it = out.items![Symbol.asyncIterator]();
        for (;;) {
          const r = await it.next();
          if (!r.done) batch.push(r.value);
          if (batch.length >= ITEMS_BATCH || (r.done && batch.length > 0)) {
            await waitCredit(1);
            if (st.cancelled) { await it.return?.(); return; }
            st.credits--;
            this.send({ t: 'items', s: sid, v: batch });
            batch = [];
          }
          if (r.done) break;
        }
      }
      this.send({ t: 'end', s: sid });
    } catch (err) {
      this.send({ t: 'serr', s: sid, e: serializeError(err) });
    } finally {
      this.senders.delete(sid);
      this.bump(-1);
    }
  }

  /**
   * A byte stream's chunks as messages. A chunk of GATHER_BELOW or more goes as it is, split into
   * views of at most PIECE (no copy: the view is written by reference), each as soon as the
   * receiver's credit allows, so the source's next read, the socket transfer and the receiver's
   * consumer overlap. Smaller chunks (a gRPC stream's messages, a network body's 16 KiB reads) are
   * gathered into one message of up to PIECE while the source answers at once: each message costs
   * a write and a wake-up on both sides, in a Deno process an async op of ~0.1 ms. A source that
   * makes us wait is sent on after 2 ms (a gRPC stream whose next message takes a while must not
   * hold back the one before). False when the receiver cancelled (the source is cancelled too).
   */
  private async pumpBytes(sid: number, st: Sender, bytes: ReadableStream<Uint8Array>, waitCredit: (need: number) => Promise<void>, pre: Uint8Array[]): Promise<boolean> {
    for (const c of pre) {
      for (let off = 0; off < c.length; off += PIECE) {
        const piece = c.subarray(off, off + PIECE);
        await waitCredit(piece.length);
        if (st.cancelled) { await bytes.cancel().catch(() => {}); return false; }
        st.credits -= piece.length;
        this.send({ t: 'chunk', s: sid }, piece);
      }
    }
    const byob = await this.pumpByob(sid, st, bytes, waitCredit);
    if (byob !== 'gather') return byob;
    const reader = bytes.getReader();
    let acc: Uint8Array[] = [];
    let accLen = 0;
    let accStart = 0;
    let accTimer: { p: Promise<void>; t: ReturnType<typeof setTimeout> } | undefined;
    const HELD = Symbol('held');
    const sendPiece = async (m: Uint8Array): Promise<boolean> => {
      await waitCredit(m.length);
      if (st.cancelled) return false;
      st.credits -= m.length;
      this.send({ t: 'chunk', s: sid }, m);
      return true;
    };
    const flushAcc = async (): Promise<boolean> => {
      if (accLen === 0) return true;
      if (accTimer) { clearTimeout(accTimer.t); accTimer = undefined; }
      let m: Uint8Array;
      if (acc.length === 1) m = acc[0]!;
      else {
        m = new Uint8Array(accLen);
        let o = 0;
        for (const c of acc) { m.set(c, o); o += c.length; }
      }
      acc = [];
      accLen = 0;
      return sendPiece(m);
    };
    try {
      for (;;) {
        if (st.cancelled) { await reader.cancel().catch(() => {}); return false; }
        const pending = reader.read();
        if (accLen > 0) {
          if (!accTimer) {
            let t!: ReturnType<typeof setTimeout>;
            const p = new Promise<void>((r) => { t = setTimeout(r, 2); });
            accTimer = { p, t };
          }
          // The read's failure is taken below, after what was gathered has gone.
          const first = await Promise.race([pending.then(() => 0, () => 0), accTimer.p.then(() => HELD)]);
          if (first === HELD) {
            accTimer = undefined;
            if (!(await flushAcc())) { await reader.cancel().catch(() => {}); return false; }
          }
        }
        let next: Awaited<typeof pending>;
        try {
          next = await pending;
        } catch (err) {
          // What the source gave before it failed goes first (a gRPC stream's messages before its error status).
          await flushAcc();
          throw err;
        }
        const { done, value } = next;
        if (done) {
          if (!(await flushAcc())) { await reader.cancel().catch(() => {}); return false; }
          return true;
        }
        if (value.length >= GATHER_BELOW) {
          if (!(await flushAcc())) { await reader.cancel().catch(() => {}); return false; }
          for (let off = 0; off < value.length; off += PIECE) {
            if (!(await sendPiece(value.subarray(off, off + PIECE)))) { await reader.cancel().catch(() => {}); return false; }
          }
          continue;
        }
        if (accLen === 0) accStart = performance.now();
        acc.push(value);
        accLen += value.length;
        if (accLen >= PIECE || performance.now() - accStart > 2) {
          if (!(await flushAcc())) { await reader.cancel().catch(() => {}); return false; }
        }
      }
    } finally {
      if (accTimer) clearTimeout(accTimer.t);
      reader.releaseLock();
    }
  }

  /**
   * A byte stream's source that takes the reader's buffers (a byte stream, such as ctx.fs.openRead's)
   * is read into pooled PIECE-sized buffers, each sent by reference as it is filled and back in the
   * pool once written: no fresh memory per piece. A source that answers with less than GATHER_BELOW
   * (a network body's small reads) is handed to the gathering loop after that piece ('gather'), as
   * is one that is not a byte stream. True at its end, false when the receiver cancelled.
   */
  private async pumpByob(sid: number, st: Sender, bytes: ReadableStream<Uint8Array>, waitCredit: (need: number) => Promise<void>): Promise<boolean | 'gather'> {
    let reader: ReadableStreamBYOBReader;
    try {
      reader = bytes.getReader({ mode: 'byob' });
    } catch {
      return 'gather';
    }
    let released = false;
    try {
      for (;;) {
        if (st.cancelled) { await reader.cancel().catch(() => {}); return false; }
        const { done, value } = await reader.read(new Uint8Array(this.spare.pop() ?? new ArrayBuffer(PIECE)));
        if (done) return true;
        const buf = value.buffer as ArrayBuffer;
        if (value.length === 0) { this.recycle(buf); continue; }
        await waitCredit(value.length);
        if (st.cancelled) { await reader.cancel().catch(() => {}); return false; }
        st.credits -= value.length;
        this.send({ t: 'chunk', s: sid }, value, () => this.recycle(buf));
        if (value.length < GATHER_BELOW) {
          reader.releaseLock();
          released = true;
          return 'gather';
        }
      }
    } finally {
      if (!released) reader.releaseLock();
    }
  }

  /**
   * The receiving end of an announced stream: a web stream that grants credit as it is read. The
   * chunks are the frames' payloads as they arrived (views, no copy). Credit is granted back once a
   * quarter of the window has been consumed, so a stream costs a few credit messages per window,
   * not one per chunk, while the sender always has most of the window to send on.
   */
  private receive(sid: number, kind: 'bytes' | 'items', expect?: number): ReadableStream<Uint8Array> | ReadableStream<unknown> {
    // Bytes: the queue and the credits count bytes. Items: the queue counts names, credits count
    // batches; the queue's window is sized in names.
    const window = kind === 'bytes' ? WINDOW_BYTES : WINDOW_BATCHES;
    const hwm = kind === 'bytes' ? WINDOW_BYTES : WINDOW_BATCHES * ITEMS_BATCH;
    const regrant = kind === 'bytes' ? WINDOW_BYTES / 4 : 1;
    let outstanding = window;
    const landing: Landing | undefined = kind === 'bytes' && this.options.landing
      ? { at: 0, from: 0, expect: expect !== undefined && Number.isSafeInteger(expect) && expect > 0 ? expect : undefined }
      : undefined;
    let ctrl!: ReadableStreamDefaultController<unknown>;
    let done = false;
    /** An error that came after chunks still queued: raised once the consumer has read them. */
    let lateError: Error | undefined;
    this.bump(1);
    const finish = () => {
      if (done) return;
      done = true;
      this.receivers.delete(sid);
      this.bump(-1);
    };
    this.receivers.set(sid, {
      landing,
      onChunk: (v) => {
        if (kind === 'bytes') {
          outstanding -= (v as Uint8Array).length;
          ctrl.enqueue(v);
        } else {
          outstanding--;
          for (const x of v as unknown[]) ctrl.enqueue(x);
        }
        // More than was granted: the other side ignores flow control, and would fill our memory.
        if (outstanding < 0) throw new Error(`channel: stream ${sid} sent beyond its credit: the other side is broken or hostile`);
      },
      onEnd: () => { finish(); ctrl.close(); },
      onError: (e) => {
        finish();
        // error() would drop what is queued: a gRPC stream's messages before its status must arrive.
        if (ctrl.desiredSize !== null && ctrl.desiredSize < hwm) lateError = e;
        else ctrl.error(e);
      },
    });
    return new ReadableStream<unknown>({
      start: (c) => { ctrl = c; },
      pull: (c) => {
        if (lateError && c.desiredSize === hwm) { c.error(lateError); return; }
        if (done) return;
        const free = kind === 'bytes' ? c.desiredSize! : Math.floor(c.desiredSize! / ITEMS_BATCH);
        const want = free - outstanding;
        // The sender has credit for all the bytes still expected: more would be a credit frame
        // (a write and a wake-up of the other side) for nothing. Once all expected bytes have
        // come, credit flows as usual (a body longer than expected does not stall).
        if (landing?.expect && landing.expect + (landing.at - landing.from) <= outstanding) return;
        if (want >= regrant) {
          outstanding += want;
          this.send({ t: 'credit', s: sid, n: want });
        }
      },
      cancel: () => {
        if (!done) this.send({ t: 'cancel', s: sid });
        finish();
      },
    }, kind === 'bytes' ? { highWaterMark: hwm, size: (chunk) => (chunk as Uint8Array).length } : { highWaterMark: hwm });
  }

  private incoming(h: Header, bin: Uint8Array | undefined, expect?: number): Incoming {
    return {
      value: h.b ? undefined : h.v,
      bin: h.b ? bin ?? new Uint8Array(0) : undefined,
      stream: h.s !== undefined ? this.receive(h.s, h.sk ?? 'bytes', expect) : undefined,
    };
  }

  private dispatch(h: Header, bin: Uint8Array | undefined): void {
    switch (h.t) {
      case 'call': {
        const inc = this.incoming(h, bin);
        const id = h.id!;
        this.handler(h.m!, h.a ?? [], inc).then(
          (out) => this.sendWith({ t: 'ok', id }, out),
          (err) => this.send({ t: 'err', id, e: (err as { __serialized?: SerializedError }).__serialized ?? serializeError(err) }),
        );
        return;
      }
      case 'ok': {
        const p = this.pending.get(h.id!);
        this.pending.delete(h.id!);
        const inc = this.incoming(h, bin, p?.expect);
        p?.resolve(inc);
        return;
      }
      case 'err': {
        const p = this.pending.get(h.id!);
        this.pending.delete(h.id!);
        p?.reject(deserializeError(h.e!));
        return;
      }
      case 'note':
        try { this.noteHandler(h.m!, h.a ?? []); } catch { /* a note has no answer */ }
        return;
      case 'chunk':
        // (A landing stream's chunks come through chunkIn, not here.)
        this.receivers.get(h.s!)?.onChunk(bin ?? new Uint8Array(0));
        return;
      case 'items':
        this.receivers.get(h.s!)?.onChunk(h.v as unknown[]);
        return;
      case 'end':
        this.receivers.get(h.s!)?.onEnd();
        return;
      case 'serr':
        this.receivers.get(h.s!)?.onError(deserializeError(h.e!));
        return;
      case 'credit': {
        const s = this.senders.get(h.s!);
        if (!s) return;
        // A receiver never has more than its window outstanding: more credit would have this side
        // queue writes without bound for a reader that does not read (broken or hostile).
        const n = h.n;
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0 || s.credits + n > s.window) {
          throw new Error(`channel: stream ${h.s} granted credit beyond its window: the other side is broken or hostile`);
        }
        s.credits += n;
        s.wake?.();
        return;
      }
      case 'cancel': {
        const s = this.senders.get(h.s!);
        if (s) { s.cancelled = true; s.wake?.(); }
        return;
      }
    }
  }

  /** The first 8 bytes of a frame ([u32 rest][u32 header length]) while they are incomplete. */
  private head = new Uint8Array(8);
  private headLen = 0;
  /** A frame's JSON header being gathered, and the frame's total size. */
  private hdr?: Uint8Array;
  private hdrLen = 0;
  private frameSize = 0;
  /**
   * The payload of a frame whose header has been read: gathered into `buf` (a call's or answer's
   * inline payload, handed on whole), or, for a stream's chunk, handed to the stream piece by piece
   * as it arrives (buf undefined): the receiver's chunks are the socket's read slices.
   */
  private body?: { h: Header; left: number; buf?: Uint8Array; have: number };

  /**
   * Bytes from the other side, in any slicing. transient: the caller reuses `value` after this
   * returns (a socket's read buffer), so nothing may keep a view of it; otherwise payloads of
   * VIEW_AT_LEAST bytes or more are handed on as views of `value` (no copy), so the caller must
   * never write to it again.
   */
  feed(value: Uint8Array, transient = false): void {
    if (this.closedWith) return;
    try {
      const len = value.length;
      let off = 0;
      while (off < len) {
        if (this.body) {
          const b = this.body;
          const k = Math.min(b.left, len - off);
          const piece = value.subarray(off, off + k);
          off += k;
          b.left -= k;
          if (b.left === 0) this.body = undefined;
          if (b.buf) {
            // A read into the buffer itself (readTarget) is in place already.
            if (piece.buffer !== b.buf.buffer || piece.byteOffset !== b.buf.byteOffset + b.have) b.buf.set(piece, b.have);
            b.have += k;
            if (b.left === 0) this.dispatch(b.h, b.buf);
          } else {
            this.afterLanding = this.chunkIn(b.h.s!, piece, transient, b.left) && b.left === 0;
          }
          continue;
        }
        if (this.hdr) {
          const k = Math.min(this.hdr.length - this.hdrLen, len - off);
          this.hdr.set(value.subarray(off, off + k), this.hdrLen);
          this.hdrLen += k;
          off += k;
          if (this.hdrLen === this.hdr.length) {
            const jl = this.hdr.length;
            this.startBody(parseHeader(this.hdr), this.frameSize - 8 - jl);
            this.hdr = undefined;
          }
          continue;
        }
        let size: number;
        let jl: number;
        if (this.headLen === 0 && len - off >= 8) {
          const dv = new DataView(value.buffer, value.byteOffset + off, 8);
          size = 4 + dv.getUint32(0);
          jl = dv.getUint32(4);
          this.checkSize(size, jl);
          if (len - off >= size) {
            // The whole frame lies in this input: parse it in place.
            this.frame(value, off, size, jl, !transient);
            off += size;
            continue;
          }
          off += 8;
        } else {
          const k = Math.min(8 - this.headLen, len - off);
          this.head.set(value.subarray(off, off + k), this.headLen);
          this.headLen += k;
          off += k;
          if (this.headLen < 8) continue;
          this.headLen = 0;
          const dv = new DataView(this.head.buffer);
          size = 4 + dv.getUint32(0);
          jl = dv.getUint32(4);
          this.checkSize(size, jl);
        }
        this.frameSize = size;
        if (len - off >= jl) {
          this.startBody(parseHeader(value.subarray(off, off + jl)), size - 8 - jl);
          off += jl;
        } else {
          this.hdr = new Uint8Array(jl);
          this.hdrLen = 0;
        }
      }
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * A stream's payload bytes (left: more of this frame's payload still to come): handed on as they
   * are (a view when the input is not reused and the piece is large), or on a landing peer in the
   * stream's own buffer — read there directly (readTarget) or copied there (what a read into
   * another buffer brought along). True when the stream lands.
   */
  private chunkIn(sid: number, piece: Uint8Array, transient: boolean, left: number): boolean {
    const r = this.receivers.get(sid);
    if (!r) return false;
    const l = r.landing;
    if (!l) {
      const k = keep(piece, transient);
      if (keptView(piece, k)) this.viewed = true;
      r.onChunk(k);
      return false;
    }
    if (l.buf && piece.buffer === l.buf.buffer && piece.byteOffset === l.buf.byteOffset + l.at) {
      this.landed(r, l, piece.length, left);
      return true;
    }
    for (let off = 0; off < piece.length;) {
      const room = this.landingRoom(r, l, piece.length - off + left);
      const k = Math.min(room.length, piece.length - off);
      room.set(piece.subarray(off, off + k));
      off += k;
      this.landed(r, l, k, piece.length - off + left);
    }
    return true;
  }

  /**
   * n more bytes have landed; handed on (one view from where the last hand-on ended) when the
   * frame's payload is complete (left 0) or the buffer is full: the consumer gets the sender's
   * pieces, not each socket read (~100 KiB each), so a body is a few chunks.
   */
  private landed(r: Receiver, l: Landing, n: number, left: number): void {
    l.at += n;
    if (l.expect !== undefined) l.expect = Math.max(0, l.expect - n);
    if (left === 0 || l.at === l.buf!.length) this.handOn(r, l);
  }

  private handOn(r: Receiver, l: Landing): void {
    if (l.at === l.from) return;
    const v = l.buf!.subarray(l.from, l.at);
    l.from = l.at;
    r.onChunk(v);
  }

  /**
   * The free part of a landing stream's buffer; a new buffer when it is full or there is none, of
   * the stream's expected rest (at most LANDING_MAX), or without an expectation of the `need`
   * payload bytes of the frame being received.
   */
  private landingRoom(r: Receiver, l: Landing, need: number): Uint8Array {
    if (!l.buf || l.at >= l.buf.length) {
      this.handOn(r, l);
      l.buf = this.options.landing!(Math.min(LANDING_MAX, Math.max(need, l.expect ?? 0)));
      l.at = 0;
      l.from = 0;
    }
    return l.buf.subarray(l.at);
  }

  /** The last frame was a landed payload: the next read should be small (see HEADER_READ). */
  private afterLanding = false;

  /** A view of fed input was handed on since the last takeViewed(). */
  private viewed = false;

  /**
   * Whether anything fed since the last call was handed on as a view of the input (and resets it):
   * if not, the input's buffer may be read into again (channelReader.reuse), as everything it held
   * was parsed or copied.
   */
  takeViewed(): boolean {
    const v = this.viewed;
    this.viewed = false;
    return v;
  }

  /**
   * Where a landing peer's owner should read its input next: the rest of the payload being
   * received, in its own buffer (a byte stream's landing buffer, or the buffer a call's or
   * answer's inline payload is gathered in); undefined: into a buffer of the owner's (a reused one
   * of HEADER_READ bytes when headerNext, else one it never writes again).
   */
  readTarget(): Uint8Array | undefined {
    const b = this.body;
    if (!b || !this.options.landing || this.closedWith) return undefined;
    if (b.buf) return b.buf.subarray(b.have);
    const r = this.receivers.get(b.h.s!);
    if (!r?.landing) return undefined;
    return this.landingRoom(r, r.landing, b.left).subarray(0, b.left);
  }

  /** A frame header is next after a landed payload: read HEADER_READ bytes (transient), so the next payload lands too. */
  get headerNext(): boolean {
    return this.afterLanding && !this.body && !this.hdr && this.headLen === 0;
  }

  /** A frame's header has arrived; n payload bytes follow. */
  private startBody(h: Header, n: number): void {
    this.afterLanding = false;
    if (n === 0) this.dispatch(h, undefined);
    else if (h.t === 'chunk') this.body = { h, left: n, have: 0 };
    else this.body = { h, left: n, have: 0, buf: new Uint8Array(n) };
  }

  private checkSize(size: number, jl: number): void {
    if (size < 8 || size > MAX_FRAME + 4) throw new Error(`channel: a frame of ${size} bytes (at most ${MAX_FRAME}): the other side is broken or hostile`);
    if (8 + jl > size) throw new Error('channel: a frame header longer than its frame');
  }

  /** One whole frame at buf[off, off+size) with a header of jl bytes; owned: buf is not reused, so the payload may be a view. */
  private frame(buf: Uint8Array, off: number, size: number, jl: number, owned: boolean): void {
    const h = parseHeader(buf.subarray(off + 8, off + 8 + jl));
    const n = size - 8 - jl;
    this.afterLanding = false;
    if (n > 0 && h.t === 'chunk') this.afterLanding = this.chunkIn(h.s!, buf.subarray(off + 8 + jl, off + size), !owned, 0);
    else if (n === 0) this.dispatch(h, undefined);
    else {
      const piece = buf.subarray(off + 8 + jl, off + size);
      const k = keep(piece, !owned);
      if (keptView(piece, k)) this.viewed = true;
      this.dispatch(h, k);
    }
  }

  private async readLoop(input: ReadableStream<Uint8Array>): Promise<void> {
    const reader = input.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.feed(value);
      }
      this.close(new Error('channel closed'));
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

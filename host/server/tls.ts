// PEM files -> TLS settings for the host's listeners and clients, with Thanos's semantics
// (pkg/tls/options.go): a server needs both cert and key (a client CA alone is an error); a client
// CA makes client certificates required and verified; the minimum version is one of "1.0".."1.3";
// certificates are re-read when their files' modification times change, so a rotated certificate is
// served to new connections without a restart (running connections keep theirs).
//
// Thanos checks the mtimes on every handshake; Node's servers take a whole SecureContext, so here the
// files are stat'ed every `reloadIntervalMs` (default 1 s) and on `refresh()`, which a server may call
// from its 'connection' event to get Thanos's per-handshake check exactly. A half-written pair (new
// cert, old key) fails to load: the previous context stays in use and the error is logged once per
// change, the next change is tried again.
//
// Shared by the gRPC server/client (host/server/grpc.ts) and the HTTP server (host/server/http.ts).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../../lib/sdk/mod.ts';
import { tlsVersionProblem } from '../../lib/net/grpctls.ts';
import { GO_CIPHER_SUITES, GO_CURVES, TLS13_SUITES } from '../../lib/web/webconfig.ts';

const NODE_VERSION: Record<string, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

export class TlsConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsConfigError';
  }
}

/** "1.2" -> 'TLSv1.2'; anything else is Thanos's error text. */
export function tlsVersion(v: string): tls.SecureVersion {
  const bad = tlsVersionProblem(v);
  if (bad) throw new TlsConfigError(bad);
  return NODE_VERSION[v]!;
}

/**
 * Go curve names (--*-tls-curves, Thanos's getCurveIDs): exporter-toolkit's list (lib/web/webconfig.ts)
 * plus the hybrid post-quantum groups Thanos also accepts, which need OpenSSL 3.5 (createSecureContext
 * says so when the server starts if Node's OpenSSL lacks them).
 */
const CURVES: Readonly<Record<string, string>> = {
  ...GO_CURVES, X25519MLKEM768: 'X25519MLKEM768', SecP256r1MLKEM768: 'SecP256r1MLKEM768', SecP384r1MLKEM1024: 'SecP384r1MLKEM1024',
};

/** Go curve names -> `ecdhCurve` (undefined: the defaults); Thanos's error text for an unknown name. */
export function tlsCurves(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names.map((n) => {
    const c = CURVES[n];
    if (!c) throw new TlsConfigError(`invalid curve: ${n}, valid values are ${Object.keys(CURVES).sort().join(', ')}`);
    return c;
  }).join(':');
}

/**
 * Go's tls.CipherSuites() names (what Thanos's getCipherSuiteIDs accepts; the table is
 * lib/web/webconfig.ts's) -> Node's `ciphers` (undefined: the defaults). As in Go, the list governs
 * TLS 1.0-1.2 only: the TLS 1.3 suites stay enabled whatever is given. Only TLS 1.3 names: no TLS 1.2
 * suite is offered, so TLS 1.2 and older cannot be negotiated, as in Go.
 */
export function tlsCiphers(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const legacy = names.map((n) => {
    const c = GO_CIPHER_SUITES[n];
    if (c === undefined) throw new TlsConfigError(`invalid cipher suite: ${n}, valid values are ${Object.keys(GO_CIPHER_SUITES).sort().join(', ')}`);
    return c;
  }).filter((c) => c !== '');
  return [TLS13_SUITES, ...legacy].join(':');
}

interface Stamp { path: string; mtimeMs: number; size: number }

function stamp(path: string): Stamp {
  const st = fs.statSync(path);
  return { path, mtimeMs: st.mtimeMs, size: st.size };
}

function readPem(path: string, what: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new TlsConfigError(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/**
 * Watches files by (mtime, size); `changed()` stats them synchronously (a few µs) and says whether any
 * differs from the last accepted load. A missing file counts as unchanged (keep serving the old one).
 */
class FileStamps {
  private last: string;
  constructor(private readonly paths: readonly string[]) {
    this.last = this.now() ?? '';
  }
  private now(): string | undefined {
    try {
      return JSON.stringify(this.paths.map(stamp));
    } catch {
      return undefined;
    }
  }
  /** The new stamp when the files changed since accept(), else undefined. */
  changed(): string | undefined {
    const n = this.now();
    return n !== undefined && n !== this.last ? n : undefined;
  }
  accept(s: string): void {
    this.last = s;
  }
}

/** A set of PEM files turned into options, re-read on change. The shared part of server and client TLS. */
abstract class ReloadingTls<Opts> {
  private stamps!: FileStamps;
  private current!: Opts;
  private context: tls.SecureContext | undefined;
  private readonly listeners = new Set<(o: Opts) => void>();
  private timer: NodeJS.Timeout | undefined;
  private failedStamp: string | undefined;
  private log: Logger | undefined;
  private what = '';

  /** Called at the end of the subclass's constructor (load() reads the subclass's fields). */
  protected start(files: readonly string[], log: Logger | undefined, what: string, reloadIntervalMs: number): void {
    this.log = log;
    this.what = what;
    this.stamps = new FileStamps(files);
    this.current = this.load(); // errors surface at startup, like Thanos
    if (files.length > 0 && reloadIntervalMs > 0) {
      this.timer = setInterval(() => this.refresh(), reloadIntervalMs);
      this.timer.unref();
    }
  }

  /** Reads the files and builds the options; throws TlsConfigError. Must also check the pair loads. */
  protected abstract load(): Opts;

  /** The options now in force. */
  options(): Opts {
    return this.current;
  }

  /** A SecureContext of the current options (cached until the next reload). */
  secureContext(): tls.SecureContext {
    this.context ??= tls.createSecureContext(this.current as tls.SecureContextOptions);
    return this.context;
  }

  /** Checks the files now; reloads and notifies when they changed. Returns whether new options are in force. */
  refresh(): boolean {
    const s = this.stamps.changed();
    if (s === undefined || s === this.failedStamp) return false;
    let next: Opts;
    try {
      next = this.load();
    } catch (err) {
      this.failedStamp = s;
      this.log?.warn('TLS files changed but cannot be loaded; keeping the previous certificate', { tls: this.what, err: (err as Error).message });
      return false;
    }
    this.failedStamp = undefined;
    this.stamps.accept(s);
    this.current = next;
    this.context = undefined;
    this.log?.info('reloaded TLS certificate', { tls: this.what });
    for (const l of this.listeners) l(next);
    return true;
  }

  /** Calls `listener` with the new options after each reload; returns the unsubscribe function. */
  onReload(listener: (o: Opts) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops watching the files. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}

export interface ServerTlsFiles {
  /** PEM certificate (chain) and key: both, or neither (TLS off). */
  certFile?: string;
  keyFile?: string;
  /** PEM CA bundle: client certificates are then required and verified against it (mTLS). */
  clientCaFile?: string;
  /** "1.0" | "1.1" | "1.2" | "1.3" (Thanos default "1.3"). */
  minVersion?: string;
  /** Go curve names (CurveP256, CurveP384, CurveP521, X25519, ...); empty: Node's defaults. */
  curves?: readonly string[];
  /** Go cipher suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...); empty: Node's defaults. */
  ciphers?: readonly string[];
  /** How often the files' mtimes are checked (ms, default 1000; 0: only on refresh()). */
  reloadIntervalMs?: number;
  log?: Logger;
  /** For messages: 'gRPC server'. */
  what?: string;
}

/** SecureContext options of a server (cert, key, ca, minVersion, ecdhCurve, ciphers). */
export type ServerTlsContextOptions = tls.SecureContextOptions & { cert: Buffer; key: Buffer; minVersion: tls.SecureVersion };

export class ServerTls extends ReloadingTls<ServerTlsContextOptions> {
  /** Client certificates required and verified (a client CA was given). */
  readonly requireClientCert: boolean;
  readonly minVersion: tls.SecureVersion;

  constructor(private readonly files: ServerTlsFiles & { certFile: string; keyFile: string }) {
    super();
    this.requireClientCert = !!files.clientCaFile;
    this.minVersion = tlsVersion(files.minVersion ?? '1.3');
    const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
    this.start(paths, files.log, files.what ?? 'server', files.reloadIntervalMs ?? 1000);
  }

  protected load(): ServerTlsContextOptions {
    const f = this.files;
    const what = f.what ?? 'server';
    const opts: ServerTlsContextOptions = {
      cert: readPem(f.certFile, `${what} TLS certificate`),
      key: readPem(f.keyFile, `${what} TLS key`),
      minVersion: tlsVersion(f.minVersion ?? '1.3'),
    };
    if (f.clientCaFile) opts.ca = readPem(f.clientCaFile, `${what} TLS client CA`);
    const curves = tlsCurves(f.curves ?? []);
    if (curves) opts.ecdhCurve = curves;
    const ciphers = tlsCiphers(f.ciphers ?? []);
    if (ciphers) opts.ciphers = ciphers;
    try {
      tls.createSecureContext(opts); // checks that the key matches the certificate and the PEMs parse
    } catch (err) {
      throw new TlsConfigError(`${what} credentials (${f.certFile}, ${f.keyFile}${f.clientCaFile ? `, ${f.clientCaFile}` : ''}): ${(err as Error).message}`, { cause: err });
    }
    return opts;
  }

  /**
   * Options for tls.createServer / https.createServer / http2.createSecureServer: the current context
   * options plus client-certificate policy. Hand later contexts over with setSecureContext(onReload).
   */
  serverOptions(): tls.TlsOptions {
    return { ...this.options(), requestCert: this.requireClientCert, rejectUnauthorized: this.requireClientCert };
  }
}

/**
 * Thanos's NewServerConfig: undefined when cert, key and client CA are all empty (TLS off); an error
 * when only one of cert/key is given, or a client CA without them; errors when the files do not load.
 */
export function loadServerTls(o: ServerTlsFiles): ServerTls | undefined {
  const cert = o.certFile || undefined;
  const key = o.keyFile || undefined;
  const ca = o.clientCaFile || undefined;
  if (!cert && !key) {
    if (ca) throw new TlsConfigError('when a client CA is used a server key and certificate must also be provided');
    tlsVersion(o.minVersion ?? '1.3'); // a bad value is still an error
    return undefined;
  }
  if (!cert || !key) throw new TlsConfigError('both server key and certificate must be provided');
  return new ServerTls({ ...o, certFile: cert, keyFile: key, clientCaFile: ca });
}

export interface ClientTlsFiles {
  /** Use TLS at all (--grpc-client-tls-secure); false: plaintext, loadClientTls returns undefined. */
  secure: boolean;
  /** Client certificate and key for mTLS: both or neither. */
  certFile?: string;
  keyFile?: string;
  /** CA bundle to verify servers; empty: the system roots (Node's bundled Mozilla store). */
  caFile?: string;
  /** Accept any server certificate (Go's InsecureSkipVerify). */
  skipVerify?: boolean;
  /** The name the server's certificate must hold (and sent as SNI); empty: the dialled host. */
  serverName?: string;
  /** "1.0".."1.3"; empty: Node's default minimum. */
  minVersion?: string;
  reloadIntervalMs?: number;
  log?: Logger;
  what?: string;
}

export type ClientTlsContextOptions = tls.SecureContextOptions;

export class ClientTls extends ReloadingTls<ClientTlsContextOptions> {
  readonly skipVerify: boolean;
  /** Empty string: verify against the dialled host name. */
  readonly serverName: string;

  constructor(private readonly files: ClientTlsFiles) {
    super();
    this.skipVerify = !!files.skipVerify;
    this.serverName = files.serverName ?? '';
    const paths = [files.certFile, files.keyFile, files.caFile].filter((p): p is string => !!p);
    this.start(paths, files.log, files.what ?? 'client', files.reloadIntervalMs ?? 1000);
  }

  protected load(): ClientTlsContextOptions {
    const f = this.files;
    const what = f.what ?? 'client';
    const opts: ClientTlsContextOptions = {};
    if (f.caFile) opts.ca = readPem(f.caFile, `${what} TLS CA`);
    if (f.certFile) {
      opts.cert = readPem(f.certFile, `${what} TLS certificate`);
      opts.key = readPem(f.keyFile!, `${what} TLS key`);
    }
    if (f.minVersion) opts.minVersion = tlsVersion(f.minVersion);
    try {
      tls.createSecureContext(opts);
    } catch (err) {
      throw new TlsConfigError(`${what} credentials: ${(err as Error).message}`, { cause: err });
    }
    return opts;
  }

  /** Options for tls.connect / https.request: servername, verification, the current context. */
  connectOptions(host: string): tls.ConnectionOptions {
    const name = this.serverName || host;
    return {
      secureContext: this.secureContext(),
      servername: net.isIP(name) ? undefined : name, // SNI carries names only
      rejectUnauthorized: !this.skipVerify,
      checkServerIdentity: (h, cert) => (this.skipVerify ? undefined : tls.checkServerIdentity(this.serverName || h, cert)),
    };
  }
}


/**
 * Thanos's NewClientConfig (behind StoreClientTLSCredentials): undefined when not `secure`
 * (plaintext); an error when only one of cert/key is given or a file does not load.
 */
export function loadClientTls(o: ClientTlsFiles): ClientTls | undefined {
  if (!o.secure) return undefined;
  if (!!o.certFile !== !!o.keyFile) throw new TlsConfigError('both client key and certificate must be provided');
  return new ClientTls({ ...o, certFile: o.certFile || undefined, keyFile: o.keyFile || undefined, caFile: o.caFile || undefined });
}

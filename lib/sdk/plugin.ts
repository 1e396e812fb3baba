// The plugin contract: what a plugin declares (manifest, config parser, create) and the capabilities
// the host hands it. It lives below the host (lib never imports host/): the host implements these
// capabilities and re-exports this module for external plugins (host/index.ts).
import type { Bucket } from '../objstore/bucket.ts';
import type { Core } from '../core/types.ts';

export type { Bucket } from '../objstore/bucket.ts';
export type { Core } from '../core/types.ts';

/** A Deno-style grant or request for one permission kind. */
export type Need = boolean | string[] | { allow?: string[] | boolean; deny?: string[] };

export interface PermissionRequest {
  net?: Need;
  read?: Need;
  write?: Need;
  env?: Need;
}

export interface PluginManifest {
  id: `component:${string}` | `objstore:${string}`;
  apiVersion: 1;
  /** What the plugin asks for; the effective permission is this ∩ the operator's grant. */
  permissions: PermissionRequest;
  /** Human description of why each permission is needed (shown in denials and --help). */
  description?: string;
}

export interface Logger {
  debug(msg: string, kv?: Record<string, unknown>): void;
  info(msg: string, kv?: Record<string, unknown>): void;
  warn(msg: string, kv?: Record<string, unknown>): void;
  error(msg: string, kv?: Record<string, unknown>): void;
  with(kv: Record<string, unknown>): Logger;
}

/** Minimal Prometheus-style metrics registry handed to plugins. */
export interface Metrics {
  counter(name: string, help: string, labelNames?: string[]): Counter;
  gauge(name: string, help: string, labelNames?: string[]): Gauge;
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): Histogram;
}
export interface Counter { inc(labels?: Record<string, string>, v?: number): void }
export interface Gauge { set(v: number, labels?: Record<string, string>): void; inc(labels?: Record<string, string>, v?: number): void; dec(labels?: Record<string, string>, v?: number): void }
export interface Histogram {
  observe(v: number, labels?: Record<string, string>): void;
  /** Creates the series with no observations yet (client_golang's WithLabelValues), where Thanos pre-initialises one. Optional for other registries. */
  init?(labels?: Record<string, string>): void;
}

export interface FileInfo { name: string; isDirectory: boolean; isFile: boolean; size: number; mtimeMs: number }

/** A file open for appending (FsCapability.openAppend). */
export interface AppendHandle {
  /** Appends all of data; returns once it is written to the OS (it survives a kill -9 of this process, not a power loss). */
  write(data: Uint8Array): Promise<void>;
  /** fdatasync: what was written survives a power loss. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** File system capability: every call is checked against the plugin's read/write grants. */
export interface FsCapability {
  readFile(path: string): Promise<Uint8Array>;
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Reads up to dst.length bytes of a file at offset into dst (the caller's buffer, e.g. one it
   * reuses), checked exactly as readRange; resolves to the bytes read (fewer at the file's end).
   * Optional: a caller without it uses readRange.
   */
  readRangeInto?(path: string, offset: number, dst: Uint8Array): Promise<number>;
  writeFile(path: string, data: Uint8Array | ReadableStream<Uint8Array>): Promise<void>;
  /**
   * Appends bytes to a file (created if missing), checked as a write. Returns once the bytes are
   * written to the OS (they survive a kill -9 of this process); with `sync` (the default) also after
   * they are synced to disk (they survive a power loss). Write-ahead logs.
   */
  appendFile?(path: string, data: Uint8Array, opts?: { sync?: boolean }): Promise<void>;
  /** Syncs a file's data to disk (fdatasync), checked as a write: a write-ahead log segment once it is complete. */
  syncFile?(path: string): Promise<void>;
  /**
   * Opens a file for appending (created if missing), checked as a write once: a write-ahead log
   * segment appended to request after request without a path check, open and close per append.
   */
  openAppend?(path: string): Promise<AppendHandle>;
  /** Opens a file for reading as a web stream, optionally a byte range. */
  openRead(path: string, range?: { offset: number; length?: number }): Promise<ReadableStream<Uint8Array>>;
  stat(path: string): Promise<FileInfo>;
  exists(path: string): Promise<boolean>;
  readDir(path: string): Promise<FileInfo[]>;
  mkdir(path: string, opts?: { recursive?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  /** Absolute, normalised path (relative paths resolve against the process cwd). */
  resolve(...parts: string[]): string;
  tempDir(prefix: string): Promise<string>;
}

export interface ListenOptions {
  hostname: string;
  port: number;
  /** TLS for this listener (PEM files, Thanos's server TLS flags); the files need the plugin's read grant and are re-read when they change. */
  tls?: ListenTlsOptions;
  /** Largest request body in bytes (413 beyond; default 64 MiB). */
  maxBodyBytes?: number;
  /** Thanos's HTTP metrics and server spans for this listener's requests. */
  instrument?: HttpInstrumentation;
  /**
   * A web configuration file in --http.config's format for this listener (TLS, basic auth, headers,
   * rate limit; instead of `tls`), re-read when it or its certificates change. Set by the host for a
   * tool whose listener is its HTTP endpoint (`tools bucket web`), or by a component for a listener of
   * its own (receive's --remote-write.server-http-config). The file and the certificate, key and CA
   * files it names need the plugin's read grant; a relative path resolves like ctx.fs's.
   */
  webConfigFile?: string;
}

/** A server's TLS as Thanos's `--*-server-tls-*` flags give it. */
export interface ListenTlsOptions {
  /** Both or neither; neither (and no client CA): plain HTTP. */
  certFile?: string;
  keyFile?: string;
  /** Client certificates are then required and verified (mTLS). */
  clientCaFile?: string;
  /** "1.0" | "1.1" | "1.2" | "1.3" (Thanos default "1.3"). */
  minVersion?: string;
  /** Go cipher suite names (TLS ≤ 1.2); empty: the defaults. */
  cipherSuites?: readonly string[];
  /** Go curve names (CurveP256, CurveP384, CurveP521, X25519); empty: the defaults. */
  curves?: readonly string[];
}

/**
 * How a component's HTTP requests are named for Thanos's http_requests_total,
 * http_request_duration_seconds, http_request_size_bytes, http_response_size_bytes and
 * http_inflight_requests (labels code, handler, method) and for the server span (named like the
 * handler). The host instruments; the component only names.
 */
export interface HttpInstrumentation {
  /** Thanos's handler name for a request ('query', 'query_range', 'receive', ...); undefined: not instrumented, as Thanos leaves unnamed routes. */
  handlerName(req: Request): string | undefined;
  /** Series that exist at 0 from the start (dashboards and alerts rate() them): handler → lower-case methods. */
  preCreate?: Readonly<Record<string, readonly string[]>>;
  /** Thanos receive's tenant instrumentation: a `tenant` label from this header, `default` when it is absent. */
  tenant?: { header: string; default: string };
  /** http_request_duration_seconds buckets (default Thanos's 0.001 … 720). */
  durationBuckets?: readonly number[];
}
export interface HttpListener { address: { hostname: string; port: number }; close(): Promise<void> }

/** Options of one gRPC call made on a GrpcClientConn. */
export interface GrpcCallOptions {
  /** Aborting it cancels the call (the promise / iteration rejects). */
  signal?: AbortSignal;
  /** Request metadata (headers), e.g. THANOS-TENANT. */
  metadata?: Record<string, string>;
  /** Deadline in ms from now; past it the call fails with DeadlineExceeded. */
  timeoutMs?: number;
}

export interface GrpcDialOptions {
  /** Transport channel options (grpc-js names), merged over unlimited message sizes. */
  channelOptions?: Record<string, unknown>;
  /** TLS to the server (Thanos's --grpc-client-tls-secure and friends); absent: plaintext. */
  tls?: GrpcClientTlsOptions;
}

/**
 * A gRPC client's TLS as Thanos's `--grpc-client-tls-*` flags give it. The files are paths the host
 * reads (each checked against the plugin's `read` grant when dialling; relative to the manifest's
 * directory) and re-reads when they change, so a rotated client certificate is used from the next
 * connection on. A bad file or a key not matching its certificate throws when dialling.
 */
export interface GrpcClientTlsOptions {
  /** Client certificate and key (mTLS): both or neither. */
  certFile?: string;
  keyFile?: string;
  /** CA certificates to verify the server with; empty: the system's roots. */
  caFile?: string;
  /** Name the server's certificate must hold (and the SNI sent); empty: the dialled host. */
  serverName?: string;
  /** Accept any server certificate (no verification). */
  skipVerify?: boolean;
  /** "1.0" | "1.1" | "1.2" | "1.3"; empty: the runtime's default minimum. */
  minVersion?: string;
}

/**
 * A client connection to one gRPC target, from Capabilities.grpcDial: calls any method by its path
 * ('/thanos.Store/Series') with the caller's own encode/decode. Errors are GrpcError (code + details).
 * Connecting is lazy; close() is idempotent.
 */
export interface GrpcClientConn {
  readonly target: string;
  unary<Req, Res>(path: string, req: Req, encode: (m: Req) => Uint8Array, decode: (b: Uint8Array) => Res, options?: GrpcCallOptions): Promise<Res>;
  serverStream<Req, Res>(path: string, req: Req, encode: (m: Req) => Uint8Array, decode: (b: Uint8Array) => Res, options?: GrpcCallOptions): AsyncIterable<Res>;
  close(): void;
}

/** Capabilities.grpcDial's shape, for libraries that take a dialer rather than the whole context. */
export type GrpcDialer = (target: string, options?: GrpcDialOptions) => GrpcClientConn;

/** A web-standard fetch function (Capabilities.fetch, or one from Capabilities.httpClient). */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * TLS settings of an outbound HTTPS client (Capabilities.httpClient), Go's tls.Config as Thanos's
 * `tls_config` blocks fill it. Certificates and keys are PEM text, not paths: the plugin reads the
 * files itself through ctx.fs, so its `read` grant decides which files it may use.
 */
export interface TlsClientOptions {
  /** PEM CA certificates trusted for the server instead of the system's roots (Go's RootCAs). */
  caPem?: string;
  /** PEM client certificate (chain), presented when the server asks for one; needs keyPem. */
  certPem?: string;
  /** PEM private key of certPem. */
  keyPem?: string;
  /** The name the server certificate must carry (and the SNI sent), instead of the URL's host. */
  serverName?: string;
  /** Accept any server certificate (no verification at all). */
  insecureSkipVerify?: boolean;
}

export interface Capabilities {
  pluginId: string;
  /** Web-standard fetch; the URL's host:port is checked against the `net` grant. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * A fetch like `fetch` (the same `net` check of the URL and of every redirect hop) whose HTTPS
   * connections use `tls`, on a connection pool of their own. Invalid settings (unparsable PEM, a
   * key that does not match the certificate, a certificate without a key) throw here. Call it once
   * per configuration and keep the function. Optional: a host without it (bare test contexts)
   * leaves it undefined.
   */
  httpClient?(tls: TlsClientOptions): FetchFunction;
  /** Serves a fetch handler on host:port (checked against `net`). */
  listen(opts: ListenOptions, handler: (req: Request) => Response | Promise<Response>): Promise<HttpListener>;
  /** Opens a raw TCP connection (checked against `net`), e.g. for memcached. */
  connect(opts: { hostname: string; port: number }): Promise<TcpConnection>;
  /**
   * Opens a gRPC client connection (plaintext, or TLS with `options.tls`) to `target`: `host:port`, `[v6]:port`, `dns:host:port`
   * or `dns:///host:port` (no port: 443). The host:port is checked against `net` here, synchronously:
   * a denial throws PermissionDenied naming the plugin, the target and the manifest key.
   */
  grpcDial(target: string, options?: GrpcDialOptions): GrpcClientConn;
  /**
   * DNS lookup of `name` (checked against `net`: the grant must cover the name on every port, e.g.
   * `name`, `name:*` or `*`; a host:port grant does not let the plugin query DNS for the name).
   * A/AAAA answer addresses (the hosts file included, as the system resolver does); SRV answers
   * records. A name without records rejects with code ENOTFOUND or ENODATA. Optional: a host
   * without it (an isolated plugin's process) leaves it undefined.
   */
  resolve?: {
    (name: string, type: 'A' | 'AAAA'): Promise<string[]>;
    (name: string, type: 'SRV'): Promise<SrvRecord[]>;
  };
  fs: FsCapability;
  env: { get(name: string): string | undefined };
  log: Logger;
  metrics: Metrics;
}

export type DnsRecordType = 'A' | 'AAAA' | 'SRV';

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface TcpConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
}

export interface ObjstorePlugin<C = unknown> {
  manifest: PluginManifest;
  /** The type name as in Thanos objstore YAML (S3, GCS, FILESYSTEM, ...), matched case-insensitively. */
  provider: string;
  parseConfig(raw: unknown): C;
  create(ctx: Capabilities, config: C): Promise<Bucket>;
  /**
   * Who retries transient failures: 'host' (default: the objstore factory wraps the bucket with
   * lib/objstore/retry.ts) or 'provider' (the plugin retries itself, e.g. S3's max_retries; the
   * factory's retry layer then only resumes read bodies that break off mid-way, so attempts do
   * not multiply).
   */
  retries?: 'host' | 'provider';
}

export interface ComponentInfo {
  /** Store, Query, Rule, Sidecar, Receive, Compact ... (Info API component type). */
  componentType: string;
  labelSets?: Array<Record<string, string>>;
  store?: { minTime: number; maxTime: number; supportsSharding?: boolean; supportsWithoutReplicaLabels?: boolean; tsdbInfos?: Array<{ labels: Record<string, string>; minTime: number; maxTime: number }> };
  rules?: Record<string, never>;
  metricMetadata?: Record<string, never>;
  targets?: Record<string, never>;
  exemplars?: { minTime: number; maxTime: number };
  query?: Record<string, never>;
}

/** gRPC services: full method path → handler, e.g. '/thanos.Store/Series'. lib/store builds these. */
export type GrpcServices = Record<string, GrpcMethod>;
export type GrpcMethod =
  | { kind: 'unary'; requestDecode(b: Uint8Array): unknown; responseEncode(m: unknown): Uint8Array; handler(req: unknown, signal: AbortSignal, metadata: Record<string, string>): Promise<unknown> }
  | { kind: 'serverStream'; requestDecode(b: Uint8Array): unknown; responseEncode(m: unknown): Uint8Array; handler(req: unknown, signal: AbortSignal, metadata: Record<string, string>): AsyncIterable<unknown> };

export interface ComponentContext extends Capabilities {
  /** The object store the manifest binds to this component (objstore id), if any. */
  bucket(id?: string): Promise<Bucket>;
  core: Core;
  /** Marks the component ready (/-/ready turns 200). */
  setReady(ready: boolean): void;
  /** Where to store local state (index-headers, WAL), from --data-dir or the manifest. */
  dataDir?: string;
  /** Process stdout/stderr for one-shot tools (ToolCommand.run); await write() for backpressure. */
  stdout?: TextOut;
  stderr?: TextOut;
  /** Aborted when the process shuts down (SIGINT/SIGTERM); the same signal run() receives. */
  signal?: AbortSignal;
  /** The listen addresses the host serves this component on (from --http-address/--grpc-address or the manifest). */
  addresses?: { http?: string; grpc?: string };
  /** The program's version, as `thanos --version` prints it (the host fills it in; absent in bare test contexts). */
  build?: BuildInfo;
  /**
   * Tools only (`tools bucket replicate`): a bucket from objstore YAML text (e.g. --objstore-to.config),
   * or without `yaml` the command line's --objstore.config[-file] bucket, whose thanos_objstore_bucket_*
   * series carry `metricLabels` too (Go's WrapRegistererWith). Absent where the host has no such buckets.
   */
  openBucket?(opts: { yaml?: string; source?: string; metricLabels?: Record<string, string> }): Promise<Bucket>;
}

/** The program's build: package.json's version, the git branch and revision, the runtime for Go's version. */
export interface BuildInfo {
  version: string;
  revision: string;
  branch: string;
  buildUser: string;
  buildDate: string;
  /** Thanos reports its Go version; we report the runtime: `node v20.11.1`. */
  goVersion: string;
  /** GOOS/GOARCH equivalents: process.platform / process.arch. */
  platform: string;
}

/** A text sink (the host maps it to process.stdout / process.stderr). */
export interface TextOut {
  write(text: string): void | Promise<void>;
}

export interface Component {
  info(): ComponentInfo;
  fetch?(req: Request): Response | Promise<Response>;
  /** Names fetch()'s requests for the host's HTTP metrics and server spans (see HttpInstrumentation). */
  http?: HttpInstrumentation;
  grpc?: GrpcServices;
  run(signal: AbortSignal): Promise<void>;
  reload?(): Promise<void>;
}

/** Flags a component accepts: Thanos flag name → config key, with type and help. */
export interface FlagSpec {
  name: string;           // e.g. 'objstore.config-file'
  key: string;            // config path, e.g. 'objstore.configFile'
  type: 'string' | 'bool' | 'duration' | 'int' | 'float' | 'strings';
  help: string;
  default?: unknown;
  /** One-letter alias, e.g. 'o' for `-o json`. */
  short?: string;
  /**
   * The flag is refused (project rule: no silent acceptance). Giving it on the command line, or
   * its key in plugins.yaml, is an error `flag --<name> <refused>`, e.g. "is not implemented yet
   * by thanos rule (…)". Build the text with notImplementedYet(); refuseCommonFlags() refuses
   * host flags (--objstore.config-file, --data-dir, …) a component or tool does not use.
   */
  refused?: string;
  /** With `refused`: values still accepted because they ask for what the component does anyway (e.g. --hash-func=""). */
  accept?: readonly unknown[];
}

/** A one-shot command of a tools plugin, e.g. 'tsdb dump' under `thanos tools tsdb dump …`. */
export interface ToolCommand {
  /** Space-separated words after the component name, e.g. 'bucket ls' or 'tsdb dump'. */
  name: string;
  /** Older spellings accepted as well, e.g. 'bucket web' at top level for `thanos bucket web`. */
  aliases?: string[];
  help: string;
  flags?: FlagSpec[];
  /** argv holds what follows the command words; returns the process exit code. */
  run(ctx: ComponentContext, argv: string[]): Promise<number>;
}

export interface ComponentPlugin<C = unknown> {
  manifest: PluginManifest;
  /** Thanos-compatible command-line flags for `thanos <component>`. */
  flags?: FlagSpec[];
  /** One-shot subcommands (tools). */
  commands?: ToolCommand[];
  parseConfig(raw: unknown): C;
  setup(ctx: ComponentContext, config: C): Promise<Component>;
}

export type AnyPlugin = ObjstorePlugin<any> | ComponentPlugin<any>;

export function definePlugin<C>(p: ObjstorePlugin<C>): ObjstorePlugin<C>;
export function definePlugin<C>(p: ComponentPlugin<C>): ComponentPlugin<C>;
export function definePlugin(p: AnyPlugin): AnyPlugin {
  return p;
}

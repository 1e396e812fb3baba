// `--http.config`: the web configuration file (lib/web/webconfig.ts parses it) as a live source for
// one HTTP listener. Like exporter-toolkit, the file is checked before the listener starts (bad YAML,
// unknown keys, bad bcrypt hashes, certificates that do not load: the component does not start), and
// changes are picked up while running: the file and the certificate, key and CA files it names are
// checked every second; a changed, valid file takes effect for the next requests (users, headers,
// rate limit) and the next TLS connections (certificates, client CA, versions, ciphers). While the
// file is invalid, requests are answered 500 as exporter-toolkit does, and TLS keeps the last good
// certificates. Whether the listener speaks TLS at all, and HTTP/2, are fixed at start (as upstream).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { Logger } from '../index.ts';
import { BasicAuthenticator, checkClientCert, nodeTlsSettings, parseWebConfig, RateLimiter, WebConfigError, type WebConfig, type WebTlsConfig } from '../../lib/web/webconfig.ts';
import type { HttpTls } from './listen.ts';

export { WebConfigError } from '../../lib/web/webconfig.ts';

/** How often the files are checked for changes. */
export const WEB_CONFIG_CHECK_MS = 1000;

function readFile(p: string, what: string): Buffer {
  try {
    return fs.readFileSync(p);
  } catch (err) {
    throw new WebConfigError(`failed to read ${what} (${p}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function loadConfig(file: string): WebConfig {
  const text = readFile(file, 'web configuration').toString('utf8');
  return parseWebConfig(text, file, path.dirname(path.resolve(file)));
}

/** Node TLS options of a web-config TLS block: certificates read now, checked to load. */
function tlsOptions(t: WebTlsConfig, source: string): tls.TlsOptions {
  const cert = t.certFile ? readFile(t.certFile, 'cert_file') : Buffer.from(t.cert);
  const key = t.keyFile ? readFile(t.keyFile, 'key_file') : Buffer.from(t.key);
  const ca = t.clientCaFile ? readFile(t.clientCaFile, 'client_ca_file') : t.clientCa ? Buffer.from(t.clientCa) : undefined;
  const opts: tls.TlsOptions = { cert, key, ...(ca ? { ca } : {}), ...nodeTlsSettings(t) };
  try {
    tls.createSecureContext(opts);
  } catch (err) {
    throw new WebConfigError(`${source}: tls_server_config: failed to load X509KeyPair: ${(err as Error).message}`);
  }
  return opts;
}

function filesOf(file: string, c: WebConfig | undefined): string[] {
  const t = c?.tls;
  return [file, ...(t ? [t.certFile, t.keyFile, t.clientCaFile].filter((p) => p !== '') : [])];
}

function stampOf(files: readonly string[]): string {
  return JSON.stringify(files.map((f) => {
    try {
      const st = fs.statSync(f);
      return [f, st.mtimeMs, st.size];
    } catch {
      return [f, 'missing'];
    }
  }));
}

/**
 * One listener's web configuration: the per-request settings, and its TLS (an HttpTls for
 * serveFetch) when the file enables TLS.
 */
export class WebConfigSource {
  /** TLS at start (fixed for the listener's life). */
  readonly tlsEnabled: boolean;
  readonly http2: boolean;
  readonly auth = new BasicAuthenticator();
  private config: WebConfig;
  private error: string | undefined;
  private limiter: RateLimiter | undefined;
  private tlsOpts: tls.TlsOptions | undefined;
  private stamp: string;
  private readonly listeners = new Set<(o: tls.SecureContextOptions) => void>();
  private readonly timer: NodeJS.Timeout;

  /**
   * Loads and checks the file (throws WebConfigError: the component must not start).
   * `checkFiles` sees the certificate, key and CA files a version of the file names before they are
   * read, at start and at each reload (a plugin's listener: its read grant); what it throws makes
   * that version invalid.
   */
  constructor(readonly file: string, private readonly log?: Logger, private readonly checkFiles?: (files: string[]) => void) {
    this.config = loadConfig(file);
    this.checkFiles?.(filesOf(file, this.config).slice(1));
    this.tlsEnabled = this.config.tls !== undefined;
    this.http2 = this.tlsEnabled && this.config.http2;
    if (this.config.tls) this.tlsOpts = tlsOptions(this.config.tls, file);
    this.limiter = this.makeLimiter(this.config);
    this.stamp = stampOf(filesOf(file, this.config));
    this.timer = setInterval(() => this.refresh(), WEB_CONFIG_CHECK_MS);
    this.timer.unref();
  }

  private makeLimiter(c: WebConfig): RateLimiter | undefined {
    return c.rateLimit ? new RateLimiter(c.rateLimit.burst, c.rateLimit.intervalMs) : undefined;
  }

  /** Re-reads the files when they changed. */
  refresh(): void {
    const s = stampOf(filesOf(this.file, this.config));
    if (s === this.stamp) return;
    let next: WebConfig;
    let opts: tls.TlsOptions | undefined;
    try {
      next = loadConfig(this.file);
      this.checkFiles?.(filesOf(this.file, next).slice(1));
      if (next.tls) opts = tlsOptions(next.tls, this.file);
    } catch (err) {
      this.stamp = s;
      if (this.error !== (err as Error).message) this.log?.error('Unable to parse configuration', { file: this.file, err: (err as Error).message });
      this.error = (err as Error).message;
      return;
    }
    this.stamp = stampOf(filesOf(this.file, next));
    this.error = undefined;
    const rateChanged = JSON.stringify(next.rateLimit) !== JSON.stringify(this.config.rateLimit);
    this.config = next;
    if (rateChanged) this.limiter = this.makeLimiter(next);
    if (this.tlsEnabled !== (next.tls !== undefined)) {
      this.log?.warn('the web configuration turns TLS on or off: that takes a restart; new connections keep the previous TLS settings', { file: this.file });
    } else if (opts) {
      this.tlsOpts = opts;
      for (const l of this.listeners) l(opts as tls.SecureContextOptions);
    }
    this.log?.info('reloaded web configuration', { file: this.file });
  }

  /** The configuration for this request, or why there is none (then the answer is 500). */
  current(): { config: WebConfig; limiter?: RateLimiter } | { error: string } {
    if (this.error !== undefined) return { error: this.error };
    return { config: this.config, limiter: this.limiter };
  }

  /** The listener's TLS (undefined when the file enables none). */
  httpTls(): HttpTls | undefined {
    if (!this.tlsEnabled) return undefined;
    return {
      serverOptions: () => this.tlsOpts!,
      onReload: (l) => {
        this.listeners.add(l);
        return () => this.listeners.delete(l);
      },
      checkPeer: (sock) => {
        const t = this.config.tls;
        if (!t) return undefined;
        const peer = sock.getPeerX509Certificate();
        return checkClientCert(t, peer !== undefined, sock.authorized, peer?.subjectAltName);
      },
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }
}

// A `tls_config` block (Thanos's and Prometheus's: ca_file, cert_file, key_file, server_name,
// insecure_skip_verify) turned into a fetch function: the files are read through the plugin's
// ctx.fs (so its `read` grant decides which it may use), the settings go to ctx.httpClient (the
// host's TLS-configured fetch, with the same `net` and redirect checks as ctx.fetch). One owner for
// the objstore http_config, the sidecar's --prometheus.http-client and the ruler's http_config.
import { ConfigError, type Capabilities, type FetchFunction, type TlsClientOptions } from '../sdk/mod.ts';
import { bool, join, mapping, str } from '../config/fields.ts';

/** The fields of a Go tls_config block, paths as written in the config. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
  insecureSkipVerify: boolean;
}

export const NO_TLS: TlsFiles = Object.freeze({ caFile: '', certFile: '', keyFile: '', serverName: '', insecureSkipVerify: false });

/** True when the block asks for anything beyond the platform's defaults. */
export function customTls(t: TlsFiles): boolean {
  return t.caFile !== '' || t.certFile !== '' || t.keyFile !== '' || t.serverName !== '' || t.insecureSkipVerify;
}

/**
 * Go's NewTLSConfig refuses a client certificate without its key and the reverse; the same check,
 * for config parsers to report against the key's path. Returns the message, or undefined.
 */
export function tlsPairProblem(t: TlsFiles): string | undefined {
  if (t.certFile && !t.keyFile) return `client cert file "${t.certFile}" specified without client key file`;
  if (t.keyFile && !t.certFile) return `client key file "${t.keyFile}" specified without client cert file`;
  return undefined;
}

/** The keys of a Go tls_config block (Thanos's exthttp.TLSConfig, Prometheus's config.TLSConfig subset we honour). */
export const TLS_CONFIG_KEYS = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'] as const;

/**
 * The one parser of a `tls_config` block (objstore http_config, HTTP client configs, tracing):
 * unknown keys refused, half a client key pair refused at the missing key's path (Go's NewTLSConfig).
 */
export function parseTlsFiles(v: unknown, path: string): TlsFiles {
  const t = mapping(v, path, TLS_CONFIG_KEYS);
  const tls: TlsFiles = {
    caFile: str(t, 'ca_file', path),
    certFile: str(t, 'cert_file', path),
    keyFile: str(t, 'key_file', path),
    serverName: str(t, 'server_name', path),
    insecureSkipVerify: bool(t, 'insecure_skip_verify', path),
  };
  const pair = tlsPairProblem(tls);
  if (pair) throw new ConfigError(join(path, tls.certFile ? 'key_file' : 'cert_file'), pair);
  return tls;
}

const utf8 = new TextDecoder();

/** How often a tls_config fetch looks at its files for a rotation (Thanos re-reads them too). */
export const TLS_RELOAD_CHECK_MS = 10_000;

/**
 * The fetch for a tls_config block: ctx.fetch when the block is empty, else ctx.httpClient with the
 * files' contents. A file outside the plugin's `read` grant fails with the grant's PermissionDenied
 * (unchanged, so callers can recognise it); a missing or unusable file fails naming `where`.
 * Rotated files are picked up: at most every `reloadCheckMs` a request first re-reads the files and,
 * when their contents changed, builds a client from them (Thanos's client re-reads the CA when it
 * changes and the client certificate on every handshake). A rotation caught half written (unusable)
 * keeps the previous settings until the next check.
 */
export async function tlsFetch(ctx: Pick<Capabilities, 'fetch' | 'httpClient' | 'fs'>, t: TlsFiles, where: string, o: { reloadCheckMs?: number } = {}): Promise<FetchFunction> {
  if (!customTls(t)) return (input, init) => ctx.fetch(input, init);
  const pair = tlsPairProblem(t);
  if (pair) throw new Error(`${where}: ${pair}`);
  if (!ctx.httpClient) throw new Error(`${where}: this host offers no TLS client settings (ctx.httpClient)`);
  let pems = await readPems(ctx, t, where);
  let current = tlsClient(ctx, t, pems, where);
  if (!t.caFile && !t.certFile) return current;
  const every = o.reloadCheckMs ?? TLS_RELOAD_CHECK_MS;
  let checkedAt = Date.now();
  let checking: Promise<void> | undefined;
  const check = async () => {
    try {
      const now = await readPems(ctx, t, where);
      if (now.ca === pems.ca && now.cert === pems.cert && now.key === pems.key) return;
      current = tlsClient(ctx, t, now, where);
      pems = now;
    } catch {
      // Mid-rotation (a file missing, or a key not matching its certificate yet): the previous
      // settings stay until the next check.
    }
  };
  return async (input, init) => {
    if (Date.now() - checkedAt >= every) {
      checkedAt = Date.now();
      checking ??= check().finally(() => { checking = undefined; });
    }
    if (checking) await checking;
    return current(input, init);
  };
}

interface Pems { ca?: string; cert?: string; key?: string }

async function readPems(ctx: Pick<Capabilities, 'fs'>, t: TlsFiles, where: string): Promise<Pems> {
  const read = async (file: string, what: string): Promise<string | undefined> => {
    if (!file) return undefined;
    try {
      return utf8.decode(await ctx.fs.readFile(file));
    } catch (err) {
      if ((err as { name?: string }).name === 'PermissionDenied') throw err;
      throw new Error(`${where}: unable to load specified ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const p = { ca: await read(t.caFile, 'CA cert'), cert: await read(t.certFile, 'client cert'), key: await read(t.keyFile, 'client key') };
  if (p.ca !== undefined && !p.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`${where}: unable to use specified CA cert ${t.caFile} (no PEM certificate in it)`);
  }
  return p;
}

function tlsClient(ctx: Pick<Capabilities, 'httpClient'>, t: TlsFiles, p: Pems, where: string): FetchFunction {
  const opts: TlsClientOptions = {
    caPem: p.ca,
    certPem: p.cert,
    keyPem: p.key,
    serverName: t.serverName || undefined,
    insecureSkipVerify: t.insecureSkipVerify || undefined,
  };
  try {
    return ctx.httpClient!(opts);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
}

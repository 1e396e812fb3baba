// Thanos's gRPC client TLS flags -> GrpcDialOptions.tls, one reading for every component that has
// them: the querier's --grpc-client-tls-* (cmd/thanos/config.go grpcClientConfig) and receive's
// --remote-write.client-tls-* (its forwarding client). As extgrpc.StoreClientTLSCredentials: without
// `secure` the connection is plaintext and the other flags have no effect (Thanos accepts them
// anyway; `ignored` lists them so the component can say so in its log); with it, a client
// certificate needs its key and the reverse, and the minimum version is one of "1.0".."1.3".
import { ConfigError, type GrpcClientTlsOptions } from '../sdk/mod.ts';
import { configBool, configString, type RawConfig } from '../config/fields.ts';

/** Thanos's pkg/tls AllowedTLSVersions. */
export const TLS_VERSION_NAMES: readonly string[] = ['1.0', '1.1', '1.2', '1.3'];

/** Thanos's error for a version outside TLS_VERSION_NAMES, or undefined. */
export function tlsVersionProblem(v: string): string | undefined {
  return TLS_VERSION_NAMES.includes(v) ? undefined : `invalid TLS version: ${v}, valid values are ${TLS_VERSION_NAMES.join(', ')}`;
}

/** The config keys of one component's client TLS flags. */
export interface GrpcClientTlsKeys {
  secure: string;
  skipVerify: string;
  cert: string;
  key: string;
  ca: string;
  serverName: string;
  minVersion: string;
}

export interface GrpcClientTlsConfig {
  /** For ctx.grpcDial's options.tls; undefined: plaintext. */
  tls?: GrpcClientTlsOptions;
  /** TLS keys given a value while `secure` is off (no effect, as in Thanos). */
  ignored: string[];
  /** The flag values as an endpoint config's tls_config, the fallback of its per-endpoint settings. */
  fields: Required<ClientTlsFields>;
}

/**
 * The endpoint config file's `tls_config` (Thanos cmd/thanos/endpointset.go tlsConfig): every key
 * optional, an absent one is inherited (an empty string is a value: it unsets the inherited one).
 */
export interface ClientTlsFields {
  enabled?: boolean;
  insecureSkipVerify?: boolean;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  minVersion?: string;
}

/** A problem of a client TLS setting, naming the field (ClientTlsFields key or 'serverName'). */
export class ClientTlsProblem extends Error {
  constructor(readonly field: keyof ClientTlsFields | 'serverName', message: string) {
    super(message);
  }
}

/**
 * Thanos's tlsConfig.applyDefaults: absent keys from `fallback`, else the defaults (off, "1.3").
 * Without `enabled`, any of cert/key/CA/skip-verify given means TLS on, else the fallback's.
 */
export function withTlsDefaults(f: ClientTlsFields, fallback?: ClientTlsFields): Required<ClientTlsFields> {
  const impliesTls = f.certFile !== undefined || f.keyFile !== undefined || f.caFile !== undefined || f.insecureSkipVerify !== undefined;
  return {
    enabled: f.enabled ?? (impliesTls ? true : fallback?.enabled ?? false),
    insecureSkipVerify: f.insecureSkipVerify ?? fallback?.insecureSkipVerify ?? false,
    certFile: f.certFile ?? fallback?.certFile ?? '',
    keyFile: f.keyFile ?? fallback?.keyFile ?? '',
    caFile: f.caFile ?? fallback?.caFile ?? '',
    minVersion: f.minVersion ?? fallback?.minVersion ?? '1.3',
  };
}

/**
 * extgrpc.StoreClientTLSCredentials: complete settings -> GrpcClientTlsOptions (undefined when TLS is
 * off; then, as there, nothing else is checked). Throws ClientTlsProblem for a bad minimum version or a certificate without its key.
 */
export function clientTlsOptions(f: Required<ClientTlsFields>, serverName: string): GrpcClientTlsOptions | undefined {
  if (!f.enabled) return undefined;
  const bad = tlsVersionProblem(f.minVersion);
  if (bad) throw new ClientTlsProblem('minVersion', bad);
  if ((f.certFile === '') !== (f.keyFile === '')) throw new ClientTlsProblem(f.certFile === '' ? 'certFile' : 'keyFile', 'both client key and certificate must be provided');
  const tls: GrpcClientTlsOptions = { minVersion: f.minVersion };
  if (f.certFile) Object.assign(tls, { certFile: f.certFile, keyFile: f.keyFile });
  if (f.caFile) tls.caFile = f.caFile;
  if (serverName) tls.serverName = serverName;
  if (f.insecureSkipVerify) tls.skipVerify = true;
  return tls;
}

/** Reads and checks the keys (ConfigError naming the key). The minimum version defaults to Thanos's "1.3". */
export function grpcClientTlsConfig(raw: RawConfig, keys: GrpcClientTlsKeys): GrpcClientTlsConfig {
  const secure = configBool(raw, keys.secure, false);
  const skipVerify = configBool(raw, keys.skipVerify, false);
  const certFile = configString(raw, keys.cert, '');
  const keyFile = configString(raw, keys.key, '');
  const caFile = configString(raw, keys.ca, '');
  const serverName = configString(raw, keys.serverName, '');
  const minVersion = configString(raw, keys.minVersion, '1.3');
  const fields = { enabled: secure, insecureSkipVerify: skipVerify, certFile, keyFile, caFile, minVersion };
  if (!secure) {
    const bad = tlsVersionProblem(minVersion);
    if (bad) throw new ConfigError(keys.minVersion, bad);
    const ignored = ([[keys.skipVerify, skipVerify], [keys.cert, certFile], [keys.key, keyFile], [keys.ca, caFile], [keys.serverName, serverName], [keys.minVersion, minVersion === '1.3' ? '' : minVersion]] as const)
      .filter(([, v]) => v !== '' && v !== false).map(([k]) => k);
    return { ignored, fields };
  }
  try {
    return { tls: clientTlsOptions(fields, serverName), ignored: [], fields };
  } catch (e) {
    if (!(e instanceof ClientTlsProblem)) throw e;
    const keyOf = { enabled: keys.secure, insecureSkipVerify: keys.skipVerify, certFile: keys.cert, keyFile: keys.key, caFile: keys.ca, minVersion: keys.minVersion, serverName: keys.serverName };
    throw new ConfigError(keyOf[e.field], e.message);
  }
}

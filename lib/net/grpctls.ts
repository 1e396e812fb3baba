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
  const bad = tlsVersionProblem(minVersion);
  if (bad) throw new ConfigError(keys.minVersion, bad);
  if (!secure) {
    const ignored = ([[keys.skipVerify, skipVerify], [keys.cert, certFile], [keys.key, keyFile], [keys.ca, caFile], [keys.serverName, serverName], [keys.minVersion, minVersion === '1.3' ? '' : minVersion]] as const)
      .filter(([, v]) => v !== '' && v !== false).map(([k]) => k);
    return { ignored };
  }
  if ((certFile === '') !== (keyFile === '')) throw new ConfigError(certFile === '' ? keys.cert : keys.key, 'both client key and certificate must be provided');
  const tls: GrpcClientTlsOptions = { minVersion };
  if (certFile) Object.assign(tls, { certFile, keyFile });
  if (caFile) tls.caFile = caFile;
  if (serverName) tls.serverName = serverName;
  if (skipVerify) tls.skipVerify = true;
  return { tls, ignored: [] };
}

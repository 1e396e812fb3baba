// `{ env: NAME }` anywhere in a plugin's config is a secret taken from the environment variable
// NAME, resolved only if the plugin is granted env NAME (and asks for it).
import { PermissionDenied } from './index.ts';
import type { Permissions } from './permissions.ts';

export class SecretError extends Error {
  constructor(readonly key: string, readonly detail: string) {
    super(`${key}: ${detail}`);
    this.name = 'SecretError';
  }
}

function isSecretRef(v: unknown): v is { env: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { env?: unknown }).env === 'string';
}

/** Returns a copy of `config` with every `{ env: NAME }` replaced by the variable's value. */
export function resolveSecrets(config: unknown, perms: Permissions, keyPath: string, env: Record<string, string | undefined> = process.env): unknown {
  const walk = (v: unknown, key: string): unknown => {
    if (isSecretRef(v)) {
      const name = v.env;
      try {
        perms.check('env', name, 'secret');
      } catch (err) {
        if (err instanceof PermissionDenied) {
          throw new SecretError(key, `secret { env: ${name} } needs an env grant: plugin ${perms.pluginId} is not allowed to read ${name} (${err.reason ?? `add ${name} to ${err.manifestKey} in plugins.yaml`})`);
        }
        throw err;
      }
      const val = env[name];
      if (val === undefined) throw new SecretError(key, `secret { env: ${name} }: environment variable ${name} is not set`);
      return val;
    }
    if (Array.isArray(v)) return v.map((e, i) => walk(e, `${key}[${i}]`));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, walk(e, `${key}.${k}`)]));
    }
    return v;
  };
  return walk(config, keyPath);
}

// Where S3 credentials come from when the config has no access_key: the AWS default chain, in the
// SDK's order, with every read and request going through the plugin's capabilities (ctx.env,
// ctx.fs, ctx.fetch) instead of the SDK's own process.env / fs / http:
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) (also AWS_ACCESS_KEY / AWS_SECRET_KEY)
//   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials), profile AWS_PROFILE or default
//   3. web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> STS AssumeRoleWithWebIdentity
//      (@aws-sdk/client-sts) at sts_endpoint, else AWS_ENDPOINT_URL_STS, else the regional STS
//   4. ECS task role: AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI (+ AWS_CONTAINER_AUTHORIZATION_TOKEN)
//   5. EC2 instance profile over IMDSv2 (token PUT, then the role's credentials) at
//      AWS_EC2_METADATA_SERVICE_ENDPOINT, else sts_endpoint (minio's IAM provider reads it so), else
//      169.254.169.254; AWS_EC2_METADATA_DISABLED=true skips it.
// Temporary credentials are refreshed 5 minutes before they expire.
import type { Capabilities } from '../../../lib/sdk/mod.ts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface ChainOptions {
  region: string;
  stsEndpoint: string;
  /** The SDK fetch (ctx.fetch with the header timeout) the STS client uses. */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

/** What a source found: a provider, and its name for logs. */
export interface Found {
  source: string;
  provider: AwsCredentialIdentityProvider;
}

const REFRESH_BEFORE_MS = 5 * 60_000;

function env(ctx: Capabilities, name: string): string {
  return ctx.env.get(name) ?? '';
}

/** The chain's sources that can be decided without the network; IMDS last (lazily, at first use). */
export async function defaultChain(ctx: Capabilities, o: ChainOptions): Promise<Found> {
  const ak = env(ctx, 'AWS_ACCESS_KEY_ID') || env(ctx, 'AWS_ACCESS_KEY');
  const sk = env(ctx, 'AWS_SECRET_ACCESS_KEY') || env(ctx, 'AWS_SECRET_KEY');
  if (ak && sk) {
    const creds = { accessKeyId: ak, secretAccessKey: sk, sessionToken: env(ctx, 'AWS_SESSION_TOKEN') || undefined };
    return { source: 'environment', provider: async () => creds };
  }
  const file = await sharedFile(ctx);
  if (file) return file;
  const tokenFile = env(ctx, 'AWS_WEB_IDENTITY_TOKEN_FILE');
  const roleArn = env(ctx, 'AWS_ROLE_ARN');
  if (tokenFile && roleArn) return { source: 'web identity', provider: refreshing(() => webIdentity(ctx, o, tokenFile, roleArn)) };
  const full = env(ctx, 'AWS_CONTAINER_CREDENTIALS_FULL_URI');
  const rel = env(ctx, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
  if (full || rel) {
    const url = full || `http://169.254.170.2${rel}`;
    return { source: 'ECS container credentials', provider: refreshing(() => containerCreds(ctx, o, url)) };
  }
  if (env(ctx, 'AWS_EC2_METADATA_DISABLED').toLowerCase() === 'true') {
    throw new NoCredentials('no credentials: none in AWS_* variables, the shared credentials file, web identity or ECS, and AWS_EC2_METADATA_DISABLED=true', true);
  }
  const endpoint = (env(ctx, 'AWS_EC2_METADATA_SERVICE_ENDPOINT') || (o.stsEndpoint ? withScheme(o.stsEndpoint) : '') || 'http://169.254.169.254').replace(/\/+$/, '');
  return { source: `EC2 instance metadata (${endpoint})`, provider: refreshing(() => imdsV2(o, endpoint)) };
}

export class NoCredentials extends Error {
  /** nothingConfigured: no source is set up at all (Thanos then signs nothing: anonymous requests). */
  constructor(message: string, readonly nothingConfigured = false) {
    super(message);
    this.name = 'NoCredentials';
  }
}

function withScheme(e: string): string {
  return /^https?:\/\//i.test(e) ? e : `https://${e}`;
}

/** Caches temporary credentials until 5 minutes before they expire; one refresh at a time. */
function refreshing(load: () => Promise<AwsCredentialIdentity>): AwsCredentialIdentityProvider {
  let cur: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    if (cur && (!cur.expiration || cur.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS)) return cur;
    pending ??= load().then((c) => { cur = c; return c; }).finally(() => { pending = undefined; });
    return pending;
  };
}

async function readText(ctx: Capabilities, path: string): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await ctx.fs.readFile(path));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** The ini format of ~/.aws/credentials: [profile] then key = value lines; # and ; comments. */
export function parseIni(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (sec) {
      cur = {};
      out.set(sec[1]!.replace(/^profile\s+/, ''), cur);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv && cur) cur[kv[1]!.toLowerCase()] = kv[2]!;
  }
  return out;
}

async function sharedFile(ctx: Capabilities): Promise<Found | undefined> {
  let path = env(ctx, 'AWS_SHARED_CREDENTIALS_FILE');
  if (!path) {
    const home = env(ctx, 'HOME');
    if (!home) return undefined;
    path = `${home}/.aws/credentials`;
  }
  const text = await readText(ctx, path);
  if (text === undefined) return undefined;
  const profile = env(ctx, 'AWS_PROFILE') || 'default';
  const p = parseIni(text).get(profile);
  if (!p) return undefined;
  if (!p.aws_access_key_id || !p.aws_secret_access_key) {
    const extra = Object.keys(p).filter((k) => k !== 'aws_access_key_id' && k !== 'aws_secret_access_key' && k !== 'aws_session_token');
    throw new NoCredentials(`shared credentials file ${path}, profile ${profile}: no aws_access_key_id/aws_secret_access_key${extra.length ? ` (${extra.join(', ')} are not supported)` : ''}`);
  }
  const creds = { accessKeyId: p.aws_access_key_id, secretAccessKey: p.aws_secret_access_key, sessionToken: p.aws_session_token || undefined };
  return { source: `shared credentials file (${path}, profile ${profile})`, provider: async () => creds };
}

async function webIdentity(ctx: Capabilities, o: ChainOptions, tokenFile: string, roleArn: string): Promise<AwsCredentialIdentity> {
  const token = (await readText(ctx, tokenFile))?.trim();
  if (!token) throw new NoCredentials(`web identity: token file ${tokenFile} is missing or empty`);
  const [{ STSClient, AssumeRoleWithWebIdentityCommand }, { FetchHttpHandler }] = await Promise.all([import('@aws-sdk/client-sts'), import('@smithy/fetch-http-handler')]);
  const endpoint = o.stsEndpoint ? withScheme(o.stsEndpoint) : env(ctx, 'AWS_ENDPOINT_URL_STS') || undefined;
  const sts = new STSClient({
    region: o.region || 'us-east-1',
    endpoint,
    // AssumeRoleWithWebIdentity is unsigned: the token is the proof.
    credentials: async () => ({ accessKeyId: '', secretAccessKey: '' }),
    requestHandler: new FetchHttpHandler({ customFetch: o.fetch as never }),
  });
  try {
    const out = await sts.send(new AssumeRoleWithWebIdentityCommand({
      RoleArn: roleArn,
      RoleSessionName: env(ctx, 'AWS_ROLE_SESSION_NAME') || `thanos-${Date.now()}`,
      WebIdentityToken: token,
    }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new NoCredentials('web identity: STS returned no credentials');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  } catch (err) {
    if (err instanceof NoCredentials) throw err;
    throw new NoCredentials(`web identity: STS AssumeRoleWithWebIdentity for ${roleArn} failed: ${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    sts.destroy();
  }
}

function fromJson(what: string, j: Record<string, unknown>): AwsCredentialIdentity {
  const ak = j.AccessKeyId, sk = j.SecretAccessKey;
  if (typeof ak !== 'string' || typeof sk !== 'string' || !ak || !sk) throw new NoCredentials(`${what}: the answer has no AccessKeyId/SecretAccessKey`);
  return {
    accessKeyId: ak,
    secretAccessKey: sk,
    sessionToken: typeof j.Token === 'string' ? j.Token : undefined,
    expiration: typeof j.Expiration === 'string' ? new Date(j.Expiration) : undefined,
  };
}

async function jsonOf(what: string, res: Response): Promise<Record<string, unknown>> {
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new NoCredentials(`${what}: HTTP ${res.status}`);
  }
  return (await res.json()) as Record<string, unknown>;
}

async function containerCreds(ctx: Capabilities, o: ChainOptions, url: string): Promise<AwsCredentialIdentity> {
  const headers: Record<string, string> = {};
  const tok = env(ctx, 'AWS_CONTAINER_AUTHORIZATION_TOKEN');
  if (tok) headers.authorization = tok;
  return fromJson('ECS container credentials', await jsonOf('ECS container credentials', await o.fetch(url, { headers })));
}

/** IMDSv2: a session token first (PUT, TTL header), then the role name, then its credentials. */
async function imdsV2(o: ChainOptions, endpoint: string): Promise<AwsCredentialIdentity> {
  const what = `EC2 instance metadata (${endpoint})`;
  const tr = await o.fetch(`${endpoint}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
  if (!tr.ok) {
    await tr.body?.cancel().catch(() => {});
    throw new NoCredentials(`${what}: token request answered HTTP ${tr.status}`);
  }
  const token = (await tr.text()).trim();
  const h = { 'x-aws-ec2-metadata-token': token };
  const rr = await o.fetch(`${endpoint}/latest/meta-data/iam/security-credentials/`, { headers: h });
  if (!rr.ok) {
    await rr.body?.cancel().catch(() => {});
    throw new NoCredentials(`${what}: no instance role (HTTP ${rr.status})`);
  }
  const role = (await rr.text()).split('\n')[0]!.trim();
  if (!role) throw new NoCredentials(`${what}: no instance role`);
  return fromJson(what, await jsonOf(what, await o.fetch(`${endpoint}/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, { headers: h })));
}

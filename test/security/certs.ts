// Throwaway PKI for the security tests, made by the operator's own scripts/make-certs.sh (so the
// script is exercised too) in a temp dir: a CA with a server and a client certificate, and a second,
// unrelated CA with its own certificates (for "wrong CA" cases). Certificates hold
// DNS:<name>, DNS:localhost, IP:127.0.0.1, IP:::1 unless other SANs are asked for.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/make-certs.sh');

export interface CertPair {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** The CA certificate file. */
  ca: string;
  /** Issues (or re-issues, replacing the files) NAME.crt/NAME.key; sans e.g. ['DNS:store.example', 'IP:127.0.0.1']. */
  issue(name: string, sans?: readonly string[]): CertPair;
}

export interface TestPki extends TestCa {
  /** 'server' (SANs: server, localhost, 127.0.0.1, ::1). */
  server: CertPair;
  /** 'client'. */
  client: CertPair;
  /** An unrelated CA with its own 'server' and 'client'. */
  other: TestCa & { server: CertPair; client: CertPair };
  /** Removes the temp dir. */
  cleanup(): void;
}

function makeCa(dir: string): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  const issue = (name: string, sans?: readonly string[]): CertPair => {
    execFileSync('sh', [SCRIPT, dir, sans ? `${name}=${sans.join(',')}` : name], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  };
  // No names: the script would issue its default set; ask for one so the CA exists.
  issue('ca-check');
  return { dir, ca: path.join(dir, 'ca.crt'), issue };
}

export function makeTestPki(): TestPki {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-pki-'));
  const main = makeCa(path.join(root, 'main'));
  const other = makeCa(path.join(root, 'other'));
  return {
    ...main,
    server: main.issue('server'),
    client: main.issue('client'),
    other: { ...other, server: other.issue('server'), client: other.issue('client') },
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

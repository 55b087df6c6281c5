import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

// A small certificate authority for one berth fleet, made with the openssl command (no X.509
// code of our own). Identity lives in the subject: OU says what the holder is (manager, node,
// or a portal role: viewer/operator/admin) and CN names it (the node name for agents).
// 'mysql': the certificate the MySQL servers on one node present to their clients. It names
// the node but authenticates to nothing of berth's (credentials.ts KINDS leaves it out), since its
// key sits in every instance's configuration directory on that node.
export type CertKind = 'manager' | 'node' | 'viewer' | 'operator' | 'admin' | 'mysql';
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const CA_FILES = { cert: 'ca.crt', key: 'ca.key' };
export const fileBase = (kind: CertKind, name: string) => (kind === 'manager' ? 'manager' : kind === 'node' ? `node-${name}` : kind === 'mysql' ? `mysql-${name}` : `client-${name}`);

const NAME = /^[a-z0-9]([a-z0-9.-]{0,62})$/;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer; message: string };
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to make certificates (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

// Creates dir/ca.{crt,key} unless they exist. Returns true when a new CA was made.
export function initCa(dir: string, days = 3650): boolean {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const key = path.join(dir, CA_FILES.key);
  const crt = path.join(dir, CA_FILES.cert);
  if (fs.existsSync(key) && fs.existsSync(crt)) return false;
  openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', String(days),
    '-subj', `/O=berth/OU=ca/CN=berth-ca-${randomBytes(4).toString('hex')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  fs.chmodSync(key, 0o600);
  return true;
}

export interface IssueOptions {
  // Extra DNS names / IP addresses for the subjectAltName (manager and agents that others dial).
  hosts?: string[];
  days?: number;
  // Re-issue even when the files exist (rotation).
  force?: boolean;
}

// Issues dir/<base>.{crt,key} signed by the CA in dir. Returns the certificate's path.
export function issueCert(dir: string, kind: CertKind, name: string, o: IssueOptions = {}): { cert: string; key: string; created: boolean } {
  if (!NAME.test(name)) throw new Error(`certificate name "${name}" must be lower-case letters, digits, dots and dashes`);
  const base = path.join(dir, fileBase(kind, name));
  const out = { cert: `${base}.crt`, key: `${base}.key` };
  if (!o.force && fs.existsSync(out.cert) && fs.existsSync(out.key)) return { ...out, created: false };
  const sans = [`DNS:${name}`, 'DNS:localhost', 'IP:127.0.0.1', ...(o.hosts ?? []).map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`))];
  const csr = `${base}.csr`;
  const tmpKey = `${base}.key.new`;
  try {
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tmpKey, '-out', csr,
      '-subj', `/O=berth/OU=${kind}/CN=${name}`,
      '-addext', `subjectAltName=${[...new Set(sans)].join(',')}`,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext', 'extendedKeyUsage=serverAuth,clientAuth']);
    openssl(['x509', '-req', '-in', csr, '-CA', path.join(dir, CA_FILES.cert), '-CAkey', path.join(dir, CA_FILES.key), '-copy_extensions', 'copyall',
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(o.days ?? 825), '-out', `${base}.crt.new`]);
    fs.chmodSync(tmpKey, 0o600);
    fs.renameSync(tmpKey, out.key);
    fs.renameSync(`${base}.crt.new`, out.cert);
  } finally {
    fs.rmSync(csr, { force: true });
    fs.rmSync(tmpKey, { force: true });
    fs.rmSync(`${base}.crt.new`, { force: true });
  }
  return { ...out, created: true };
}

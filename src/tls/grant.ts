import { createPrivateKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { TlsFiles } from './credentials';
import { factsOfX509, peerRevocations } from './revocation';

// A backup grant: the manager's word that one node may pull a hot copy of one instance, for a few
// minutes. The source agent otherwise answers StreamBackup to any certificate of the fleet that
// names a node, so a stolen node certificate could read a copy of any instance.
//
// Format: <payload>.<signature>.<certificate>, each base64url. The payload is JSON
// {v:1, instance, node, exp}; the signature is the manager's (ECDSA P-256, SHA-256) over the
// payload's bytes; the certificate is the manager's (DER), which the agent checks against the
// fleet CA it already trusts, so agents need no new key or file.
export interface GrantClaims {
  instance: string;
  node: string;
  // Epoch milliseconds.
  exp: number;
}

export const GRANT_TTL_MS = 15 * 60_000;
const b64 = (b: Buffer) => b.toString('base64url');

export class GrantSigner {
  private readonly key: KeyObject;
  private readonly certDer: Buffer;

  constructor(files: Pick<TlsFiles, 'cert' | 'key'>) {
    this.key = createPrivateKey(fs.readFileSync(files.key));
    this.certDer = new X509Certificate(fs.readFileSync(files.cert)).raw;
  }

  sign(instance: string, node: string, now = Date.now(), ttlMs = GRANT_TTL_MS): string {
    const payload = Buffer.from(JSON.stringify({ v: 1, instance, node, exp: now + ttlMs }));
    return `${b64(payload)}.${b64(sign('sha256', payload, this.key))}.${b64(this.certDer)}`;
  }
}

// Throws (with why) unless the grant was signed by a manager certificate of this CA, names this
// instance and this caller's node, and has not expired.
export function checkGrant(grant: string, ca: X509Certificate, want: { instance: string; node: string }, now = Date.now()): GrantClaims {
  const parts = grant.split('.');
  if (parts.length !== 3 || parts.some((p) => !p)) throw new Error('no backup grant from the manager');
  const [payload, sig, der] = parts.map((p) => Buffer.from(p!, 'base64url')) as [Buffer, Buffer, Buffer];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new Error('the backup grant carries no readable certificate');
  }
  if (!cert.verify(ca.publicKey) || !/^OU=manager$/m.test(cert.subject) || !/^O=berth$/m.test(cert.subject)) throw new Error('the backup grant is not signed by the fleet manager');
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) throw new Error("the backup grant's manager certificate is not valid now");
  const revoked = peerRevocations.why(factsOfX509(cert));
  if (revoked) throw new Error(`the backup grant's manager certificate is revoked (${revoked})`);
  if (!verify('sha256', payload, cert.publicKey, sig)) throw new Error('the backup grant signature does not match');
  const c = JSON.parse(payload.toString('utf8')) as Partial<GrantClaims> & { v?: number };
  if (c.v !== 1 || typeof c.exp !== 'number') throw new Error('the backup grant is malformed');
  if (c.instance !== want.instance) throw new Error(`the backup grant is for instance ${String(c.instance)}, not ${want.instance}`);
  if (c.node !== want.node) throw new Error(`the backup grant is for node ${String(c.node)}, not ${want.node}`);
  if (now > c.exp) throw new Error('the backup grant has expired');
  return c as GrantClaims;
}

// Set once by the manager at start-up (it alone holds a manager key): the data-movement library
// asks it for each hot copy it starts, whoever called the library, so no caller can forget to.
// The target names its node (the one whose certificate the manager's channel to it verified);
// unset (--insecure, tests of the library): copies carry no grant.
export interface GrantTarget {
  node?: string;
  agentAddress: string;
}
let issuer: ((instance: string, target: GrantTarget) => string) | undefined;

export function setBackupGrantIssuer(fn: typeof issuer): void {
  issuer = fn;
}

// The manager's issuer: a grant for the node the copy's target endpoint names (the certificate
// its channel verified), never one looked up by address: a host re-registered under a new name
// leaves its old node row (down) at the same address, and the grant went to that row, so every
// copy to the host failed. A target without a node gets no grant (the source refuses the copy).
export function grantIssuerFor(signer: GrantSigner): (instance: string, target: GrantTarget) => string {
  return (instance, target) => (target.node ? signer.sign(instance, target.node) : '');
}

export function backupGrant(instance: string, target: GrantTarget): string {
  return issuer?.(instance, target) ?? '';
}

import fs from 'node:fs';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { CA_FILES, fileBase, type CertKind } from './ca';

// Where a process finds its CA, certificate and key; undefined means --insecure (plaintext).
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface Peer {
  kind: CertKind;
  name: string;
}

// Paths of one identity inside a `berthctl certs init` directory.
export function filesIn(dir: string, kind: CertKind, name: string): TlsFiles {
  const base = path.join(dir, fileBase(kind, name));
  return { ca: path.join(dir, CA_FILES.cert), cert: `${base}.crt`, key: `${base}.key` };
}

export function loadFiles(f: TlsFiles, withClientCert = true): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (what: string, p: string) => {
    if (!withClientCert && what !== 'CA certificate') return Buffer.alloc(0);
    try {
      return fs.readFileSync(p);
    } catch (err) {
      throw new Error(`cannot read the ${what} ${p} (${(err as Error).message}); make certificates with: berthctl certs init, or run with --insecure`);
    }
  };
  return { ca: read('CA certificate', f.ca), cert: read('certificate', f.cert), key: read('private key', f.key) };
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const KINDS: CertKind[] = ['manager', 'node', 'viewer', 'operator', 'admin'];

// The identity in a certificate the TLS layer has already verified against the CA.
export function identityOf(cert: PeerCertificate | undefined): Peer | undefined {
  if (!cert?.subject) return undefined;
  const kind = first(cert.subject.OU) as CertKind | undefined;
  const name = first(cert.subject.CN);
  if (!kind || !name || !KINDS.includes(kind) || first(cert.subject.O) !== 'berth') return undefined;
  return { kind, name };
}

// The caller's verified certificate identity, or undefined (plaintext, no certificate, or one the
// CA did not sign: grpc-js only exposes certificates of authorized connections).
export function peerOf(call: { getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null }): Peer | undefined {
  return identityOf(call.getAuthContext?.()?.sslPeerCertificate);
}

// Asks for a client certificate but lets callers without one through, so bearer-token callers
// reach the portal; the handlers then see a certificate only when the CA verified it.
class OptionalClientCertCredentials extends grpc.ServerCredentials {
  constructor(ca: Buffer, cert: Buffer, key: Buffer) {
    super({ requestCert: true, rejectUnauthorized: false }, { ca, cert, key });
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export function serverCredentials(files: TlsFiles | undefined, clientCert: 'require' | 'optional'): grpc.ServerCredentials {
  if (!files) return grpc.ServerCredentials.createInsecure();
  const f = loadFiles(files);
  if (clientCert === 'optional') return new OptionalClientCertCredentials(f.ca, f.cert, f.key);
  return grpc.ServerCredentials.createSsl(f.ca, [{ private_key: f.key, cert_chain: f.cert }], true);
}

// Client side: the server must hold a CA-signed certificate naming the expected identity; host
// names are not checked (agents are dialled at whatever address they advertise), identities are.
// `refuse`: a revocation check of the server's certificate (why it is refused, or undefined).
export function channelCredentials(files: TlsFiles | undefined, expect: Peer | { kind: CertKind }, withClientCert = true, refuse?: (cert: PeerCertificate) => string | undefined): grpc.ChannelCredentials {
  if (!files) return grpc.credentials.createInsecure();
  const f = loadFiles(files, withClientCert);
  return grpc.credentials.createSsl(f.ca, withClientCert ? f.key : null, withClientCert ? f.cert : null, {
    checkServerIdentity: (_host, cert) => {
      const p = identityOf(cert);
      if (!p || p.kind !== expect.kind || ('name' in expect && p.name !== expect.name)) {
        const want = 'name' in expect ? `${expect.kind} ${expect.name}` : expect.kind;
        return new Error(`server certificate names ${p ? `${p.kind} ${p.name}` : 'no berth identity'}, expected ${want}`);
      }
      const revoked = refuse?.(cert);
      return revoked ? new Error(`server certificate refused: ${revoked}`) : undefined;
    },
  });
}

// CA-only client credentials for token callers (no client certificate).
export function caOnlyCredentials(ca: string, expect: { kind: CertKind }): grpc.ChannelCredentials {
  return channelCredentials({ ca, cert: '', key: '' }, expect, false);
}

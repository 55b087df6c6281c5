import type * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { permissionDenied, unauthenticated } from '../../src/errors';
import { ROLES, type Role } from '../../src/tls/ca';
import { peerOf } from '../../src/tls/credentials';
import { allows, requiredRole } from './policy';
import type { TokensTable } from '../store/tokens';

export interface Principal {
  // "cert:alice", "token:ci" or "insecure" (plaintext mode, no identity).
  who: string;
  role: Role;
}

const principals = new WeakMap<object, Principal>();

// Who made this call, as the guard found it (for audit records).
export function principalOf(call: object): Principal | undefined {
  return principals.get(call);
}

export function bearerOf(call: grpc.ServerUnaryCall<unknown, unknown>): string | undefined {
  const v = call.metadata.get('authorization')[0];
  const m = typeof v === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(v) : null;
  return m?.[1];
}

export interface PortalAuth {
  tokens: TokensTable;
  // --insecure: no certificates, every caller is admin unless it presents a token.
  insecure: boolean;
  // Why a verified client certificate is revoked (undefined: it is not). Checked on every call.
  revoked?: (cert: PeerCertificate) => string | undefined;
}

// A verified client certificate wins; then a bearer token; otherwise the call is refused.
export function authenticate(call: grpc.ServerUnaryCall<unknown, unknown>, a: PortalAuth): Principal {
  const peer = peerOf(call);
  const cert = peer ? call.getAuthContext?.()?.sslPeerCertificate : undefined;
  const revoked = cert && a.revoked?.(cert);
  if (revoked) throw unauthenticated(`${revoked}; ask for a new certificate`);
  if (peer && (ROLES as readonly string[]).includes(peer.kind)) return { who: `cert:${peer.name}`, role: peer.kind as Role };
  if (peer) throw permissionDenied(`a ${peer.kind} certificate (${peer.name}) cannot call the portal`);
  const token = bearerOf(call);
  if (token) {
    const row = a.tokens.verify(token);
    if (!row) throw unauthenticated('the bearer token is not valid (revoked or mistyped)');
    return { who: `token:${row.name}`, role: row.role };
  }
  if (a.insecure) return { who: 'insecure', role: 'admin' };
  throw unauthenticated('present a client certificate signed by the fleet CA or a bearer token (berthctl --cert/--key/--ca or --token)');
}

export function portalGuard(a: PortalAuth) {
  return (call: grpc.ServerUnaryCall<unknown, unknown>, method: string): void => {
    const p = authenticate(call, a);
    if (!allows(p.role, method)) throw permissionDenied(`${method} needs the ${requiredRole(method)} role; ${p.who} has ${p.role}`);
    principals.set(call, p);
  };
}

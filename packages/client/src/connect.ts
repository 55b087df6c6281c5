import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';

// How to reach a berth manager's Portal. Certificates and keys are PEM, given as contents or as
// file paths. With `cert` + `key` the client authenticates by certificate (mTLS: admin, operator
// or viewer certificates made by `berthctl certs`); with `token` by bearer token over TLS (the CA
// is still needed, to check the manager). `insecure` is for a plaintext manager on one machine.
export interface ConnectionOptions {
  address: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  insecure?: boolean;
  channelOptions?: grpc.ChannelOptions;
}

// The manager's certificate must be signed by the CA and name berth's manager identity
// (subject O=berth, OU=manager); host names are not checked, so a manager can be dialled by IP.
const MANAGER = { O: 'berth', OU: 'manager' };

function pem(v: string | Buffer, what: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v.includes('-----BEGIN')) return Buffer.from(v);
  try {
    return fs.readFileSync(v);
  } catch (err) {
    throw new Error(`cannot read the ${what} ${v}: ${(err as Error).message}`);
  }
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function credentialsFor(o: ConnectionOptions): grpc.ChannelCredentials {
  if (o.insecure) {
    if (o.token) throw new Error('a bearer token is never sent over a plaintext channel: give the CA certificate instead of insecure');
    return grpc.credentials.createInsecure();
  }
  if (!o.ca) throw new Error('no CA certificate: give `ca` (or `insecure` for a plaintext manager)');
  if (!!o.cert !== !!o.key) throw new Error('a client certificate needs both `cert` and `key`');
  const ca = pem(o.ca, 'CA certificate');
  const key = o.key ? pem(o.key, 'private key') : null;
  const cert = o.cert ? pem(o.cert, 'certificate') : null;
  return grpc.credentials.createSsl(ca, key, cert, {
    checkServerIdentity: (_host, peer) => {
      const s = peer.subject;
      if (first(s?.O) === MANAGER.O && first(s?.OU) === MANAGER.OU) return undefined;
      return new Error(`server certificate names ${first(s?.OU) ?? 'no'} ${first(s?.CN) ?? ''}, expected a berth manager`);
    },
  });
}

export function callMetadata(o: ConnectionOptions): grpc.Metadata {
  const m = new grpc.Metadata();
  if (o.token) m.set('authorization', `Bearer ${o.token}`);
  return m;
}

export const DEFAULT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // The manager's certificate names an identity, not a host; this fixed TLS server name matches
  // what berth's own processes use.
  'grpc.ssl_target_name_override': 'berth',
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
};

import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { identityOf, loadFiles, type Peer, type TlsFiles } from '../../src/tls/credentials';
import { peerRevocations } from '../../src/tls/revocation';

// A one-time socket for the bytes of one hot copy, offered by the source agent inside an
// authorized StreamBackup call. gRPC relaying cost both agents a core for 1.35 GB (protobuf
// framing, HTTP/2 flow control and a buffer per message, 40% of it garbage collection); over a
// plain socket Node only moves large buffers between a FIFO and the kernel.
//
// Who may connect: the same certificate identity the gRPC call was authorized for (mutual TLS
// against the fleet CA), and only with the 32-byte token the call returned. One connection is
// accepted, then the listener closes; unused, it closes after ACCEPT_MS.
export const TOKEN_BYTES = 32;
const ACCEPT_MS = 30_000;

export interface DirectOffer {
  port: number;
  token: Buffer;
  // The authenticated socket, once the caller connected (rejects after ACCEPT_MS).
  accepted: Promise<net.Socket>;
  close(): void;
}

export interface DirectOptions {
  host: string;
  tls?: TlsFiles;
  // The identity the socket's client certificate must name (with TLS).
  peer?: Peer;
  acceptMs?: number;
}

export async function offerDirect(o: DirectOptions): Promise<DirectOffer> {
  const token = randomBytes(TOKEN_BYTES);
  let settle!: { resolve: (s: net.Socket) => void; reject: (e: Error) => void };
  const accepted = new Promise<net.Socket>((resolve, reject) => (settle = { resolve, reject }));
  accepted.catch(() => undefined);
  const onSocket = (s: net.Socket) => {
    s.on('error', () => undefined);
    const who = s instanceof tls.TLSSocket ? identityOf(s.getPeerCertificate()) : undefined;
    if (o.tls && (!who || !o.peer || who.kind !== o.peer.kind || who.name !== o.peer.name)) return void s.destroy();
    // A certificate revoked since the StreamBackup call was authorized gets no bytes either.
    if (s instanceof tls.TLSSocket && peerRevocations.whyPeer(s.getPeerCertificate())) return void s.destroy();
    readToken(s).then((t) => {
      if (!t || !timingSafeEqual(t, token)) return void s.destroy();
      server.close();
      clearTimeout(timer);
      settle.resolve(s);
    }, () => s.destroy());
  };
  const server = o.tls ? tls.createServer({ ...tlsOptions(o.tls), requestCert: true, rejectUnauthorized: true }, onSocket) : net.createServer(onSocket);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, o.host, () => resolve());
  });
  const timer = setTimeout(() => {
    server.close();
    settle.reject(new Error(`no one took the direct copy socket within ${(o.acceptMs ?? ACCEPT_MS) / 1000} s`));
  }, o.acceptMs ?? ACCEPT_MS);
  return {
    port: (server.address() as net.AddressInfo).port,
    token,
    accepted,
    close: () => {
      clearTimeout(timer);
      server.close();
      settle.reject(new Error('the direct copy socket was withdrawn'));
    },
  };
}

// The caller's side: connect, check the server is a node of the fleet, send the token.
export async function connectDirect(host: string, port: number, token: Buffer, files?: TlsFiles, timeoutMs = 10_000): Promise<net.Socket> {
  const s = files
    ? tls.connect({
        host,
        port,
        ...tlsOptions(files),
        checkServerIdentity: (_h, cert) => {
          if (identityOf(cert)?.kind !== 'node') return new Error('the direct copy socket is not served by a node of the fleet');
          const revoked = peerRevocations.whyPeer(cert);
          return revoked ? new Error(`the direct copy socket's certificate is refused: ${revoked}`) : undefined;
        },
      })
    : net.connect({ host, port });
  const ready = files ? 'secureConnect' : 'connect';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => (s.destroy(), reject(new Error(`no direct copy socket at ${host}:${port} within ${timeoutMs / 1000} s`))), timeoutMs);
    s.once(ready, () => (clearTimeout(t), resolve()));
    s.once('error', (e) => (clearTimeout(t), reject(e)));
  });
  s.write(token);
  return s;
}

function tlsOptions(files: TlsFiles): tls.SecureContextOptions {
  const f = loadFiles(files);
  // AES-128-GCM first: the cheapest AEAD with AES-NI, and the copy is bound by CPU.
  return { ca: f.ca, cert: f.cert, key: f.key, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384' };
}

function readToken(s: net.Socket): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const t = setTimeout(() => done(undefined), 10_000);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= TOKEN_BYTES) done(got.subarray(0, TOKEN_BYTES));
    };
    const onEnd = () => done(undefined);
    function done(v: Buffer | undefined) {
      clearTimeout(t);
      s.off('data', onData).off('end', onEnd).off('error', reject);
      s.pause();
      resolve(v);
    }
    s.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

// A raw descriptor (no FileHandle, which would close it again when collected): the pipe stream
// made on it owns it.
export function openFd(file: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}


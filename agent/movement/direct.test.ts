import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCa, issueCert } from '../../src/tls/ca';
import { filesIn } from '../../src/tls/credentials';
import { connectDirect, offerDirect } from './direct';

// The one-time copy socket against the attacks that matter: another node's certificate, a
// certificate of another CA, a wrong token, a second connection; and the bytes arrive whole.
describe('direct copy socket', () => {
  let dir: string;
  let other: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-direct-'));
    initCa(dir);
    for (const n of ['src', 'dst', 'evil']) issueCert(dir, 'node', n);
    other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-direct-other-'));
    initCa(other);
    issueCert(other, 'node', 'dst');
  });

  const offer = () => offerDirect({ host: '127.0.0.1', tls: filesIn(dir, 'node', 'src'), peer: { kind: 'node', name: 'dst' }, acceptMs: 5000 });
  // A refused connection is closed by the source without a byte.
  const refused = async (s: Promise<import('node:net').Socket>) => {
    const sock = await s.catch(() => undefined);
    if (!sock) return true;
    return new Promise<boolean>((resolve) => {
      sock.on('data', () => resolve(false));
      sock.on('close', () => resolve(true));
      sock.on('error', () => undefined);
    });
  };

  it('refuses another node, another CA and a wrong token, then accepts the named node with the token, once', async () => {
    const o = await offer();
    let accepted = false;
    void o.accepted.then(() => (accepted = true));
    expect(await refused(connectDirect('127.0.0.1', o.port, o.token, filesIn(dir, 'node', 'evil')))).toBe(true);
    expect(await refused(connectDirect('127.0.0.1', o.port, o.token, filesIn(other, 'node', 'dst')))).toBe(true);
    expect(await refused(connectDirect('127.0.0.1', o.port, Buffer.alloc(32, 7), filesIn(dir, 'node', 'dst')))).toBe(true);
    expect(accepted).toBe(false);

    const client = await connectDirect('127.0.0.1', o.port, o.token, filesIn(dir, 'node', 'dst'));
    const server = await o.accepted;
    // The listener is gone: the token does not let anyone in twice.
    await expect(connectDirect('127.0.0.1', o.port, o.token, filesIn(dir, 'node', 'dst'), 2000)).rejects.toThrow();

    const data = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const got: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) });
    const recv = pipeline(client, sink);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(Readable.from(chunks), server);
    await recv;
    expect(sink.writableFinished).toBe(true);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('closes an offer no one takes', async () => {
    const o = await offerDirect({ host: '127.0.0.1', tls: filesIn(dir, 'node', 'src'), peer: { kind: 'node', name: 'dst' }, acceptMs: 200 });
    await expect(o.accepted).rejects.toThrow(/no one took the direct copy socket/);
    await expect(connectDirect('127.0.0.1', o.port, o.token, filesIn(dir, 'node', 'dst'), 2000)).rejects.toThrow();
  });

  it('without TLS (--insecure) admits the token alone', async () => {
    const o = await offerDirect({ host: '127.0.0.1', acceptMs: 5000 });
    expect(await refused(connectDirect('127.0.0.1', o.port, Buffer.alloc(32)))).toBe(true);
    const c = await connectDirect('127.0.0.1', o.port, o.token);
    const s = await o.accepted;
    s.end('x');
    const chunks: Buffer[] = [];
    for await (const b of c) chunks.push(b as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('x');
  });
});

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log';
import { initCa, issueCert } from '../src/tls/ca';
import { filesIn } from '../src/tls/credentials';
import { checkGrant, GrantSigner } from '../src/tls/grant';
import { peerRevocations } from '../src/tls/revocation';
import { connectDirect, offerDirect } from './movement/direct';
import { AgentRevocations } from './revocations';

const serialOf = (crt: string) => new X509Certificate(fs.readFileSync(crt)).serialNumber;

// The agent's side of revocation, with real certificates and real TLS sockets: a list pushed by
// the manager stops a revoked node on the copy socket (both ends) and a revoked manager's grants,
// and survives an agent restart.
describe('revocations on an agent', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agentrev-'));
    initCa(dir);
    for (const n of ['src', 'dst']) issueCert(dir, 'node', n);
    issueCert(dir, 'manager', 'manager');
  });
  afterEach(() => peerRevocations.apply({ version: 0, serials: [], names: [] }));

  const refused = async (s: Promise<net.Socket>) => {
    const sock = await s.catch(() => undefined);
    if (!sock) return true;
    return new Promise<boolean>((resolve) => {
      sock.on('data', () => resolve(false));
      sock.on('close', () => resolve(true));
      sock.on('error', () => undefined);
    });
  };

  it('the copy socket refuses a revoked target, and a target refuses a revoked source', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agentrev-disk-'));
    const rev = new AgentRevocations(AgentRevocations.fileFor(disk), createLogger('test', 'silent'));
    rev.apply({ version: 1, serials: [serialOf(filesIn(dir, 'node', 'dst').cert)], names: [] });
    const o = await offerDirect({ host: '127.0.0.1', tls: filesIn(dir, 'node', 'src'), peer: { kind: 'node', name: 'dst' }, acceptMs: 3000 });
    let accepted = false;
    void o.accepted.then(() => (accepted = true), () => undefined);
    expect(await refused(connectDirect('127.0.0.1', o.port, o.token, filesIn(dir, 'node', 'dst')))).toBe(true);
    expect(accepted).toBe(false);
    o.close();

    // The source revoked instead: the target will not send its token to it.
    rev.apply({ version: 2, serials: [], names: [{ kind: 'node', name: 'src', issuedBeforeMs: Date.now() }] });
    const o2 = await offerDirect({ host: '127.0.0.1', tls: filesIn(dir, 'node', 'src'), peer: { kind: 'node', name: 'dst' }, acceptMs: 3000 });
    await expect(connectDirect('127.0.0.1', o2.port, o2.token, filesIn(dir, 'node', 'dst'), 2000)).rejects.toThrow(/refused: certificates of node src/);
    o2.close();
  });

  it('a grant signed with a revoked manager certificate is refused', () => {
    const ca = new X509Certificate(fs.readFileSync(filesIn(dir, 'manager', 'manager').ca));
    const grant = new GrantSigner(filesIn(dir, 'manager', 'manager')).sign('i-0123456789ab', 'dst');
    expect(checkGrant(grant, ca, { instance: 'i-0123456789ab', node: 'dst' }).node).toBe('dst');
    peerRevocations.apply({ version: 3, serials: [serialOf(filesIn(dir, 'manager', 'manager').cert)], names: [] });
    expect(() => checkGrant(grant, ca, { instance: 'i-0123456789ab', node: 'dst' })).toThrow(/manager certificate is revoked/);
  });

  it('keeps the list on disk (0600) for its next start', () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agentrev-disk-'));
    const log = createLogger('test', 'silent');
    new AgentRevocations(AgentRevocations.fileFor(disk), log).apply({ version: 7, serials: ['AB'], names: [] });
    expect(fs.statSync(AgentRevocations.fileFor(disk)).mode & 0o777).toBe(0o600);
    peerRevocations.apply({ version: 0, serials: [], names: [] });
    const again = new AgentRevocations(AgentRevocations.fileFor(disk), log);
    again.load();
    expect(again.version).toBe(7);
    expect(peerRevocations.why({ serial: 'ab', notBeforeMs: 0 })).toMatch(/revoked/);
  });
});

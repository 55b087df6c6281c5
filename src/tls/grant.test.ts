import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { initCa, issueCert } from './ca';
import { filesIn } from './credentials';
import { checkGrant, GrantSigner, grantIssuerFor } from './grant';

describe('backup grants', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-grant-'));
  initCa(dir);
  issueCert(dir, 'manager', 'manager');
  issueCert(dir, 'node', 'n1');
  const ca = new X509Certificate(fs.readFileSync(path.join(dir, 'ca.crt')));
  const manager = new GrantSigner(filesIn(dir, 'manager', 'manager'));
  const want = { instance: 'i-0123456789ab', node: 'n2' };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Issue 26, row 10: a host re-registered as barsfo2 while its old row barsb stayed at the same
  // address; the grant named barsb and the source refused every copy to barsfo2.
  it("the manager's issuer names the target endpoint's node, whatever other rows share its address", () => {
    const issue = grantIssuerFor(manager);
    const g = issue(want.instance, { node: 'barsfo2', agentAddress: '10.0.0.7:7401' });
    expect(checkGrant(g, ca, { instance: want.instance, node: 'barsfo2' }).node).toBe('barsfo2');
    expect(() => checkGrant(g, ca, { instance: want.instance, node: 'barsb' })).toThrow('the backup grant is for node barsfo2, not barsb');
    expect(issue(want.instance, { agentAddress: '10.0.0.7:7401' })).toBe('');
  });

  it('accepts a grant the manager signed for this instance and node, until it expires', () => {
    const now = Date.now();
    const fresh = manager.sign(want.instance, want.node, now);
    expect(checkGrant(fresh, ca, want, now + 1000)).toMatchObject({ instance: want.instance, node: want.node, exp: now + 15 * 60_000 });
    expect(() => checkGrant(fresh, ca, want, now + 15 * 60_000 + 1)).toThrow('the backup grant has expired');
  });

  it('refuses another instance, another node, no grant, a tampered payload, and a node certificate as signer', () => {
    const now = Date.now();
    const g = manager.sign(want.instance, want.node, now);
    expect(() => checkGrant(g, ca, { ...want, instance: 'i-ffffffffffff' }, now)).toThrow('the backup grant is for instance i-0123456789ab, not i-ffffffffffff');
    expect(() => checkGrant(g, ca, { ...want, node: 'n1' }, now)).toThrow('the backup grant is for node n2, not n1');
    expect(() => checkGrant('', ca, want, now)).toThrow('no backup grant from the manager');
    const [, sig, cert] = g.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, instance: want.instance, node: 'n1', exp: now + 60_000 })).toString('base64url');
    expect(() => checkGrant(`${forged}.${sig}.${cert}`, ca, { ...want, node: 'n1' }, now)).toThrow('the backup grant signature does not match');
    // A node (the thief's own certificate) cannot sign grants: only manager certificates count.
    const byNode = new GrantSigner(filesIn(dir, 'node', 'n1')).sign(want.instance, 'n1', now);
    expect(() => checkGrant(byNode, ca, { ...want, node: 'n1' }, now)).toThrow('the backup grant is not signed by the fleet manager');
    // Nor a manager certificate of another CA.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-grant-other-'));
    initCa(other);
    issueCert(other, 'manager', 'manager');
    const foreign = new GrantSigner(filesIn(other, 'manager', 'manager')).sign(want.instance, want.node, now);
    expect(() => checkGrant(foreign, ca, want, now)).toThrow('the backup grant is not signed by the fleet manager');
    fs.rmSync(other, { recursive: true, force: true });
  });
});

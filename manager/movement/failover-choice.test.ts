import { describe, expect, it } from 'vitest';
import { count, describe as describeSet } from '../../src/mysql/gtid';
import { chooseFailoverCandidate, errantForFailover, lostWindow, type FailoverCandidate } from './decide';

const P = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
const limits = { maxRelayTransactions: 1000 };
const replica = (name: string, received: string, executed: string, more: Partial<FailoverCandidate> = {}): FailoverCandidate => ({
  name,
  receivedGtids: received,
  executedGtids: executed,
  sqlRunning: true,
  lastSqlError: '',
  lastIoError: '',
  ...more,
});

describe('failover candidate (MySQL)', () => {
  const primary = { executedGtids: `${P}:1-100`, serverUuid: P, serverId: 1 };

  it('the replica that received the most wins, even when it has applied less', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-98`, `${P}:1-98`), replica('c', `${P}:1-102`, `${P}:1-95`)], primary, limits);
    expect(c).toMatchObject({ ok: true, name: 'c', refused: [] });
  });

  it('newer transactions from the primary than its last report are not errant', () => {
    expect(errantForFailover('mysql', `${P}:1-110`, primary).sources.size).toBe(0);
  });

  it('an errant transaction (the replica wrote itself) refuses that replica; the other is promoted', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-100`, `${P}:1-100,${B}:1`), replica('c', `${P}:1-100`, `${P}:1-100`)], primary, limits);
    expect(c).toMatchObject({ ok: true, name: 'c', refused: [{ name: 'b', reason: expect.stringMatching(/errant transactions 4e11fa47.*:1/) }] });
  });

  it('a replica whose SQL thread broke is never promoted, even when most advanced', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-100`, `${P}:1-100`, { sqlRunning: false, lastSqlError: 'Duplicate entry' }), replica('c', `${P}:1-100`, `${P}:1-100`)], primary, limits);
    expect(c).toMatchObject({ ok: true, name: 'c', refused: [{ name: 'b', reason: expect.stringMatching(/broken: Duplicate entry/) }] });
  });

  it('aborts when the only replica with everything may not be promoted (its transactions would be lost)', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-100`, `${P}:1-100`, { sqlRunning: false }), replica('c', `${P}:1-90`, `${P}:1-90`)], primary, limits);
    expect(c).toMatchObject({ ok: false, reason: expect.stringMatching(/c lacks .*:91-100 that b has/) });
  });

  it('a relay log too long to apply within the bound refuses the replica', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-5000`, `${P}:1-10`)], primary, limits);
    expect(c).toMatchObject({ ok: false, reason: expect.stringMatching(/4990 received transactions not applied/) });
  });

  it('diverged replicas (each has some the other lacks): abort', () => {
    const c = chooseFailoverCandidate('mysql', [replica('b', `${P}:1-100:102`, `${P}:1-100`), replica('c', `${P}:1-101`, `${P}:1-100`)], primary, limits);
    expect(c.ok).toBe(false);
  });

  it('no replica at all: abort', () => {
    expect(chooseFailoverCandidate('mysql', [], primary, limits)).toMatchObject({ ok: false, reason: expect.stringMatching(/no replica may be promoted/) });
  });
});

describe('failover candidate (MariaDB)', () => {
  const primary = { executedGtids: '0-1-100', serverUuid: '', serverId: 1 };

  it('a write of the replica itself (its server id on the newest GTID of the domain) is errant', () => {
    expect(errantForFailover('mariadb', '0-2-101', primary).sources.size).toBe(1);
    expect(errantForFailover('mariadb', '0-1-105', primary).sources.size).toBe(0);
  });

  it('the errant replica is refused, the other promoted', () => {
    const c = chooseFailoverCandidate('mariadb', [replica('b', '0-1-100', '0-2-101'), replica('c', '0-1-100', '0-1-100')], primary, limits);
    expect(c).toMatchObject({ ok: true, name: 'c', refused: [{ name: 'b' }] });
  });

  it('most received wins', () => {
    const c = chooseFailoverCandidate('mariadb', [replica('b', '0-1-103', '0-1-101'), replica('c', '0-1-102', '0-1-102')], primary, limits);
    expect(c).toMatchObject({ ok: true, name: 'b' });
  });
});

describe('lost window measured on the old primary', () => {
  it('MySQL: what the old primary committed that the promoted replica lacked', () => {
    expect(describeSet(lostWindow('mysql', `${P}:1-105`, `${P}:1-100`))).toBe(`${P}:101-105`);
    expect(count(lostWindow('mysql', `${P}:1-100`, `${P}:1-100,${B}:1-50`))).toBe(0);
  });

  it("MariaDB: against the promoted set, since the new primary's later writes reuse the domain's sequence numbers", () => {
    expect(count(lostWindow('mariadb', '0-1-1000', '0-1-995'))).toBe(5);
    // The same old primary measured against the new primary later on would hide them.
    expect(count(lostWindow('mariadb', '0-1-1000', '0-2-1200'))).toBe(0);
  });
});

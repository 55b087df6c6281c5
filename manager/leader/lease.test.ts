import { describe, expect, it } from 'vitest';
import { decideAcquire, decideRelease, decideRenew, followerMessage, holds, type LeaseRow } from './lease';

const a = { id: 'a', portalAddress: '10.0.0.1:7400', registryAddress: '10.0.0.1:7402' };
const b = { id: 'b', portalAddress: '10.0.0.2:7400', registryAddress: '10.0.0.2:7402' };
const row = (holder: string, epoch: number, expiresAtMs: number): LeaseRow => ({ holder, portalAddress: `${holder}:7400`, registryAddress: `${holder}:7402`, epoch, expiresAtMs });

describe('decideAcquire', () => {
  it('takes a store nobody led with epoch 1', () => {
    expect(decideAcquire(undefined, a, 1000, 5000)).toEqual({ holder: 'a', portalAddress: a.portalAddress, registryAddress: a.registryAddress, epoch: 1, expiresAtMs: 6000 });
  });
  it('waits while another holds an unexpired lease', () => {
    expect(decideAcquire(row('a', 4, 6000), b, 5999, 5000)).toBeUndefined();
  });
  it('takes an expired lease with the next epoch, never reusing one', () => {
    const r = decideAcquire(row('a', 4, 6000), b, 6000, 5000);
    expect(r).toMatchObject({ holder: 'b', epoch: 5, expiresAtMs: 11_000, portalAddress: b.portalAddress });
  });
  it('takes its own unexpired lease again (restarted on its address) with a new epoch', () => {
    expect(decideAcquire(row('a', 4, 9000), a, 5000, 5000)).toMatchObject({ holder: 'a', epoch: 5 });
  });
});

describe('decideRenew', () => {
  it('extends the lease of its holder with its epoch', () => {
    expect(decideRenew(row('a', 4, 6000), { id: 'a', epoch: 4 }, 5000, 5000)).toMatchObject({ holder: 'a', epoch: 4, expiresAtMs: 10_000 });
  });
  it('refuses once another manager took it, even with a later expiry', () => {
    expect(decideRenew(row('b', 5, 20_000), { id: 'a', epoch: 4 }, 5000, 5000)).toBeUndefined();
  });
  it('refuses the same holder with an older epoch (its previous process)', () => {
    expect(decideRenew(row('a', 5, 20_000), { id: 'a', epoch: 4 }, 5000, 5000)).toBeUndefined();
  });
  it('renews an expired lease nobody took (a late timer is no reason to step down)', () => {
    expect(decideRenew(row('a', 4, 6000), { id: 'a', epoch: 4 }, 9000, 5000)).toMatchObject({ epoch: 4, expiresAtMs: 14_000 });
  });
  it('never shortens the lease', () => {
    expect(decideRenew(row('a', 4, 20_000), { id: 'a', epoch: 4 }, 5000, 5000)?.expiresAtMs).toBe(20_000);
  });
  it('refuses when there is no row', () => {
    expect(decideRenew(undefined, { id: 'a', epoch: 1 }, 0, 5000)).toBeUndefined();
  });
});

describe('decideRelease and holds', () => {
  it('expires the holder\'s lease now so a follower takes it at once', () => {
    const r = decideRelease(row('a', 4, 9000), { id: 'a', epoch: 4 }, 5000)!;
    expect(r.expiresAtMs).toBe(5000);
    expect(decideAcquire(r, b, 5000, 5000)).toMatchObject({ holder: 'b', epoch: 5 });
  });
  it('does not release a lease another holds', () => {
    expect(decideRelease(row('b', 5, 9000), { id: 'a', epoch: 4 }, 5000)).toBeUndefined();
    expect(holds(row('b', 5, 9000), { id: 'a', epoch: 4 })).toBe(false);
    expect(holds(row('a', 4, 0), { id: 'a', epoch: 4 })).toBe(true);
  });
  it('a follower names the leader and its address, or says there is none', () => {
    expect(followerMessage(row('b', 5, 9000), 5000)).toContain('b:7400');
    expect(followerMessage(row('b', 5, 9000), 9000)).toMatch(/no manager holds/);
  });
});

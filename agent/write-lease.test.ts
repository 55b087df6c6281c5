import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log';
import { WriteLease } from './write-lease';

const log = createLogger('test', 'silent');

// A lease on a clock the test moves, recording what it fenced.
function setup() {
  let t = 10_000;
  const fenced: string[] = [];
  const lease = new WriteLease(async (id) => void fenced.push(id), log, () => t);
  return { lease, fenced, advance: (ms: number) => (t += ms), at: () => t };
}

describe('WriteLease (fencing an isolated primary)', () => {

  it('fences the leased instances once no heartbeat was answered for the lease, counted from the send', async () => {
    const s = setup();
    s.lease.renew(s.at() - 500, { leaseMs: 4000, instanceIds: ['p1'] });
    s.advance(3400);
    await s.lease.check();
    expect(s.fenced).toEqual([]);
    s.advance(200); // 4100 ms since the heartbeat was sent
    await s.lease.check();
    expect(s.fenced).toEqual(['p1']);
    await s.lease.check();
    expect(s.fenced).toEqual(['p1']); // once
    expect(s.lease.isFenced('p1', true)).toBe(true);
  });

  it('renewed in time: nothing fenced; no lease or no instances: nothing fenced ever', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) {
      s.lease.renew(s.at(), { leaseMs: 4000, instanceIds: ['p1'] });
      s.advance(2000);
      await s.lease.check();
    }
    expect(s.fenced).toEqual([]);
    s.lease.renew(s.at(), { leaseMs: 0, instanceIds: ['p1'] });
    s.advance(60_000);
    await s.lease.check();
    s.lease.renew(s.at(), { leaseMs: 4000, instanceIds: [] });
    s.advance(60_000);
    await s.lease.check();
    expect(s.fenced).toEqual([]);
  });

  it('made writable again by the manager: the fenced mark goes, and a later expiry fences again', async () => {
    const s = setup();
    s.lease.renew(s.at(), { leaseMs: 1000, instanceIds: ['p1'] });
    s.advance(1500);
    await s.lease.check();
    expect(s.lease.isFenced('p1', false)).toBe(false);
    s.lease.renew(s.at(), { leaseMs: 1000, instanceIds: ['p1'] });
    s.advance(1500);
    await s.lease.check();
    expect(s.fenced).toEqual(['p1', 'p1']);
  });

  it('a failed fence is retried at the next check', async () => {
    let fail = true;
    let t = 0;
    const done: string[] = [];
    const lease = new WriteLease(async (id) => (fail ? Promise.reject(new Error('socket')) : void done.push(id)), log, () => t);
    lease.renew(0, { leaseMs: 100, instanceIds: ['p1'] });
    t = 200;
    await lease.check();
    expect(done).toEqual([]);
    fail = false;
    await lease.check();
    expect(done).toEqual(['p1']);
  });
});

describe('WriteLease: a cluster primary made writable is covered at once', () => {
  const open = (base: number, leased = true) => ({ readOnly: false, seq: 1, grantBaseMs: base, grantMs: 4000, leased });

  it('promoted, then its host cut off before any heartbeat answer named it: fenced when its grant runs out', async () => {
    const s = setup();
    s.lease.renew(s.at() - 1500, null); // no cluster primary on this node yet
    s.lease.applied('p2', open(s.at() - 1500));
    s.advance(2400);
    await s.lease.check();
    expect(s.fenced).toEqual([]);
    s.advance(200); // 4100 ms after the heartbeat the grant is based on
    await s.lease.check();
    expect(s.fenced).toEqual(['p2']);
  });

  it('covered while heartbeats are answered, by the lease once an answer names it; a standalone or a closed one is not covered', async () => {
    const s = setup();
    s.lease.applied('p2', open(s.at()));
    s.lease.applied('s1', open(s.at(), false));
    for (let i = 0; i < 4; i++) {
      s.advance(2000);
      s.lease.renew(s.at(), null); // answered, not named yet
      await s.lease.check();
    }
    expect(s.fenced).toEqual([]);
    s.lease.renew(s.at(), { leaseMs: 4000, instanceIds: ['p2'] });
    s.lease.applied('p3', open(s.at()));
    s.lease.applied('p3', { readOnly: true, seq: 2, grantBaseMs: 0, grantMs: 0 });
    s.advance(60_000);
    await s.lease.check();
    expect(s.fenced).toEqual(['p2']);
  });

  it('made writable again by the manager after a fence: fenced again by the next silence', async () => {
    const s = setup();
    s.lease.renew(s.at(), { leaseMs: 4000, instanceIds: ['p1'] });
    s.advance(4100);
    await s.lease.check();
    expect(s.fenced).toEqual(['p1']);
    s.lease.renew(s.at(), { leaseMs: 4000, instanceIds: ['p1'] });
    s.lease.applied('p1', open(s.at()));
    expect(s.lease.isFenced('p1', true)).toBe(false);
    s.advance(4100);
    await s.lease.check();
    expect(s.fenced).toEqual(['p1', 'p1']);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Store } from '../store/index';
import { Leadership } from './leadership';

const log = createLogger('test', 'silent');
const cfg = { leaseMs: 5000, renewMs: 1000 };
const who = (id: string) => ({ id, portalAddress: `${id}:7400`, registryAddress: `${id}:7402` });

// Two managers on one SQLite file, each with its own connection, as in production.
function twoManagers() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lease-'));
  const file = path.join(dir, 'berth.db');
  const stores = [Store.open(file), Store.open(file)];
  const lost: string[][] = [[], []];
  const [a, b] = ['a', 'b'].map((id, i) => new Leadership(stores[i]!.leaderLease, who(id), cfg, log, (why) => lost[i]!.push(why)));
  return { stores, a: a!, b: b!, lost };
}

describe('Leadership on one shared store', () => {
  it('one leader at a time; the next takes over only after expiry, with a higher epoch', () => {
    const { a, b } = twoManagers();
    expect(a.tryAcquire(1000)).toBe(true);
    expect(a.epoch).toBe(1);
    expect(b.tryAcquire(5999)).toBe(false);
    expect(b.leader()).toMatchObject({ holder: 'a', portalAddress: 'a:7400', epoch: 1 });
    expect(b.tryAcquire(6000)).toBe(true);
    expect(b.epoch).toBe(2);
  });

  it('a deposed leader steps down at its next renew', () => {
    const { a, b, lost } = twoManagers();
    a.tryAcquire(1000);
    b.tryAcquire(7000);
    a.renew(7001);
    expect(lost[0]).toEqual([expect.stringMatching(/held by b with epoch 2/)]);
    b.renew(7001);
    expect(lost[1]).toEqual([]);
  });

  it("a deposed leader's store writes are refused, in a transaction and in a group commit", async () => {
    const { stores, a, b, lost } = twoManagers();
    a.tryAcquire(1000);
    stores[0]!.fence(() => a.check());
    stores[0]!.tx(() => stores[0]!.tokens.exists('x'));
    b.tryAcquire(7000);
    expect(() => stores[0]!.tx(() => stores[0]!.tokens.exists('x'))).toThrow(/no longer the leader.*epoch 2/);
    await expect(stores[0]!.write(() => 1)).rejects.toThrow(/epoch 1\) is no longer the leader/);
    expect(lost[0]!.length).toBe(1);
  });

  it('a released lease is taken at once', () => {
    const { a, b } = twoManagers();
    a.tryAcquire(Date.now());
    a.release();
    expect(b.tryAcquire(Date.now())).toBe(true);
    expect(b.epoch).toBe(2);
  });
});

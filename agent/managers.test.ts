import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { LEADER_REGISTRY_METADATA } from '../src/rpc';
import { ManagerRing, nextManager } from './managers';

const err = (code: grpc.status, leader?: string) => {
  const metadata = new grpc.Metadata();
  if (leader) metadata.set(LEADER_REGISTRY_METADATA, leader);
  return Object.assign(new Error(`code ${code}`), { code, details: '', metadata });
};

describe('nextManager', () => {
  const list = ['a:1', 'b:1', 'c:1'];
  it('goes to the leader a follower named, when it is one of ours', () => {
    expect(nextManager(list, 0, 'c:1')).toBe(2);
  });
  it('goes round otherwise (not ours, none named, or the one that failed)', () => {
    expect(nextManager(list, 0, 'x:9')).toBe(1);
    expect(nextManager(list, 2, undefined)).toBe(0);
    expect(nextManager(list, 1, 'b:1')).toBe(2);
  });
});

describe('ManagerRing', () => {
  it('moves on after UNAVAILABLE, following the leader named; stays on other errors', async () => {
    const calls: string[] = [];
    const answers: Record<string, () => Promise<unknown>> = {
      'a:1': () => Promise.reject(err(grpc.status.UNAVAILABLE, 'c:1')),
      'b:1': () => Promise.reject(err(grpc.status.INVALID_ARGUMENT)),
      'c:1': () => Promise.resolve({ ok: true }),
    };
    const ring = new ManagerRing(Object.keys(answers), (addr) => ({ heartbeat: () => (calls.push(addr), answers[addr]!()) }) as never);
    const client = ring.client();
    await expect(client.heartbeat({})).rejects.toThrow();
    expect(ring.address).toBe('c:1');
    await expect(client.heartbeat({})).resolves.toEqual({ ok: true });
    expect(calls).toEqual(['a:1', 'c:1']);
  });
  it('a single manager is never left', () => {
    const ring = new ManagerRing(['a:1'], () => ({}) as never);
    ring.failed(err(grpc.status.UNAVAILABLE));
    expect(ring.address).toBe('a:1');
  });
});

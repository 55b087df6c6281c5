import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { LEADER_METADATA } from '../rpc';
import { followLeader } from './follow-leader';

const refusal = (leader?: string) => {
  const metadata = new grpc.Metadata();
  if (leader) metadata.set(LEADER_METADATA, leader);
  return Object.assign(new Error('follower'), { code: grpc.status.UNAVAILABLE, details: 'follower', metadata });
};

describe('followLeader', () => {
  it('calls the leader a follower names, with the same request, and stays there', async () => {
    const seen: string[] = [];
    const fake = (addr: string) => ({
      close: () => undefined,
      listNodes: async (req: unknown) => {
        seen.push(`${addr} ${JSON.stringify(req)}`);
        if (addr === 'follower:1') throw refusal('leader:1');
        return { from: addr };
      },
    });
    const c = followLeader(fake('follower:1'), fake);
    expect(await c.listNodes({ requestId: 'r1' })).toEqual({ from: 'leader:1' });
    expect(await c.listNodes({})).toEqual({ from: 'leader:1' });
    expect(seen).toEqual(['follower:1 {"requestId":"r1"}', 'leader:1 {"requestId":"r1"}', 'leader:1 {}']);
  });
  it('passes on a refusal that names no leader', async () => {
    const c = followLeader({ close: () => undefined, listNodes: async (_req: unknown) => Promise.reject(refusal()) }, () => { throw new Error('not dialled'); });
    await expect(c.listNodes({})).rejects.toThrow('follower');
  });
});

import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { affinity } from './affinity';

describe('anti-affinity filter', () => {
  const n = testNode('a', { antiAffinityGroups: new Map([['orders', 1]]) });
  it('refuses a host that already holds a member of the cluster, even when relaxing soft rules', () => {
    expect(affinity.filter(n, { ...smallReq, antiAffinityGroup: 'orders' }, ctx())).toBe('cluster member already on host');
    expect(affinity.filter(n, { ...smallReq, antiAffinityGroup: 'orders' }, ctx({ relaxSoft: true }))).toBe('cluster member already on host');
  });
  it('lets other clusters and cluster-less instances share the host', () => {
    expect(affinity.filter(n, { ...smallReq, antiAffinityGroup: 'billing' }, ctx())).toBeUndefined();
    expect(affinity.filter(n, smallReq, ctx())).toBeUndefined();
    expect(affinity.filter(testNode('b'), { ...smallReq, antiAffinityGroup: 'orders' }, ctx())).toBeUndefined();
  });
});

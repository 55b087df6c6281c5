import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { topology } from './topology';

describe('topology filter', () => {
  const r1 = testNode('a', { labels: { rack: 'r1' } });
  const r2 = testNode('b', { labels: { rack: 'r2' } });
  const bare = testNode('c');
  const hard = { ...smallReq, antiAffinityGroup: 'orders', spreadOver: { key: 'rack', soft: false } };
  const occupied = ctx({ occupiedDomains: new Set(['r1']) });

  it('refuses a node in a rack that already holds a member', () => {
    expect(topology.filter(r1, hard, occupied)).toBe('cluster member already in rack');
    expect(topology.filter(r2, hard, occupied)).toBeUndefined();
  });
  it('refuses a node without the label: its rack is unknown', () => {
    expect(topology.filter(bare, hard, occupied)).toBe('no rack label');
  });
  it('soft spreading gives way when relaxed; hard never does', () => {
    const soft = { ...hard, spreadOver: { key: 'rack', soft: true } };
    expect(topology.filter(r1, soft, occupied)).toBe('cluster member already in rack');
    expect(topology.filter(r1, soft, { ...occupied, relaxSoft: true })).toBeUndefined();
    expect(topology.filter(r1, hard, { ...occupied, relaxSoft: true })).toBe('cluster member already in rack');
  });
  it('does nothing without a cluster', () => {
    expect(topology.filter(r1, { ...smallReq, spreadOver: { key: 'rack', soft: false } }, occupied)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { ctx, G, smallReq, testNode } from '../scheduler/testnode';
import { placeMembers } from './placement';

const req = { ...smallReq, antiAffinityGroup: 'cluster:orders' };

describe('placeMembers', () => {
  it('puts every member on a host of its own', () => {
    const nodes = ['a', 'bb', 'ccc'].map((n) => testNode(n));
    const r = placeMembers(nodes, req, 3, ctx());
    expect(r.ok).toBe(true);
    if (r.ok) expect(new Set(r.placements.map((p) => p.node)).size).toBe(3);
    // The originals are untouched: the caller reserves for real.
    expect(nodes.every((n) => n.instanceCount === 0 && !n.antiAffinityGroups)).toBe(true);
  });

  it('refuses with per-filter reasons when fewer hosts fit than members', () => {
    const nodes = [testNode('a'), testNode('bb'), testNode('ccc', { capacity: { cpuMillis: 8000, memoryBytes: 1 * G } })];
    const r = placeMembers(nodes, req, 3, ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.placed).toBe(2);
      expect(r.message).toBe('2 of 3 members can be placed on distinct hosts; member 3 of 3: 0/3 nodes can take it: 2 cluster member already on host, 1 insufficient memory');
    }
  });

  it('counts members already in the cluster (an added replica)', () => {
    const nodes = [testNode('a', { antiAffinityGroups: new Map([['cluster:orders', 1]]) }), testNode('bb')];
    const r = placeMembers(nodes, req, 1, ctx());
    expect(r.ok && r.placements[0]!.node).toBe('bb');
    expect(placeMembers([nodes[0]!], req, 1, ctx())).toMatchObject({ ok: false, message: /the member: 0\/1 nodes can take it: 1 cluster member already on host/ });
  });

  it('spreads over zones when asked: hard refuses a second member in a zone, soft falls back', () => {
    const nodes = [testNode('a', { labels: { zone: 'z1' } }), testNode('bb', { labels: { zone: 'z1' } }), testNode('ccc', { labels: { zone: 'z2' } })];
    const hard = placeMembers(nodes, { ...req, spreadOver: { key: 'zone', soft: false } }, 3, ctx());
    expect(hard).toMatchObject({ ok: false, placed: 2 });
    const two = placeMembers(nodes, { ...req, spreadOver: { key: 'zone', soft: false } }, 2, ctx());
    expect(two.ok && new Set(two.placements.map((p) => nodes.find((n) => n.name === p.node)!.labels.zone))).toEqual(new Set(['z1', 'z2']));
    const soft = placeMembers(nodes, { ...req, spreadOver: { key: 'zone', soft: true } }, 3, ctx());
    expect(soft).toMatchObject({ ok: true, relaxedSoft: true });
  });

  it('honours label constraints for every member', () => {
    const nodes = [testNode('a', { labels: { disk: 'ssd' } }), testNode('bb', { labels: { disk: 'hdd' } }), testNode('ccc', { labels: { disk: 'ssd' } })];
    const r = placeMembers(nodes, { ...req, constraints: [{ key: 'disk', op: 'in', values: ['ssd'], soft: false, text: 'disk=ssd' }] }, 2, ctx());
    expect(r.ok && r.placements.map((p) => p.node).sort()).toEqual(['a', 'ccc']);
  });
});

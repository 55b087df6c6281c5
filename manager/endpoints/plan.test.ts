import { describe, expect, it } from 'vitest';
import type { EndpointRow } from '../store/endpoints';
import { desiredFor, RO_SLOTS, type Member } from './desired';
import { planEndpoints, routerNodes, type PlanNode } from './plan';

const node = (name: string, labels: Record<string, string> = {}, busyPorts: number[] = []): PlanNode => ({ name, labels, cordoned: false, busyPorts });
const row = (e: Partial<EndpointRow> & Pick<EndpointRow, 'name' | 'kind' | 'node' | 'port'>): EndpointRow => ({ clusterName: '', instanceId: '', createdAt: '', ...e });

describe('endpoint allocation', () => {
  it('router nodes: the labelled ones, or every node when none is labelled', () => {
    expect(routerNodes([node('a'), node('b', { router: 'true' })]).map((n) => n.name)).toEqual(['b']);
    expect(routerNodes([node('a'), node('b')]).map((n) => n.name)).toEqual(['a', 'b']);
  });

  it('rw and ro per cluster and one per standalone instance, spread over routers, skipping busy ports', () => {
    const p = planEndpoints({ clusters: ['c1'], standalone: ['i-0123456789'], nodes: [node('a', {}, [4651]), node('b')], endpoints: [], range: [4651, 4699] });
    expect(p.add).toEqual([
      { name: 'c-c1-rw', kind: 'rw', clusterName: 'c1', instanceId: '', node: 'a', port: 4652 },
      { name: 'c-c1-ro', kind: 'ro', clusterName: 'c1', instanceId: '', node: 'b', port: 4651 },
      { name: 'i-0123456789', kind: 'instance', clusterName: '', instanceId: 'i-0123456789', node: 'a', port: 4653 },
      // Each served by a second router on the other node.
      { name: 'c-c1-rw-2', kind: 'rw', clusterName: 'c1', instanceId: '', node: 'b', port: 4652 },
      { name: 'c-c1-ro-2', kind: 'ro', clusterName: 'c1', instanceId: '', node: 'a', port: 4654 },
      { name: 'i-0123456789-2', kind: 'instance', clusterName: '', instanceId: 'i-0123456789', node: 'b', port: 4653 },
    ]);
    expect(p.remove).toEqual([]);
  });

  it('a second router never on the node of the first: added when a second router node appears, none with one router node, unplaced when only the first\'s node has ports', () => {
    const first = row({ name: 'c-c1-rw', kind: 'rw', clusterName: 'c1', node: 'b', port: 4651 });
    const ro = row({ name: 'c-c1-ro', kind: 'ro', clusterName: 'c1', node: 'b', port: 4652 });
    // One router node: the firsts only, and no warning.
    const one = planEndpoints({ clusters: ['c1'], standalone: [], nodes: [node('b')], endpoints: [first, ro], range: [4651, 4699] });
    expect(one).toEqual({ add: [], remove: [], unplaced: [] });
    // A router node joins: the seconds go there, whatever the load.
    const two = planEndpoints({ clusters: ['c1'], standalone: [], nodes: [node('a', {}, [4651]), node('b')], endpoints: [first, ro], range: [4651, 4699] });
    expect(two.add.map((e) => [e.name, e.node, e.port])).toEqual([['c-c1-rw-2', 'a', 4652], ['c-c1-ro-2', 'a', 4653]]);
    // The other node has no free port: unplaced, never on the first's node.
    const full = planEndpoints({ clusters: ['c1'], standalone: [], nodes: [node('a', {}, [4651, 4652]), node('b')], endpoints: [first, ro], range: [4651, 4652] });
    expect(full.add).toEqual([]);
    expect(full.unplaced).toEqual([
      { name: 'c-c1-rw-2', reason: 'no free endpoint port in 4651-4652 on any router node but b' },
      { name: 'c-c1-ro-2', reason: 'no free endpoint port in 4651-4652 on any router node but b' },
    ]);
    // Both rows go with their cluster.
    expect(planEndpoints({ clusters: [], standalone: [], nodes: [node('a'), node('b')], endpoints: [first, { ...first, name: 'c-c1-rw-2', node: 'a' }], range: [4651, 4699] }).remove).toEqual(['c-c1-rw', 'c-c1-rw-2']);
  });

  it('desired routing: the second router of an endpoint routes exactly as the first', () => {
    const rows = [row({ name: 'c-c1-rw', kind: 'rw', clusterName: 'c1', node: 'a', port: 4651 }), row({ name: 'c-c1-rw-2', kind: 'rw', clusterName: 'c1', node: 'b', port: 4652 })];
    const members: Member[] = [{ id: 'p', host: '127.0.0.51', port: 3651, clusterName: 'c1', role: 'primary', fenced: false, running: true, lagSeconds: 0 }];
    const a = desiredFor('a', { endpoints: rows, members, overrides: new Map([['c1', 'p']]), maxLagSeconds: 10 });
    const b = desiredFor('b', { endpoints: rows, members, overrides: new Map([['c1', 'p']]), maxLagSeconds: 10 });
    expect(a.map((f) => [f.name, f.port])).toEqual([['c-c1-rw', 4651]]);
    expect(b.map((f) => [f.name, f.port])).toEqual([['c-c1-rw-2', 4652]]);
    expect(b[0]!.servers).toEqual(a[0]!.servers);
  });

  it('keeps what exists, frees the endpoints of what is gone, says what cannot be placed', () => {
    const have = [row({ name: 'c-c1-rw', kind: 'rw', clusterName: 'c1', node: 'a', port: 4651 }), row({ name: 'c-gone-rw', kind: 'rw', clusterName: 'gone', node: 'a', port: 4652 })];
    const p = planEndpoints({ clusters: ['c1'], standalone: [], nodes: [node('a')], endpoints: have, range: [4651, 4652] });
    expect(p.remove).toEqual(['c-gone-rw']);
    // Freed and taken again in the same transaction (the router gets both changes in one push).
    expect(p.add).toEqual([{ name: 'c-c1-ro', kind: 'ro', clusterName: 'c1', instanceId: '', node: 'a', port: 4652 }]);
    const full = planEndpoints({ clusters: ['c1'], standalone: [], nodes: [node('a')], endpoints: have.slice(0, 1), range: [4651, 4651] });
    expect(full.unplaced).toEqual([{ name: 'c-c1-ro', reason: 'no free endpoint port in 4651-4651 on any router node' }]);
    expect(planEndpoints({ clusters: ['c1'], standalone: [], nodes: [], endpoints: [], range: [4651, 4652] }).unplaced[0]!.reason).toBe('no router node');
  });
});

const m = (id: string, role: string, extra: Partial<Member> = {}): Member => ({ id, host: '127.0.0.51', port: Number(id.slice(-4)), clusterName: 'c1', role, fenced: false, running: true, lagSeconds: 0, ...extra });
const eps = [row({ name: 'c-c1-rw', kind: 'rw', clusterName: 'c1', node: 'a', port: 4651 }), row({ name: 'c-c1-ro', kind: 'ro', clusterName: 'c1', node: 'a', port: 4652 })];

describe('desired routing', () => {
  it('rw to the unfenced primary; ro to replicas under the lag threshold, the primary as backup', () => {
    const f = desiredFor('a', { endpoints: eps, members: [m('p-3651', 'primary'), m('r-3652', 'replica'), m('r-3653', 'replica', { lagSeconds: 30 }), m('r-3654', 'replica', { lagSeconds: undefined })], overrides: new Map(), maxLagSeconds: 10 });
    expect(f[0]!.servers).toEqual([{ name: 's0', host: '127.0.0.51', port: 3651, ready: true, backup: false }]);
    const ro = f[1]!.servers;
    expect(ro).toHaveLength(RO_SLOTS + 1);
    expect(ro.filter((s) => s.ready && !s.backup).map((s) => s.port)).toEqual([3652]);
    expect(ro.at(-1)).toEqual({ name: 'p', host: '127.0.0.51', port: 3651, ready: true, backup: true });
  });

  it('an operation override wins: closed (null) or to its target; a fenced primary gets nothing', () => {
    const members = [m('p-3651', 'primary'), m('r-3652', 'replica')];
    expect(desiredFor('a', { endpoints: eps, members, overrides: new Map([['c1', null]]), maxLagSeconds: 10 })[0]!.servers[0]!.ready).toBe(false);
    expect(desiredFor('a', { endpoints: eps, members, overrides: new Map([['c1', 'r-3652']]), maxLagSeconds: 10 })[0]!.servers[0]!.port).toBe(3652);
    expect(desiredFor('a', { endpoints: eps, members: [m('p-3651', 'primary', { fenced: true })], overrides: new Map(), maxLagSeconds: 10 })[0]!.servers[0]!.ready).toBe(false);
    expect(desiredFor('b', { endpoints: eps, members, overrides: new Map(), maxLagSeconds: 10 })).toEqual([]);
  });
});

describe('desired routing of a standalone instance', () => {
  const inst = [row({ name: 'i-0123456789', kind: 'instance', instanceId: 'i-0123456789', node: 'a', port: 4653 })];
  const members = [{ ...m('i-0123456789', ''), clusterName: '', port: 3651 }];
  it('follows the store, or a migration: closed, then its target address before it is writable', () => {
    expect(desiredFor('a', { endpoints: inst, members, overrides: new Map(), maxLagSeconds: 10 })[0]!.servers[0]).toMatchObject({ port: 3651, ready: true });
    expect(desiredFor('a', { endpoints: inst, members, overrides: new Map([['i-0123456789', null]]), maxLagSeconds: 10 })[0]!.servers[0]!.ready).toBe(false);
    expect(desiredFor('a', { endpoints: inst, members, overrides: new Map([['i-0123456789', { host: '127.0.0.52', port: 3670 }]]), maxLagSeconds: 10 })[0]!.servers[0]).toMatchObject({ host: '127.0.0.52', port: 3670, ready: true });
  });
});

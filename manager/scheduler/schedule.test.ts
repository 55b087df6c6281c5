import { describe, expect, it } from 'vitest';
import { parseConstraints } from './constraints';
import { explain, plan, schedule } from './schedule';
import { binpack } from './strategies/binpack';
import { DEFAULT_SCHEDULER_CONFIG, type NodeSnapshot } from './types';
import { ctx as makeCtx, G, NOW as now, smallReq as req, testNode as node } from './testnode';

const ctx = makeCtx();

describe('schedule', () => {
  it('spread picks the least allocated node', () => {
    const busy = node('a', { allocated: { cpuMillis: 4000, memoryBytes: 16 * G }, instanceCount: 4 });
    const idle = node('b');
    const r = schedule([busy, idle], req, ctx);
    expect(r.ok && r.placement.node).toBe('b');
  });

  it('picks the lowest free port and the disk with most room', () => {
    const n = node('a', {
      usedPorts: new Set([3301, 3302]),
      disks: [
        { path: '/data1', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 90 * G },
        { path: '/data2', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 10 * G },
      ],
    });
    const r = schedule([n], req, ctx);
    expect(r).toMatchObject({ ok: true, placement: { node: 'a', port: 3303, diskPath: '/data2' } });
  });

  it('refuses a disk whose real free space is short even when unreserved space is not', () => {
    const n = node('a', { disks: [{ path: '/data1', totalBytes: 500 * G, freeBytes: 5 * G, allocatedBytes: 0 }] });
    const r = schedule([n], req, ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(explain(r)).toBe('0/1 nodes can take it: 1 no data disk with 20G free');
  });

  it('explains every rejection, counted per reason', () => {
    const nodes = [
      node('full', { allocated: { cpuMillis: 0, memoryBytes: 31 * G } }),
      node('also-full', { allocated: { cpuMillis: 0, memoryBytes: 31 * G } }),
      node('cordoned', { cordoned: true }),
      node('down', { lastHeartbeatMs: now - 60_000 }),
      node('noports', { portMin: 3301, portMax: 3301, usedPorts: new Set([3301]) }),
      node('busy-cpu', { allocated: { cpuMillis: 7500, memoryBytes: 0 } }),
    ];
    const r = schedule(nodes, req, ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(explain(r)).toBe('0/6 nodes can take it: 2 insufficient memory, 1 insufficient cpu, 1 no free port, 1 node cordoned, 1 node down (no heartbeat)');
    }
  });

  it('honours overcommit', () => {
    const n = node('a', { allocated: { cpuMillis: 8000, memoryBytes: 0 } });
    expect(schedule([n], req, ctx).ok).toBe(false);
    expect(schedule([n], req, { now, config: { ...DEFAULT_SCHEDULER_CONFIG, cpuOvercommit: 2 } }).ok).toBe(true);
  });

  it('pins to the requested node', () => {
    const r = schedule([node('a'), node('b', { allocated: { cpuMillis: 6000, memoryBytes: 0 } })], { ...req, node: 'b' }, ctx);
    expect(r.ok && r.placement.node).toBe('b');
  });

  it('breaks ties by fewer instances, then deterministically', () => {
    const a = node('a', { instanceCount: 3 });
    const b = node('b', { instanceCount: 1 });
    const r1 = schedule([a, b], req, ctx);
    expect(r1.ok && r1.placement.node).toBe('b');
    const x = schedule([node('x'), node('y')], req, ctx);
    const y = schedule([node('y'), node('x')], req, ctx);
    expect(x.ok && y.ok && x.placement.node === y.placement.node).toBe(true);
  });

  it('says so when no node has registered', () => {
    const r = schedule([], req, ctx);
    expect(!r.ok && explain(r)).toBe('no nodes have registered');
  });
});

describe('schedule: constraints, anti-affinity, strategies, dry run', () => {
  const zoned = (name: string, zone: string, over: Partial<NodeSnapshot> = {}) => node(name, { labels: { zone, rack: `r-${name}` }, ...over });

  it('a hard constraint leaves nowhere to go; a soft one falls back to any node', () => {
    const nodes = [zoned('a', 'a'), zoned('b', 'b')];
    const hard = schedule(nodes, { ...req, constraints: parseConstraints(['zone=c']) }, ctx);
    expect(!hard.ok && explain(hard)).toBe('0/2 nodes can take it: 2 constraint zone=c not met');
    const soft = schedule(nodes, { ...req, constraints: parseConstraints(['~zone=c']) }, ctx);
    expect(soft).toMatchObject({ ok: true, relaxedSoft: true });
  });

  it('a soft constraint is honoured while some node meets it, even against the strategy', () => {
    const nodes = [zoned('a', 'a'), zoned('b', 'b', { allocated: { cpuMillis: 6000, memoryBytes: 20 * G } })];
    const r = schedule(nodes, { ...req, constraints: parseConstraints(['~zone=b']) }, ctx);
    expect(r).toMatchObject({ ok: true, relaxedSoft: false, placement: { node: 'b' } });
  });

  it('a relaxed soft preference never relaxes hard rules', () => {
    const nodes = [zoned('a', 'a', { cordoned: true }), zoned('b', 'b', { allocated: { cpuMillis: 8000, memoryBytes: 0 } })];
    const r = schedule(nodes, { ...req, constraints: parseConstraints(['~zone=c']) }, ctx);
    expect(!r.ok && explain(r)).toBe('0/2 nodes can take it: 1 insufficient cpu, 1 node cordoned');
  });

  it('counts per filter, as in the issue', () => {
    const nodes = [
      ...Array.from({ length: 5 }, (_, i) => node(`m${i}`, { allocated: { cpuMillis: 0, memoryBytes: 31 * G } })),
      ...Array.from({ length: 4 }, (_, i) => node(`d${i}`, { disks: [{ path: '/data1', totalBytes: 500 * G, freeBytes: 100 * G, allocatedBytes: 0 }] })),
      ...Array.from({ length: 3 }, (_, i) => node(`c${i}`, { antiAffinityGroups: new Map([['orders', 1]]) })),
    ];
    const r = schedule(nodes, { ...req, diskBytes: 200 * G, antiAffinityGroup: 'orders' }, ctx);
    expect(!r.ok && explain(r)).toBe('0/12 nodes can take it: 5 insufficient memory, 4 no data disk with 200G free, 3 cluster member already on host');
  });

  it('spreads a cluster over zones: hard refuses a second member in a zone, soft falls back', () => {
    const nodes = [zoned('a1', 'a', { antiAffinityGroups: new Map([['orders', 1]]) }), zoned('a2', 'a'), zoned('b1', 'b', { allocated: { cpuMillis: 7000, memoryBytes: 0 } })];
    const hard = { ...req, antiAffinityGroup: 'orders', spreadOver: { key: 'zone', soft: false } };
    expect(schedule(nodes, hard, ctx)).toMatchObject({ ok: true, placement: { node: 'b1' } });
    const full = nodes.map((n) => (n.name === 'b1' ? { ...n, cordoned: true } : n));
    const r = schedule(full, hard, ctx);
    expect(!r.ok && explain(r)).toBe('0/3 nodes can take it: 1 cluster member already in zone, 1 cluster member already on host, 1 node cordoned');
    expect(schedule(full, { ...hard, spreadOver: { key: 'zone', soft: true } }, ctx)).toMatchObject({ ok: true, relaxedSoft: true, placement: { node: 'a2' } });
  });

  it('takes the strategy from the config or the caller', () => {
    const busy = node('busy', { allocated: { cpuMillis: 4000, memoryBytes: 16 * G }, instanceCount: 4 });
    const idle = node('idle');
    expect(schedule([busy, idle], req, ctx)).toMatchObject({ placement: { node: 'idle' } });
    expect(schedule([busy, idle], req, { now, config: { ...DEFAULT_SCHEDULER_CONFIG, strategy: 'binpack' } })).toMatchObject({ placement: { node: 'busy' } });
    expect(schedule([busy, idle], req, ctx, { strategy: binpack })).toMatchObject({ placement: { node: 'busy' } });
  });

  it('plan gives every node its verdict and the same placement schedule() makes', () => {
    const nodes = [node('ok1'), node('ok2', { allocated: { cpuMillis: 2000, memoryBytes: 0 } }), node('full', { allocated: { cpuMillis: 0, memoryBytes: 31 * G } }), node('cord', { cordoned: true })];
    const { result, verdicts } = plan(nodes, req, ctx);
    expect(verdicts).toEqual([
      { node: 'ok1', score: expect.closeTo(((7 / 8 + 30 / 32) / 2) * 100, 6) },
      { node: 'ok2', score: expect.closeTo(((5 / 8 + 30 / 32) / 2) * 100, 6) },
      { node: 'full', filter: 'memory', reason: 'insufficient memory' },
      { node: 'cord', filter: 'ready', reason: 'node cordoned' },
    ]);
    expect(result).toEqual(schedule(nodes, req, ctx));
    expect(result).toMatchObject({ ok: true, placement: { node: 'ok1' } });
  });

  it('plan shows the relaxed pass when soft rules were dropped', () => {
    const { result, verdicts } = plan([zoned('a', 'a')], { ...req, constraints: parseConstraints(['~zone=b']) }, ctx);
    expect(result).toMatchObject({ ok: true, relaxedSoft: true });
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]!.score).toBeGreaterThan(0);
  });

  it('max instances per node comes from the config', () => {
    const r = schedule([node('a', { instanceCount: 2 })], req, { now, config: { ...DEFAULT_SCHEDULER_CONFIG, maxInstancesPerNode: 2 } });
    expect(!r.ok && explain(r)).toBe('0/1 nodes can take it: 1 node at its instance limit');
  });
});

import { describe, expect, it } from 'vitest';
import { explain, schedule } from './schedule';
import { DEFAULT_SCHEDULER_CONFIG, type NodeSnapshot, type PlacementRequest } from './types';

const G = 1024 ** 3;
const now = 1_000_000;
const ctx = { now, config: DEFAULT_SCHEDULER_CONFIG };

function node(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    host: `127.0.0.${name.length}`,
    labels: {},
    cordoned: false,
    lastHeartbeatMs: now,
    capacity: { cpuMillis: 8000, memoryBytes: 32 * G },
    allocated: { cpuMillis: 0, memoryBytes: 0 },
    disks: [{ path: '/data1', totalBytes: 500 * G, freeBytes: 500 * G, allocatedBytes: 0 }],
    portMin: 3301,
    portMax: 3399,
    usedPorts: new Set(),
    instanceCount: 0,
    ...over,
  };
}

const req: PlacementRequest = { cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 20 * G };

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

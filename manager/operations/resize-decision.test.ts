import { describe, expect, it } from 'vitest';
import { ctx, G, testNode } from '../scheduler/testnode';
import { decideResize, diskShrinkError, mergeShape, nodeWithout, type CurrentInstance } from './resize-decision';

const M = 1024 ** 2;
const inst: CurrentInstance = { id: 'i-1', node: 'a', diskPath: '/data1', port: 3301, cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G, antiAffinityGroup: '' };

// Node a holds the instance (and 24G of others' memory) out of 32G.
const nodeA = () =>
  testNode('a', {
    allocated: { cpuMillis: 2000, memoryBytes: 28 * G },
    disks: [
      { path: '/data1', totalBytes: 100 * G, freeBytes: 60 * G, allocatedBytes: 80 * G },
      { path: '/data2', totalBytes: 500 * G, freeBytes: 500 * G, allocatedBytes: 0 },
    ],
    usedPorts: new Set([3301, 3302]),
    freePort: 3303,
    instanceCount: 2,
  });

const decide = (next: Partial<typeof inst>, mode: 'auto' | 'in-place' | 'migrate' = 'auto', nodes = [nodeA(), testNode('b')], used = 5 * G) =>
  decideResize({ mode, instance: inst, next: mergeShape(inst, next), nodes, usedDiskBytes: used, target: {}, ctx: ctx() });

describe('resize decision', () => {
  it('takes the instance out of its node: CPU, memory, its disk, its port, its group', () => {
    const n = nodeWithout(nodeA(), { ...inst, antiAffinityGroup: 'g' }, 5 * G);
    expect(n.allocated).toEqual({ cpuMillis: 1000, memoryBytes: 24 * G });
    expect(n.disks).toEqual([{ path: '/data1', totalBytes: 100 * G, freeBytes: 65 * G, allocatedBytes: 60 * G }]);
    expect(n.usedPorts.has(3301)).toBe(false);
    expect(n.freePort).toBe(3301);
    // The original is untouched.
    expect(nodeA().allocated.memoryBytes).toBe(28 * G);
  });

  it('in place when the node passes every filter without the instance', () => {
    expect(decide({ memoryBytes: 8 * G })).toMatchObject({ kind: 'in-place' });
    // Its own disk has 40G unreserved (20G of it its own): 40G fits, 41G does not, although
    // another disk of the node has room (in place, the data does not move).
    expect(decide({ diskBytes: 40 * G }).kind).toBe('in-place');
    const d = decide({ diskBytes: 41 * G });
    expect(d).toMatchObject({ kind: 'migrate' });
    expect(d.reason).toMatch(/disk: no data disk with 41G free/);
  });

  it('migrates when the node cannot, to the node the scheduler picks (never the source)', () => {
    const d = decide({ memoryBytes: 9 * G });
    expect(d.kind).toBe('migrate');
    if (d.kind !== 'migrate') return;
    expect(d.placement.node).toBe('b');
    expect(d.placement.port).toBe(3301);
    expect(d.reason).toMatch(/memory/);
    expect(decide({ memoryBytes: 9 * G }, 'in-place')).toMatchObject({ kind: 'refused' });
    expect(decide({ memoryBytes: 9 * G }, 'auto', [nodeA()])).toMatchObject({ kind: 'refused' });
    expect(decide({ memoryBytes: 40 * G }).reason).toMatch(/no other node can take it: 0\/1 nodes can take it: 1 insufficient memory/);
  });

  it('keeps anti-affinity when choosing the target', () => {
    const b = testNode('b', { antiAffinityGroups: new Map([['g', 1]]) });
    const d = decideResize({ mode: 'migrate', instance: { ...inst, antiAffinityGroup: 'g' }, next: inst, nodes: [nodeA(), b, testNode('c')], usedDiskBytes: 0, target: {}, ctx: ctx() });
    expect(d.kind === 'migrate' && d.placement.node).toBe('c');
  });

  it('the current shape is a no-op, except when a migration is asked for', () => {
    expect(decide({}).kind).toBe('none');
    expect(decide({}, 'migrate').kind).toBe('migrate');
  });

  it('a disk shrinks only down to what is used plus headroom', () => {
    expect(diskShrinkError(inst, { ...inst, diskBytes: 10 * G }, 5 * G)).toBeUndefined();
    expect(diskShrinkError(inst, { ...inst, diskBytes: 5 * G }, 5 * G)).toMatch(/uses 5368709120 bytes/);
    expect(diskShrinkError(inst, { ...inst, diskBytes: 200 * M }, 0)).toMatch(/uses 0 bytes/);
  });
});

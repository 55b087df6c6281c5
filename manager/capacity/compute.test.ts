import { describe, expect, it } from 'vitest';
import { UsageMap } from '../state/usage';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';
import type { NodeRow } from '../store/nodes';
import { computeCapacity } from './compute';

const G = 1024 ** 3;
const now = 1_000_000_000;

export function nodeRow(name: string, over: Partial<NodeRow> = {}): NodeRow {
  return {
    name,
    agentAddress: `${name}:7401`,
    host: '127.0.0.1',
    labels: {},
    cpuMillis: 8000,
    memoryBytes: 32 * G,
    portMin: 3301,
    portMax: 3310,
    busyPorts: [],
    cordoned: false,
    agentVersion: '',
    dockerVersion: '',
    registeredAt: '',
    lastHeartbeatMs: now,
    disks: [{ path: '/data1', totalBytes: 500 * G, freeBytes: 400 * G }],
    ...over,
  };
}

let seq = 0;
export function inst(node: string, over: Partial<InstanceRow> = {}): InstanceRow {
  seq++;
  return {
    id: `i-${seq.toString().padStart(10, '0')}`,
    name: `db${seq}`,
    serverId: seq,
    node,
    diskPath: '/data1',
    port: 3300 + seq,
    cpuMillis: 1000,
    memoryBytes: 4 * G,
    diskBytes: 50 * G,
    image: 'x',
    state: 'running',
    flavor: '',
    version: '',
    containerId: '',
    adminUser: 'admin',
    adminPassword: 'p',
    message: '',
    cluster: over.antiAffinityGroup ?? over.cluster ?? '',
    antiAffinityGroup: over.antiAffinityGroup ?? over.cluster ?? '',
    clusterName: '',
    clusterRole: '',
    fenced: false,
    createdAt: '',
    updatedAt: '',
    ...over,
  };
}

// A known fleet: zone a has a1 (rack r1, two instances) and a2 (rack r2, cordoned, one
// instance); zone b has b1 (down, two disks, no instances).
function fleet() {
  const nodes = [
    nodeRow('a1', { labels: { zone: 'a', rack: 'r1' } }),
    nodeRow('a2', { labels: { zone: 'a', rack: 'r2' }, cordoned: true, cpuMillis: 4000, memoryBytes: 16 * G }),
    nodeRow('b1', {
      labels: { zone: 'b', rack: 'r1' },
      lastHeartbeatMs: now - 60_000,
      disks: [
        { path: '/data1', totalBytes: 100 * G, freeBytes: 90 * G },
        { path: '/data2', totalBytes: 100 * G, freeBytes: 5 * G },
      ],
    }),
  ];
  const instances = [
    inst('a1', { cpuMillis: 2000, memoryBytes: 8 * G, diskBytes: 100 * G }),
    inst('a1', { cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 50 * G, state: 'stopped' }),
    inst('a2', { cpuMillis: 500, memoryBytes: 2 * G, diskBytes: 20 * G }),
  ];
  const usage = new UsageMap();
  const u = (id: string, node: string, cpu: number, mem: number, disk: number) =>
    usage.set(id, { node, usedCpuMillis: cpu, usedMemoryBytes: mem, usedDiskBytes: disk, mysqldUnresponsive: false, measuredAtMs: now, receivedAtMs: now });
  u(instances[0]!.id, 'a1', 300, 5 * G, 30 * G);
  u(instances[1]!.id, 'a1', 0, 0, 10 * G);
  u(instances[2]!.id, 'a2', 100, 1 * G, 2 * G);
  return { snapshot: Snapshot.fromStore(nodes, instances), instances, usage };
}

describe('computeCapacity on a known fleet', () => {
  const { snapshot, instances, usage } = fleet();
  const r = computeCapacity(snapshot.nodes(), instances, usage, DEFAULT_SCHEDULER_CONFIG, now);
  const node = (n: string) => r.nodes.find((x) => x.name === n)!;

  it('per node: capacity, allocated, used, free and allocation percentage', () => {
    expect(node('a1').cpu).toEqual({ capacity: 8000, allocated: 3000, used: 300, free: 5000, allocationPct: 37.5, overcommit: 1 });
    expect(node('a1').memory).toEqual({ capacity: 32 * G, allocated: 12 * G, used: 5 * G, free: 20 * G, allocationPct: 37.5, overcommit: 1 });
    // disk: used is the filesystem's (total - free), free what can still be reserved.
    expect(node('a1').disk).toEqual({ capacity: 500 * G, allocated: 150 * G, used: 100 * G, free: 350 * G, allocationPct: 30, overcommit: 1 });
    expect(node('a1').disks[0]).toMatchObject({ path: '/data1', instancesUsedBytes: 40 * G, allocatableBytes: 350 * G, freePct: 80 });
    expect(node('a1').instances).toEqual({ total: 2, byState: { running: 1, stopped: 1 } });
    expect(node('a1')).toMatchObject({ zone: 'a', rack: 'r1', state: 'ready', cordoned: false, schedulable: true });
  });

  it('a disk whose real free space is short offers only that', () => {
    const b1 = node('b1');
    expect(b1.disks.map((d) => d.allocatableBytes)).toEqual([90 * G, 5 * G]);
    expect(b1).toMatchObject({ state: 'down', schedulable: false });
  });

  it('groups by zone and rack; free counts only nodes that take new instances', () => {
    expect(r.fleet.nodes).toEqual({ total: 3, ready: 2, down: 1, cordoned: 1 });
    expect(r.fleet.cpu).toEqual({ capacity: 20_000, allocated: 3500, used: 400, free: 5000, allocationPct: 17.5, overcommit: 1 });
    expect(r.fleet.memory.capacity).toBe(80 * G);
    expect(r.fleet.memory.free).toBe(20 * G); // a2 is cordoned, b1 down
    expect(r.fleet.instances).toEqual({ total: 3, byState: { running: 2, stopped: 1 } });
    expect(r.zones.map((z) => [z.zone, z.nodes.total, z.cpu.capacity, z.instances.total])).toEqual([
      ['a', 2, 12_000, 3],
      ['b', 1, 8000, 0],
    ]);
    expect(r.racks.map((x) => [x.zone, x.rack, x.nodes.total])).toEqual([
      ['a', 'r1', 1],
      ['a', 'r2', 1],
      ['b', 'r1', 1],
    ]);
  });

  it('reports overcommit and allocation above 100%', () => {
    const cfg = { ...DEFAULT_SCHEDULER_CONFIG, cpuOvercommit: 2 };
    const s = Snapshot.fromStore([nodeRow('x', { cpuMillis: 2000 })], [inst('x', { cpuMillis: 3000, memoryBytes: G })]);
    const x = computeCapacity(s.nodes(), [], new UsageMap(), cfg, now).nodes[0]!;
    expect(x.cpu).toEqual({ capacity: 2000, allocated: 3000, used: 0, free: 1000, allocationPct: 150, overcommit: 2 });
  });
});

import { describe, expect, it } from 'vitest';
import type { InstanceRow } from '../store/instances';
import type { NodeRow } from '../store/nodes';
import { firstFreePort } from './filters/port';
import { Snapshot } from './snapshot';

const G = 1024 ** 3;
const nodeRow = (name: string, busyPorts: number[] = []): NodeRow => ({
  name,
  agentAddress: '127.0.0.1:1',
  host: '127.0.0.1',
  labels: {},
  cpuMillis: 8000,
  memoryBytes: 32 * G,
  portMin: 3301,
  portMax: 3305,
  busyPorts,
  cordoned: false,
  agentVersion: '',
  dockerVersion: '',
  registeredAt: '',
  lastHeartbeatMs: 0,
  disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G }],
});
const inst = (id: string, port: number, cluster = ''): InstanceRow =>
  ({ id, node: 'a', port, cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G, diskPath: '/d1', cluster, antiAffinityGroup: cluster }) as InstanceRow;

describe('snapshot', () => {
  it('keeps the lowest free port cached through placements, releases and heartbeats', () => {
    const s = Snapshot.fromStore([nodeRow('a', [3301])], []);
    const n = () => s.get('a')!;
    expect(firstFreePort(n())).toBe(3302);
    s.addInstance(inst('i1', 3302));
    expect(firstFreePort(n())).toBe(3303);
    s.addInstance(inst('i2', 3304));
    expect(firstFreePort(n())).toBe(3303);
    s.addInstance(inst('i3', 3303));
    expect(firstFreePort(n())).toBe(3305);
    s.removeInstance(inst('i1', 3302));
    expect(firstFreePort(n())).toBe(3302);
    s.heartbeat('a', 1, [], [3301, 3302]);
    expect(firstFreePort(n())).toBe(3305);
    s.addInstance(inst('i4', 3305));
    expect(n().freePort).toBeNull();
  });

  it("frees a released instance's port even though the last heartbeat saw its mysqld listening", () => {
    const s = Snapshot.fromStore([nodeRow('a')], [inst('i1', 3301), inst('i2', 3302)]);
    s.heartbeat('a', 1, [], [3301, 3302]);
    expect(firstFreePort(s.get('a')!)).toBe(3303);
    s.removeInstance(inst('i1', 3301));
    expect(firstFreePort(s.get('a')!)).toBe(3301);
  });

  it('counts cluster members per node and forgets a cluster once its last member goes', () => {
    const s = Snapshot.fromStore([nodeRow('a')], [inst('i1', 3301, 'orders'), inst('i2', 3302, 'orders')]);
    expect(s.get('a')!.antiAffinityGroups!.get('orders')).toBe(2);
    s.removeInstance(inst('i1', 3301, 'orders'));
    expect(s.get('a')!.antiAffinityGroups!.get('orders')).toBe(1);
    s.removeInstance(inst('i2', 3302, 'orders'));
    expect(s.get('a')!.antiAffinityGroups!.has('orders')).toBe(false);
    expect(s.get('a')!.allocated).toEqual({ cpuMillis: 0, memoryBytes: 0 });
  });

  it('hands the scheduler the same array until a node is added', () => {
    const s = Snapshot.fromStore([nodeRow('a')], []);
    const first = s.nodes();
    expect(s.nodes()).toBe(first);
    s.upsertNode(nodeRow('b'));
    expect(s.nodes().map((n) => n.name)).toEqual(['a', 'b']);
  });
});

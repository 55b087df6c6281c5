import { describe, expect, it } from 'vitest';
import { allocations, checkReservations, type Allocation } from './consistency';
import type { InstanceRow } from './instances';
import type { NodeRow } from './nodes';
import type { OperationRow } from './operations';

const G = 1024 ** 3;
const node = (name: string): NodeRow => ({
  name, agentAddress: '', host: '', labels: {}, cpuMillis: 8000, memoryBytes: 16 * G, portMin: 3301, portMax: 3399, busyPorts: [],
  cordoned: false, agentVersion: '', dockerVersion: '', registeredAt: '', lastHeartbeatMs: 0, disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G }],
});
const inst = (id: string, over: Partial<InstanceRow> = {}): InstanceRow => ({
  id, name: id, serverId: 1, node: 'n1', diskPath: '/d1', port: 3301, cpuMillis: 500, memoryBytes: G, diskBytes: 2 * G, image: 'x', state: 'running',
  flavor: '', version: '', containerId: '', adminUser: 'admin', adminPassword: '', message: '', antiAffinityGroup: '', cluster: '', clusterName: '', clusterRole: '', fenced: false, createdAt: '', updatedAt: '', ...over,
});
const op = (id: string, instance: string, params: Record<string, unknown> = {}) => ({ id, subjects: [{ kind: 'instance', name: instance }], params }) as unknown as OperationRow;

describe('checkReservations', () => {
  const nodes = [node('n1')];

  it('finds nothing when the scheduler agrees with the rows and every transient row has its operation', () => {
    const rows = [inst('i-a'), inst('i-b', { state: 'creating', port: 3302 }), inst('i-0123456789ab', { state: 'pending', port: 3303, name: 'a--moving-0123' })];
    const sums = allocations(nodes, rows);
    expect(sums.get('n1')).toEqual({ cpuMillis: 1500, memoryBytes: 3 * G, instanceCount: 3, disks: { '/d1': 6 * G } });
    // i-b is a create's subject; the reservation row is named after the migration op-0123456789ab.
    expect(checkReservations(nodes, rows, [op('op-aaaa', 'i-b'), op('op-0123456789ab', 'i-a')], (n) => sums.get(n))).toEqual([]);
  });

  it('reports a scheduler view that differs from the sum of the rows', () => {
    const rows = [inst('i-a')];
    const wrong: Allocation = { cpuMillis: 1000, memoryBytes: G, instanceCount: 1, disks: { '/d1': 2 * G } };
    const f = checkReservations(nodes, rows, [], () => wrong);
    expect(f).toEqual([{ kind: 'allocation-mismatch', subject: 'n1', message: expect.stringMatching(/held 1 instances, 1000m CPU.*sum to 1 instances, 500m CPU/) }]);
    expect(checkReservations(nodes, rows, [], () => undefined)[0]!.message).toMatch(/nothing \(node unknown to it\)/);
  });

  it('reports transient rows no operation is driving, and rows outside their node', () => {
    const rows = [inst('i-a', { state: 'pending' }), inst('i-b', { state: 'deleting', port: 3302 }), inst('i-c', { port: 4000 }), inst('i-d', { diskPath: '/elsewhere', port: 3303 }), inst('i-e', { state: 'failed', port: 3304 })];
    const sums = allocations(nodes, rows);
    const f = checkReservations(nodes, rows, [op('op-1', 'i-b', { reservationId: 'i-zz' })], (n) => sums.get(n));
    expect(f.map((x) => `${x.kind} ${x.subject}`)).toEqual(['orphan-reservation i-a', 'outside-node i-c', 'outside-node i-d']);
    expect(f[0]!.message).toBe('i-a is pending on n1 but no operation is working on it: its reservation (port 3301) is held for nothing');
  });
});

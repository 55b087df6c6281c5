import { describe, expect, it } from 'vitest';
import { fleetEngine } from '../../test/harness/operation-types';
import { UsageMap } from '../state/usage';
import type { ResizeRequest } from '../operations/resize';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { planResize } from '../api/resize';
import { memberMoveRefusal, memberResizeRefusal, planOfMemberResize } from './guard';

describe('memberMoveRefusal', () => {
  it('lets a standalone instance move', () => {
    expect(memberMoveRefusal({ name: 'a', clusterName: '', clusterRole: '', fenced: false })).toBeUndefined();
  });

  it('refuses the primary, asking for a switchover first', () => {
    expect(memberMoveRefusal({ name: 'orders-1', clusterName: 'orders', clusterRole: 'primary', fenced: false })).toMatch(/primary of cluster orders.*switchover orders/);
  });

  it('refuses a replica, naming add-replica and remove-replica', () => {
    expect(memberMoveRefusal({ name: 'orders-2', clusterName: 'orders', clusterRole: 'replica', fenced: false })).toMatch(/replica of cluster orders.*add-replica orders.*remove-replica orders orders-2/);
  });

  it('a resize refuses only what would move a member', () => {
    const replica = { name: 'orders-2', clusterName: 'orders', clusterRole: 'replica' as const, fenced: false };
    expect(memberResizeRefusal(replica, 'migrate', 'refused')).toMatch(/^resize of orders-2 by migration refused: orders-2 is a replica of cluster orders/);
    expect(memberResizeRefusal(replica, 'auto', 'migrate')).toMatch(/add-replica orders/);
    expect(memberResizeRefusal(replica, 'auto', 'in-place')).toBeUndefined();
    expect(memberResizeRefusal({ ...replica, clusterName: '', clusterRole: '' as const }, 'migrate', 'migrate')).toBeUndefined();
  });

  it('refuses a fenced former primary', () => {
    expect(memberMoveRefusal({ name: 'orders-1', clusterName: 'orders', clusterRole: 'replica', fenced: true })).toMatch(/fenced member of cluster orders/);
  });
});

describe('resizes of cluster members', () => {
  it('refuses a resize by migration of a member with FAILED_PRECONDITION and records nothing', async () => {
    const G = 1024 ** 3;
    const fleet = FleetState.load(Store.open(':memory:'));
    for (const n of ['a', 'b']) {
      fleet.registerNode({ name: n, agentAddress: `${n}:1`, host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3300, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
    }
    fleet.createCluster({ name: 'orders', state: 'running', replication: 'async', semiSyncTimeoutMs: 0, flavor: 'mariadb', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'r', replPassword: 'p', monitorUser: 'm', monitorPassword: 'p' });
    fleet.reserveInstance({ id: 'i-p', name: 'orders-1', serverId: 1, node: 'a', diskPath: '/d', port: 3300, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'x', clusterName: 'orders', clusterRole: 'primary' } as never);
    const { engine, deps } = fleetEngine(fleet, {}, { usage: new UsageMap() });
    const x = { resize: (r: ResizeRequest) => engine.submit('resize', r) };
    const before = fleet.store.operations.active().length;
    await expect(x.resize({ instance: 'orders-1', change: { cpuMillis: 600 }, mode: 'migrate', constraints: [] })).rejects.toThrow(/primary of cluster orders.*switchover orders/);
    // auto that would migrate (the node cannot take 3.9 CPUs more, the other can).
    fleet.reserveInstance({ id: 'i-o', name: 'other', serverId: 2, node: 'a', diskPath: '/d', port: 3301, cpuMillis: 3000, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'x' } as never);
    await expect(x.resize({ instance: 'orders-1', change: { cpuMillis: 1500 }, mode: 'auto', constraints: [] })).rejects.toThrow(/primary of cluster orders/);
    expect(fleet.store.operations.active().length).toBe(before);
    expect(fleet.store.instances.all().map((i) => i.name).sort()).toEqual(['orders-1', 'other']);

    // PlanInstance (the portal's composition) says what ResizeInstance does, in its words.
    const primary = fleet.store.instances.get('i-p')!;
    const plan = (mode: string, cpuMillis: number) => planOfMemberResize(planResize(deps, { resizeInstance: 'orders-1', resizeMode: mode, resources: { cpuMillis, memoryBytes: 0, diskBytes: 0 }, constraints: [] } as never), primary, mode);
    for (const [mode, cpu] of [['migrate', 600], ['auto', 1500]] as const) {
      let thrown = '';
      try {
        await x.resize({ instance: 'orders-1', change: { cpuMillis: cpu }, mode, constraints: [] });
      } catch (err) {
        thrown = (err as Error).message;
      }
      expect(thrown).toMatch(/primary of cluster orders/);
      const p = plan(mode, cpu);
      expect(p).toMatchObject({ resizeDecision: 'refused', resizeReason: thrown, message: thrown, placement: null });
      expect(p.verdicts!.some((v) => v.chosen)).toBe(false);
    }
    expect(plan('auto', 600)).toMatchObject({ resizeDecision: 'in-place' });
    expect(fleet.store.operations.active().length).toBe(before);
  });
});

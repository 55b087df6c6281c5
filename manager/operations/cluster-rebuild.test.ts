import { describe, expect, it } from 'vitest';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { measureLostWindow } from './cluster-rebuild';
import type { OperationDeps } from './deps';

const G = 1024 ** 3;

describe('cluster-rebuild: the failover lost window measured on the old primary', () => {
  it("records what the old primary had that the promoted replica lacked at its promotion, once, on that failover's history", () => {
    const fleet = FleetState.load(Store.open(':memory:'));
    fleet.registerNode({ name: 'a', agentAddress: 'a:1', host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3300, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
    fleet.createCluster({ name: 'orders', state: 'running', replication: 'async', semiSyncTimeoutMs: 0, flavor: 'mariadb', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'r', replPassword: 'p', monitorUser: 'm', monitorPassword: 'p' });
    const old = fleet.reserveInstance({ id: 'i-old', name: 'orders-1', serverId: 1, node: 'a', diskPath: '/d', port: 3300, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'stopped', adminUser: 'admin', adminPassword: 'x', clusterName: 'orders', clusterRole: 'replica' } as never);
    fleet.store.operations.insert('op-f', 'cluster-failover', 'orders', ['stop-io', 'choose', 'apply-relay-log', 'promote', 'repoint', 'fence-old-primary', 'record']);
    fleet.store.operations.stepDone('op-f', 3, { promotedAtMs: 1, executedGtids: '0-1-995' });
    const id = fleet.recordClusterHistory({ cluster: 'orders', kind: 'failover', outcome: 'done', fromInstance: old.id, toInstance: 'i-new', startedAt: new Date().toISOString(), operationId: 'op-f', lostTransactions: 2 });
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ id, lostTransactions: 2, measuredLost: -1 });

    // The new primary has written on since (0-2-1200): measured against the promoted set all the same.
    const d = { fleet } as unknown as OperationDeps;
    measureLostWindow(d, 'orders', old, '0-1-1000', 'mariadb');
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ id, lostTransactions: 2, measuredLost: 5 });
    measureLostWindow(d, 'orders', old, '0-1-1007', 'mariadb');
    expect(fleet.store.clusters.history('orders')[0]!.measuredLost).toBe(5);
    const { items } = fleet.store.events.page({ kind: 'cluster.failover.lost-measured', subject: 'orders', limit: 10, offset: 0 });
    expect(items.map((e) => e.message)).toEqual([expect.stringMatching(/^failover op-f lost 5 transactions orders-1 had committed \(at least 2 were known at the failover\): 0-1-\[?996-1000/)]);
  });
});

import { describe, expect, it } from 'vitest';
import { newKey, SecretBox } from '../../src/security/secretbox';
import { FleetState } from '../state/fleet';
import { Store } from './index';
import type { NewCluster } from './clusters';

const G = 1024 ** 3;

function fleet() {
  const f = FleetState.load(Store.open(':memory:'));
  for (const name of ['a', 'b', 'c']) {
    f.registerNode(
      {
        name, agentAddress: `${name}:1`, host: `127.0.0.${name.charCodeAt(0) - 86}`, labels: {}, cpuMillis: 8000, memoryBytes: 16 * G, portMin: 3301, portMax: 3310,
        busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G }],
      },
      [],
    );
  }
  return f;
}

const cluster = (name = 'orders'): NewCluster => ({
  name, state: 'creating', replication: 'semi-sync', semiSyncTimeoutMs: 10_000, flavor: 'mariadb', image: 'img', cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G,
  placement: { constraints: ['zone in (a,b)'], spreadOver: 'zone', strategy: '' }, replUser: 'berth_repl', replPassword: 'rp', monitorUser: 'berth_monitor', monitorPassword: 'mp',
});

function member(f: FleetState, id: string, node: string, role: 'primary' | 'replica') {
  return f.reserveInstance({
    id, name: `orders-${id}`, serverId: f.store.instances.nextServerId(), node, diskPath: '/d1', port: 3301, cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G,
    image: 'img', state: 'pending', adminUser: 'admin', adminPassword: 'pw', antiAffinityGroup: 'cluster:orders', clusterName: 'orders', clusterRole: role,
  });
}

describe('clusters in the store', () => {
  it('keeps a cluster with its placement and members, the primary listed first', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      member(f, 'i-2', 'b', 'replica');
      member(f, 'i-1', 'a', 'primary');
    });
    const c = f.store.clusters.get('orders')!;
    expect(c).toMatchObject({ state: 'creating', replication: 'semi-sync', placement: { constraints: ['zone in (a,b)'], spreadOver: 'zone' }, replPassword: 'rp' });
    expect(f.store.instances.inCluster('orders').map((i) => [i.id, i.clusterRole, i.fenced])).toEqual([
      ['i-1', 'primary', false],
      ['i-2', 'replica', false],
    ]);
    expect(f.store.instances.get('i-1')).toMatchObject({ clusterName: 'orders', clusterRole: 'primary', antiAffinityGroup: 'cluster:orders' });
  });

  it('never holds two primaries of one cluster', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      member(f, 'i-1', 'a', 'primary');
      member(f, 'i-2', 'b', 'replica');
    });
    expect(() => f.setMembership('i-2', 'orders', 'primary')).toThrow(/UNIQUE/);
    expect(() => member(f, 'i-3', 'c', 'primary')).toThrow(/UNIQUE/);
    expect(f.store.instances.get('i-3')).toBeUndefined();
  });

  it('setPrimary demotes the old primary in the same transaction and records an event', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      member(f, 'i-1', 'a', 'primary');
      member(f, 'i-2', 'b', 'replica');
    });
    expect(f.setPrimary('orders', 'i-2', 'switchover')).toEqual({ previous: 'i-1' });
    expect(f.store.instances.inCluster('orders').map((i) => [i.id, i.clusterRole])).toEqual([
      ['i-2', 'primary'],
      ['i-1', 'replica'],
    ]);
    expect(f.store.events.recent(5).map((e) => e.kind)).toContain('cluster.primary');
    // Already the primary: nothing changes.
    expect(f.setPrimary('orders', 'i-2', 'again')).toEqual({ previous: '' });
  });

  it('a fenced instance is never made primary and stops being one', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      member(f, 'i-1', 'a', 'primary');
      member(f, 'i-2', 'b', 'replica');
    });
    f.fenceInstance('i-1', 'failed over');
    expect(f.store.instances.get('i-1')).toMatchObject({ fenced: true, clusterRole: 'replica' });
    expect(() => f.setPrimary('orders', 'i-1', 'x')).toThrow(/fenced/);
    expect(() => f.setMembership('i-1', 'orders', 'primary')).toThrow(/fenced/);
    f.setPrimary('orders', 'i-2', 'failover');
    f.unfenceInstance('i-1', 'rebuilt');
    expect(f.store.instances.get('i-1')!.fenced).toBe(false);
  });

  it('refuses a primary that is not a member', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      f.createCluster(cluster('other'));
      member(f, 'i-1', 'a', 'primary');
    });
    expect(() => f.setPrimary('other', 'i-1', 'x')).toThrow(/not a member of cluster other/);
  });

  it('history: switchovers and failovers, newest first, with an event each; acknowledged later', () => {
    const f = fleet();
    f.createCluster(cluster());
    const t = new Date().toISOString();
    f.recordClusterHistory({ cluster: 'orders', kind: 'switchover', outcome: 'done', fromInstance: 'i-1', toInstance: 'i-2', startedAt: t, blockedMs: 120 });
    const id = f.recordClusterHistory({ cluster: 'orders', kind: 'failover', outcome: 'done', fromInstance: 'i-2', toInstance: 'i-1', startedAt: t, lostTransactions: 0, reason: 'mysqld down' });
    const h = f.store.clusters.history('orders');
    expect(h.map((e) => [e.kind, e.blockedMs, e.acknowledged])).toEqual([
      ['failover', -1, false],
      ['switchover', 120, false],
    ]);
    expect(f.store.clusters.lastOfKind('orders', 'failover')?.id).toBe(id);
    f.store.clusters.acknowledge(id);
    expect(f.store.clusters.lastOfKind('orders', 'failover')?.acknowledged).toBe(true);
    expect(f.store.events.recent(10).map((e) => e.kind)).toEqual(expect.arrayContaining(['cluster.switchover.done', 'cluster.failover.done']));
  });

  it('deletes a cluster only once its members are gone, with its history', () => {
    const f = fleet();
    f.change(() => {
      f.createCluster(cluster());
      member(f, 'i-1', 'a', 'primary');
    });
    f.recordClusterHistory({ cluster: 'orders', kind: 'switchover', outcome: 'aborted', fromInstance: 'i-1', toInstance: '', startedAt: new Date().toISOString() });
    expect(() => f.deleteCluster('orders')).toThrow(/still has members: orders-i-1/);
    f.releaseInstance('i-1');
    f.deleteCluster('orders');
    expect(f.store.clusters.get('orders')).toBeUndefined();
    expect(f.store.clusters.history('orders')).toEqual([]);
  });

  it('seals the replication and monitoring passwords at rest', () => {
    const store = Store.open(':memory:');
    store.clusters.useSecrets(new SecretBox(newKey()));
    store.clusters.insert(cluster());
    const raw = store.db.prepare('SELECT repl_password AS r, monitor_password AS m FROM clusters').get() as { r: string; m: string };
    expect(raw.r).not.toBe('rp');
    expect(raw.m).not.toBe('mp');
    expect(store.clusters.get('orders')).toMatchObject({ replPassword: 'rp', monitorPassword: 'mp' });
  });
});

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentReplicationState__Output } from '../../src/gen/berth/v1/AgentReplicationState';
import { createLogger } from '../../src/log';
import { clusterFailoverOperation, type FailoverParams } from '../operations/cluster-failover';
import { clusterGaleraWriterOperation, type GaleraWriterParams } from '../operations/cluster-galera-writer';
import { clusterRebuildOperation, type RebuildParams } from '../operations/cluster-rebuild';
import type { AdmitContext, Engine } from '../operations/engine';
import { fleetEngine } from '../../test/harness/operation-types';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { DEFAULT_DETECTION } from './detect';
import { ReplicationMap } from '../state/replication';
import { ClusterReconciler, DEFAULT_RECONCILER } from './reconciler';

const G = 1024 ** 3;
const log = createLogger('test', 'silent');
const up: AgentReplicationState__Output = {
  measuredAtMs: 0, mysqldUp: true, mysqldDownSinceMs: 0, serverUuid: '', serverId: 7, readOnly: false, superReadOnly: false, executedGtids: '0-7-42',
  configured: false, ioRunning: false, ioConnecting: false, sqlRunning: false, secondsBehind: -1, receivedGtids: '', lastIoError: '', lastSqlError: '',
  sourceHost: '', sourcePort: 0, semiSyncEnabled: true, semiSyncActive: true, semiSyncClients: 2, leaseFenced: false, groupState: '', groupRole: '', groupOnline: 0, groupSize: 0, groupVersion: '',
};

// A port that answers like mysqld (a greeting packet), and one that refuses.
let greeter: net.Server;
let alivePort = 0;
let deadPort = 0;
beforeAll(async () => {
  greeter = net.createServer((s) => s.end(Buffer.from([1, 0, 0, 0, 10])));
  await new Promise<void>((r) => greeter.listen(0, '127.0.0.1', r));
  alivePort = (greeter.address() as net.AddressInfo).port;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
});
afterAll(() => greeter.close());

function setup(primaryPort: number, mode: 'semi-sync' | 'group' | 'galera' = 'semi-sync') {
  const fleet = FleetState.load(Store.open(':memory:'));
  const now = Date.now();
  for (const n of ['a', 'b', 'c']) {
    fleet.registerNode({ name: n, agentAddress: `${n}:1`, host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 1, portMax: 65535, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: now, disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
  }
  // A consensus cluster is Group Replication on MySQL and Galera on MariaDB.
  fleet.createCluster({ name: 'orders', state: 'running', replication: mode === 'galera' ? 'group' : mode, semiSyncTimeoutMs: 10_000, flavor: mode === 'group' ? 'mysql' : 'mariadb', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'r', replPassword: 'p', monitorUser: 'm', monitorPassword: 'p' });
  const ids: Record<string, string> = {};
  for (const [k, n] of ['a', 'b', 'c'].entries()) {
    const i = fleet.reserveInstance({ id: `i-${n}`, name: `orders-${k + 1}`, serverId: 7 + k, node: n, diskPath: '/d', port: n === 'a' ? primaryPort : 4000 + k, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'x', clusterName: 'orders', clusterRole: n === 'a' ? 'primary' : 'replica' } as never);
    ids[n] = i.id;
  }
  const opened: string[] = [];
  const agents = {
    for: () => ({
      setReadOnly: async (r: { id: string; readOnly: boolean }) => (opened.push(`${r.id} ${r.readOnly}`), {}),
      startReplica: async (r: { id: string }) => (opened.push(`${r.id} start`), {}),
      stopInstance: async (r: { id: string }) => (opened.push(`${r.id} stop`), {}),
    }),
  };
  const { engine, submitted } = spiedEngine(fleet, agents);
  const replication = new ReplicationMap();
  const trigger = new ClusterReconciler({ fleet, engine, replication, log }, { ...DEFAULT_RECONCILER, ...DEFAULT_DETECTION, probeFailMs: 0 });
  const report = (node: string, id: string, s: Partial<AgentReplicationState__Output>) => replication.report(node, [{ id, replication: { ...up, measuredAtMs: Date.now(), ...s } }]);
  const replicasLost = () => {
    report('b', ids.b!, { configured: true, readOnly: true, sourceHost: '127.0.0.1', sourcePort: primaryPort, ioConnecting: true });
    report('c', ids.c!, { configured: true, readOnly: true, sourceHost: '127.0.0.1', sourcePort: primaryPort, ioConnecting: true });
  };
  return { fleet, ids, submitted, trigger, report, replicasLost, opened, engine };
}

// The manager's operation types on a real engine, except that a failover or a rebuild is only
// recorded (what it was asked for is kept in `submitted`) and then holds its subjects.
function spiedEngine(fleet: FleetState, agents: unknown): { engine: Engine; submitted: Record<string, unknown>[] } {
  const { engine, deps } = fleetEngine(fleet, agents);
  const submitted: Record<string, unknown>[] = [];
  const hold = [{ name: 'hold', run: () => new Promise<never>(() => undefined) }];
  const writer = clusterGaleraWriterOperation(deps);
  engine.register({ ...writer, admit: (r: GaleraWriterParams, a: AdmitContext) => (submitted.push({ ...r }), writer.admit(r, a)), steps: hold });
  const failover = clusterFailoverOperation(deps);
  engine.register({ ...failover, admit: (r: FailoverParams, a: AdmitContext) => (submitted.push({ ...r }), failover.admit(r, a)), steps: hold });
  const rebuild = clusterRebuildOperation(deps);
  engine.register({ ...rebuild, admit: (r: RebuildParams, a: AdmitContext) => (submitted.push({ ...r }), rebuild.admit(r, a)), steps: hold });
  return { engine, submitted };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('ClusterReconciler', () => {
  it('a consensus cluster: follows the primary the group elected, and never fails over, repairs, leases or opens anything itself', async () => {
    const { fleet, ids, submitted, trigger, report, opened } = setup(deadPort, 'group');
    const group = (role: string, online: number, state = 'ONLINE') => ({ groupState: state, groupRole: role, groupOnline: online, groupSize: 3, readOnly: role !== 'PRIMARY', superReadOnly: role !== 'PRIMARY' });
    report('a', ids.a!, group('PRIMARY', 3));
    report('b', ids.b!, group('SECONDARY', 3));
    report('c', ids.c!, group('SECONDARY', 3));
    await trigger.tick();
    expect(trigger.leaseFor('a')).toBeUndefined();
    // The primary is killed: its container stopped, mysqld down; the two left elect b.
    report('a', ids.a!, { ...group('PRIMARY', 3), mysqldUp: false, mysqldDownSinceMs: Date.now() - 60_000 });
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    report('b', ids.b!, group('SECONDARY', 2));
    report('c', ids.c!, group('SECONDARY', 2));
    await trigger.tick();
    expect(fleet.store.instances.get(ids.a!)!.clusterRole).toBe('primary');
    // A minority view calling itself PRIMARY is not followed; the majority's election is.
    report('c', ids.c!, group('PRIMARY', 1));
    await trigger.tick();
    expect(fleet.store.instances.get(ids.c!)!.clusterRole).toBe('replica');
    report('b', ids.b!, group('PRIMARY', 2));
    await trigger.tick();
    await settle();
    expect(fleet.store.instances.get(ids.b!)!.clusterRole).toBe('primary');
    expect(fleet.store.instances.get(ids.a!)!.clusterRole).toBe('replica');
    expect(fleet.store.instances.get(ids.a!)!.fenced).toBe(false);
    expect(submitted).toEqual([]);
    expect(opened).toEqual([]);
    expect(trigger.problemOf('orders', Date.now() + 3600_000)).toBeUndefined();
  });

  it('a Galera cluster: replaces a writer that died with a Synced member of the Primary component, once, and never fails over, leases or repairs', async () => {
    const { ids, submitted, trigger, report, opened } = setup(deadPort, 'galera');
    const wsrep = (state: string, role: string, online: number, readOnly: boolean) => ({ groupState: state, groupRole: role, groupOnline: online, groupSize: online || 1, readOnly });
    report('a', ids.a!, wsrep('Synced', 'Primary', 3, false));
    report('b', ids.b!, wsrep('Synced', 'Primary', 3, true));
    report('c', ids.c!, wsrep('Synced', 'Primary', 3, true));
    await trigger.tick();
    expect(submitted).toEqual([]);
    expect(trigger.leaseFor('a')).toBeUndefined();
    // The writer is killed; b is still joining (not Synced), c is Synced in the Primary component.
    report('a', ids.a!, { ...wsrep('Synced', 'Primary', 3, false), mysqldUp: false, mysqldDownSinceMs: Date.now() - 60_000 });
    report('b', ids.b!, wsrep('Joined', 'Primary', 2, true));
    report('c', ids.c!, wsrep('Synced', 'Primary', 2, true));
    await trigger.tick();
    await settle();
    expect(submitted).toEqual([{ cluster: 'orders', from: ids.a, to: ids.c, reason: expect.stringMatching(/not Synced in the Primary component/) }]);
    // While that operation holds the cluster, nothing more is submitted.
    await trigger.tick();
    expect(submitted).toHaveLength(1);
    expect(opened).toEqual([]);
    expect(trigger.problemOf('orders', Date.now() + 3600_000)).toBeUndefined();
  });

  it('a Galera cluster: a member outside the Primary component is never chosen (no quorum: no writer)', async () => {
    const { ids, submitted, trigger, report } = setup(deadPort, 'galera');
    report('a', ids.a!, { groupState: 'Synced', groupRole: 'Primary', groupOnline: 3, readOnly: false, mysqldUp: false });
    report('b', ids.b!, { groupState: 'Synced', groupRole: 'non-Primary', groupOnline: 0, readOnly: true });
    report('c', ids.c!, { groupState: 'Synced', groupRole: 'non-Primary', groupOnline: 0, readOnly: true });
    await trigger.tick();
    await settle();
    expect(submitted).toEqual([]);
  });

  it('grants the write lease to the node of each cluster primary, and to no other node', async () => {
    const { ids, trigger } = setup(alivePort);
    await trigger.tick();
    expect(trigger.leaseFor('a')).toEqual({ leaseMs: DEFAULT_RECONCILER.leaseMs, instanceIds: [ids.a] });
    expect(trigger.leaseFor('b')).toBeUndefined();
  });

  it('container stopped and mysqld refusing connections: starts a failover with the primary\'s last report', async () => {
    const { fleet, ids, submitted, trigger, report, replicasLost } = setup(deadPort);
    report('a', ids.a!, { mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000 });
    replicasLost();
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    expect(submitted).toEqual([expect.objectContaining({ cluster: 'orders', primaryId: ids.a, lastPrimary: { executedGtids: '0-7-42', serverUuid: '', serverId: 7 }, reason: expect.stringMatching(/stopped/) })]);
  });

  it('a primary killed before its agent reported after its promotion: the failover counts what the promotion waited for', async () => {
    const { fleet, ids, submitted, trigger, report, replicasLost } = setup(deadPort);
    // A switchover to b and back to a, each with the set it caught up to; the last report of a
    // (0-7-42) is from before the second cut-over (0-7-50).
    fleet.setPrimary('orders', ids.b!, 'test', '0-7-45');
    fleet.setPrimary('orders', ids.a!, 'test', '0-7-50');
    expect(fleet.store.lastSeen.promoted(ids.b!), 'a demoted member keeps no promotion set').toBe('');
    report('a', ids.a!, { mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000 });
    replicasLost();
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    expect(submitted).toEqual([expect.objectContaining({ primaryId: ids.a, lastPrimary: { executedGtids: '0-7-50', serverUuid: '', serverId: 7 } })]);
  });

  it('a restarted agent that reports the primary without identity before its container dies: the failover gets the identity and GTIDs last seen alive', async () => {
    const { fleet, ids, submitted, trigger, report, replicasLost } = setup(deadPort);
    report('a', ids.a!, { serverUuid: 'aaaaaaaa-0000-0000-0000-000000000001', executedGtids: 'aaaaaaaa-0000-0000-0000-000000000001:1-42' });
    await trigger.tick();
    // The agent restarts: its first heartbeat carries no replication state, then the container
    // is killed before its probe ever read mysqld.
    (trigger as unknown as { d: { replication: ReplicationMap } }).d.replication.report('a', [{ id: ids.a!, replication: null }]);
    report('a', ids.a!, { mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000, serverUuid: '', serverId: 0, executedGtids: '' });
    replicasLost();
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    expect(submitted).toEqual([expect.objectContaining({ primaryId: ids.a, lastPrimary: { executedGtids: 'aaaaaaaa-0000-0000-0000-000000000001:1-42', serverUuid: 'aaaaaaaa-0000-0000-0000-000000000001', serverId: 7 } })]);
  });

  it('a restarted manager still has the identity and GTIDs last seen alive (the store keeps them, written only when due, deleted with the instance)', async () => {
    const { fleet, ids, trigger, report, replicasLost } = setup(deadPort);
    const uuid = 'aaaaaaaa-0000-0000-0000-000000000001';
    report('a', ids.a!, { serverUuid: uuid, executedGtids: '0-7-42' });
    await trigger.tick();
    await new Promise((r) => setImmediate(r));
    const writes = fleet.store.writer.writes;
    report('a', ids.a!, { serverUuid: uuid, executedGtids: '0-7-43' });
    await trigger.tick();
    await trigger.tick();
    await new Promise((r) => setImmediate(r));
    expect(fleet.store.writer.writes, 'a primary\'s own new transaction is not written at once').toBe(writes);
    expect(fleet.store.lastSeen.all().find((r) => r.instanceId === ids.a)).toMatchObject({ serverUuid: uuid, serverId: 7, executedGtids: '0-7-42', role: 'primary' });

    // A new manager on the same store: the primary's agent reports it dead, with no identity.
    const { engine, submitted } = spiedEngine(fleet, { for: () => ({}) });
    const replication = new ReplicationMap();
    const again = new ClusterReconciler({ fleet, engine, replication, log }, { ...DEFAULT_RECONCILER, ...DEFAULT_DETECTION, probeFailMs: 0 });
    replication.report('a', [{ id: ids.a!, replication: { ...up, measuredAtMs: Date.now(), mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000, serverUuid: '', serverId: 0, executedGtids: '' } }]);
    for (const n of ['b', 'c']) replication.report(n, [{ id: ids[n]!, replication: { ...up, measuredAtMs: Date.now(), configured: true, readOnly: true, sourceHost: '127.0.0.1', sourcePort: deadPort, ioConnecting: true } }]);
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await again.tick();
    expect(submitted).toEqual([expect.objectContaining({ primaryId: ids.a, lastPrimary: { executedGtids: '0-7-42', serverUuid: uuid, serverId: 7 } })]);

    fleet.releaseInstance(ids.a!);
    expect(fleet.store.lastSeen.all().map((r) => r.instanceId)).not.toContain(ids.a);
  });

  it('a fenced member stopped on a host that answers is rebuilt (only its instance held), once per retry period', async () => {
    const { fleet, ids, submitted, trigger } = setup(alivePort);
    fleet.fenceInstance(ids.b!, 'test');
    await fleet.heartbeat('b', Date.now(), [], [], [{ id: ids.b!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    expect(submitted).toEqual([{ cluster: 'orders', instanceId: ids.b }]);
    await trigger.tick();
    expect(submitted).toHaveLength(1);
  });

  it('agent silent but mysqld greets the manager: no failover', async () => {
    const { fleet, submitted, trigger, replicasLost } = setup(alivePort);
    replicasLost();
    await fleet.heartbeat('a', Date.now() - 60_000, [], [], [], () => undefined);
    await trigger.tick(Date.now() + 60_000);
    // The next tick judges on the probe the first one started (it greeted).
    await settle();
    await trigger.tick(Date.now() + 60_000);
    expect(submitted).toEqual([]);
  });

  it('agent silent and its host cut off (mysqld never greets): a tick never waits out the probe; once a probe failed, the failover starts', async () => {
    const mute = net.createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const { fleet, ids, submitted, trigger, replicasLost } = setup((mute.address() as net.AddressInfo).port);
      replicasLost();
      await fleet.heartbeat('a', Date.now() - 60_000, [], [], [], () => undefined);
      const t0 = Date.now();
      await trigger.tick();
      expect(Date.now() - t0).toBeLessThan(DEFAULT_RECONCILER.probeTimeoutMs / 2);
      // Not probed yet: never a failover on silence alone.
      expect(submitted).toEqual([]);
      // The replicas' reports stay fresh meanwhile; the agent's last heartbeat is a minute old.
      await new Promise((r) => setTimeout(r, DEFAULT_RECONCILER.probeTimeoutMs + 200));
      await trigger.tick();
      expect(submitted).toEqual([expect.objectContaining({ cluster: 'orders', primaryId: ids.a, reason: expect.stringMatching(/agent silent/) })]);
    } finally {
      mute.close();
    }
  });

  it('an unacknowledged failover within the period blocks the next one, with one event', async () => {
    const { fleet, ids, submitted, trigger, report, replicasLost } = setup(deadPort);
    fleet.recordClusterHistory({ cluster: 'orders', kind: 'failover', outcome: 'done', fromInstance: 'i-old', toInstance: ids.a!, startedAt: new Date().toISOString() });
    report('a', ids.a!, { mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000 });
    replicasLost();
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    await trigger.tick();
    expect(submitted).toEqual([]);
    expect(fleet.store.events.countOfKind('cluster.failover.blocked')).toBe(1);
    expect(trigger.failovers()).toEqual([expect.objectContaining({ cluster: 'orders', from: 'i-old', to: 'orders-1' })]);
  });

  it('a primary heard read-only (every member boots so) is opened once: reports read before the opening are not acted on again', async () => {
    const { fleet, ids, trigger, report, opened } = setup(alivePort);
    // A cluster made a while ago: a read-only report right after its create ended would be one
    // measured before the create opened its primary (repairs.test.ts).
    fleet.store.db.prepare('UPDATE clusters SET updated_at = ?').run(new Date(Date.now() - 60_000).toISOString());
    report('a', ids.a!, { readOnly: true });
    await trigger.tick();
    await settle();
    // The same (stale) report at the next ticks, and a fresh one within the settle time.
    await trigger.tick();
    await settle();
    report('a', ids.a!, { readOnly: true });
    await trigger.tick();
    await settle();
    expect(opened).toEqual([`${ids.a} false`]);
    expect(fleet.store.events.countOfKind('cluster.primary.opened')).toBe(1);
    expect(fleet.store.events.countOfKind('cluster.lease.restored')).toBe(0);
  });

  it('repairs are recorded operations, one per repair: a restarted replica\'s replication is started once, a fenced member stopped once', async () => {
    const { fleet, ids, trigger, report, opened, engine } = setup(alivePort);
    report('b', ids.b!, { configured: true, readOnly: true, sourceHost: '127.0.0.1', sourcePort: alivePort });
    fleet.fenceInstance(ids.c!, 'test');
    for (let k = 0; k < 4; k++) {
      await trigger.tick();
      await settle();
    }
    expect(opened.sort()).toEqual([`${ids.b} start`, `${ids.c} stop`]);
    const repairs = fleet.store.operations.page({ type: 'cluster-repair', limit: 10, offset: 0 }).items;
    expect(repairs.map((o) => [o.state, o.params])).toEqual(expect.arrayContaining([
      ['succeeded', { cluster: 'orders', kind: 'start-replication', instanceId: ids.b }],
      ['succeeded', { cluster: 'orders', kind: 'stop-fenced', instanceId: ids.c }],
    ]));
    expect(repairs).toHaveLength(2);
    expect(fleet.store.events.countOfKind('cluster.replication.started')).toBe(1);
    expect(fleet.store.events.countOfKind('instance.fenced.stopped')).toBe(1);
    expect(engine.holder([{ kind: 'cluster', name: 'orders' }])).toBeUndefined();
  });

  it('no repair while an operation holds the cluster: the engine is asked, nothing is recorded', async () => {
    const { fleet, ids, trigger, report, opened, engine } = setup(alivePort);
    report('a', ids.a!, { readOnly: true });
    await engine.submit('cluster-rebuild', { cluster: 'orders', instanceId: (fleet.fenceInstance(ids.c!, 'test'), ids.c!) });
    await engine.submit('cluster-failover', { cluster: 'orders', primaryId: ids.a!, reason: 'test', detectedAtMs: Date.now(), lastPrimary: { executedGtids: '', serverUuid: '', serverId: 7 } });
    await trigger.tick();
    await settle();
    expect(opened).toEqual([]);
    expect(fleet.store.operations.page({ type: 'cluster-repair', limit: 10, offset: 0 }).items).toEqual([]);
  });

  it('a failover blocked by the anti-flap rule is a problem after the grace: why, since when, and ack-failover', async () => {
    const { fleet, ids, trigger, report, replicasLost } = setup(deadPort);
    fleet.recordClusterHistory({ cluster: 'orders', kind: 'failover', outcome: 'done', fromInstance: 'i-old', toInstance: ids.a!, startedAt: new Date().toISOString() });
    report('a', ids.a!, { mysqldUp: false, mysqldDownSinceMs: Date.now() - 5000 });
    replicasLost();
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'stopped', containerId: 'c' }] as never, () => undefined);
    const t0 = Date.now();
    await trigger.tick(t0);
    expect(trigger.problems(t0)).toEqual([]);
    const p = trigger.problemOf('orders', t0 + DEFAULT_RECONCILER.noWriterGraceMs);
    expect(p).toMatchObject({ cluster: 'orders', sinceMs: t0, action: 'berthctl cluster ack-failover orders runs the failover now' });
    expect(p!.reason).toMatch(/^primary orders-1 is dead \(.*\) and its failover has been blocked by the anti-flap rule since /);
    // Writable again (say, a DBA's switchover): no problem.
    report('a', ids.a!, { mysqldUp: true, readOnly: false });
    await fleet.heartbeat('a', Date.now(), [], [], [{ id: ids.a!, state: 'running', containerId: 'c' }] as never, () => undefined);
    await trigger.tick();
    expect(trigger.problems(Date.now() + 60_000)).toEqual([]);
  });
});

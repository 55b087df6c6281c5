import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import type { CreateClusterInput } from './cluster-create';
import { fleetEngine } from '../../test/harness/operation-types';

const G = 1024 ** 3;

// One fake agent per node, recording the calls the operations make, in order.
class FakeAgent {
  calls: string[] = [];
  failCreate = false;
  gtid = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5';
  constructor(readonly node: string) {}
  private log(what: string) {
    this.calls.push(what);
  }
  async createInstance(r: { id: string; replica: boolean; semiSyncTimeoutMs: number }) {
    this.log(`create ${r.id} replica=${r.replica} semisync=${r.semiSyncTimeoutMs}`);
    if (this.failCreate) throw new Error('no room for mysqld');
    return { containerId: `c-${r.id}`, flavor: 'mysql', version: '9.7.4' };
  }
  async inspectInstance(r: { id: string }) {
    return { state: 'running', containerId: `c-${r.id}`, flavor: 'mysql', version: '9.7.4' };
  }
  removes: { id: string; purge?: boolean; purgeStartedData?: boolean }[] = [];
  async removeInstance(r: { id: string; purge?: boolean; purgeStartedData?: boolean }) {
    this.log(`remove ${r.id}`);
    this.removes.push(r);
    // As the agent does: files mysqld ran on are purged only when shown to hold nothing more.
    return { existed: true, trashPath: r.purge && r.purgeStartedData ? '' : `/d/berth/.trash/${r.id}-1` };
  }
  async setReadOnly(r: { readOnly: boolean; persist?: boolean }) {
    this.log(`read-only ${r.readOnly}${r.persist ? ' persist' : ''}`);
    return { revoked: [], executedGtids: this.gtid };
  }
  async createReplicationUser(r: { user: string; binlog: boolean; monitor?: boolean; cloneDonor?: boolean }) {
    this.log(`user ${r.user.startsWith('berth_clone') ? 'clone' : r.user} binlog=${!!r.binlog}${r.monitor ? ' monitor' : ''}`);
    return {};
  }
  async dropReplicationUser() {
    return {};
  }
  // A copy that booted and then wrote a transaction of its own: replication refuses to start.
  ownWrite = '';
  async configureReplica(r: { sourceHost: string }) {
    this.log(`replicate from ${r.sourceHost}`);
    if (this.ownWrite) throw new Error(`Specified GTID conflicts with the binary log which contains a more recent GTID ${this.ownWrite}`);
    return {};
  }
  async getReplicaStatus() {
    const origins = this.ownWrite ? `${this.gtid},${this.ownWrite}` : this.gtid;
    return { configured: true, ioRunning: true, ioConnecting: false, sqlRunning: true, secondsBehind: 0, lastIoError: '', lastSqlError: '', receivedGtids: this.gtid, executedGtids: origins, originGtids: origins, sourceHost: '', sourcePort: 0, readOnly: true };
  }
  async killClientConnections() {
    this.log('kill clients');
    return { killed: 1, executedGtids: this.gtid };
  }
  reach = true;
  async waitForGtid() {
    return { reached: this.reach, executedGtids: this.gtid };
  }
  async resetReplica() {
    this.log('reset replica');
    return {};
  }
}

// A MySQL copy is a CLONE through SeedInstance, a stream: a raw client whose call ends "done".
function streams() {
  return {
    seedInstance: () => {
      const handlers: Record<string, (x?: unknown) => void> = {};
      const call = { on: (e: string, f: (x?: unknown) => void) => ((handlers[e] = f), call), cancel: () => undefined };
      setImmediate(() => {
        handlers.data?.({ phase: 'done', bytesDone: 10, bytesTotal: 10, gtidPosition: '', positionApplied: true, method: 'clone' });
        handlers.end?.();
      });
      return call;
    },
  };
}

function setup(nodes = ['a', 'b', 'c']) {
  const fleet = FleetState.load(Store.open(':memory:'));
  nodes.forEach((name, k) =>
    fleet.registerNode(
      { name, agentAddress: `${name}:1`, host: `127.0.0.${11 + k}`, labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 4001, portMax: 4010, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] },
      [],
    ),
  );
  const agents = new Map(nodes.map((n) => [n, new FakeAgent(n)]));
  const { engine } = fleetEngine(fleet, { for: (n: string) => agents.get(n)!, raw: () => streams() });
  // The portal's cluster RPCs, as they submit.
  const ops = {
    create: async (r: CreateClusterInput) => {
      const operation = await engine.submit('cluster-create', r);
      const members = [operation.params.primaryId, ...operation.params.replicaIds].map((id) => fleet.store.instances.get(id)!);
      return { operation, members };
    },
    switchover: (cluster: string, to?: string) => engine.submit('cluster-switchover', { cluster, to }),
    addReplica: (cluster: string, node?: string) => engine.submit('cluster-add-replica', { cluster, node }),
    removeReplica: (cluster: string, instance: string) => engine.submit('cluster-remove-replica', { cluster, instance }),
  };
  return { fleet, agents, engine, ops };
}

const input = (over: Partial<CreateClusterInput> = {}): CreateClusterInput => ({
  name: 'orders', shape: { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G }, replicas: 2, replication: 'semi-sync', semiSyncTimeoutMs: 5000, constraints: [], ...over,
});

describe('the cluster operation types, admitted through Engine.submit', () => {
  it('create: members reserved on distinct hosts with the operation; primary read-only until every replica replicates', async () => {
    const { fleet, agents, engine, ops } = setup();
    const { members, operation } = await ops.create(input());
    expect(members.map((m) => [m.name, m.clusterRole])).toEqual([['orders-1', 'primary'], ['orders-2', 'replica'], ['orders-3', 'replica']]);
    expect(new Set(members.map((m) => m.node)).size).toBe(3);
    expect(operation.subjects.map((s) => s.kind)).toEqual(['cluster', 'instance', 'instance', 'instance']);
    const op = await engine.wait(operation.id, 5000);
    expect(op!.state, op!.error).toBe('succeeded');
    const primary = agents.get(members[0]!.node)!;
    expect(primary.calls[0]).toBe(`create ${members[0]!.id} replica=true semisync=5000`);
    expect(primary.calls.slice(1, 4)).toEqual(['read-only true', 'user berth_repl binlog=true', 'user berth_monitor binlog=true monitor']);
    // Writable last, after both replicas were made and pointed at it; not persisted: a member
    // boots read-only whatever its role, and the manager opens the primary.
    expect(primary.calls.at(-1)).toBe('read-only false');
    for (const m of members.slice(1)) expect(agents.get(m.node)!.calls).toEqual(expect.arrayContaining([`create ${m.id} replica=true semisync=5000`, `replicate from ${fleet.store.nodes.get(members[0]!.node)!.host}`]));
    expect(fleet.store.clusters.get('orders')).toMatchObject({ state: 'running', flavor: 'mysql' });
    expect(fleet.store.instances.inCluster('orders').every((m) => m.state === 'running')).toBe(true);
  });

  it('a failed create leaves no container, reservation or cluster behind', async () => {
    const { fleet, agents, engine, ops } = setup();
    const { members, operation } = await ops.create(input({ name: 'broken' }));
    agents.get(members[1]!.node)!.failCreate = true;
    const op = await engine.wait(operation.id, 5000);
    expect(op!.state).toBe('failed');
    expect(fleet.store.clusters.get('broken')).toBeUndefined();
    expect(fleet.store.instances.all()).toEqual([]);
    expect(fleet.snapshot.nodes().every((n) => n.allocated.cpuMillis === 0 && n.usedPorts.size === 0)).toBe(true);
    expect(agents.get(members[0]!.node)!.calls).toContain(`remove ${members[0]!.id}`);
  });

  it('refuses more members than distinct hosts, a taken name, and a fourth replica on three hosts', async () => {
    const { fleet, ops } = setup(['a', 'b']);
    await expect(ops.create(input())).rejects.toThrow(expect.objectContaining({ code: status.RESOURCE_EXHAUSTED, message: expect.stringMatching(/needs 3 distinct hosts: 2 of 3 members/) }));
    expect(fleet.store.clusters.all()).toEqual([]);
    expect(fleet.store.instances.all()).toEqual([]);
    await ops.create(input({ replicas: 1 }));
    await expect(ops.create(input({ replicas: 1 }))).rejects.toThrow(expect.objectContaining({ code: status.ALREADY_EXISTS }));
  });

  it('switchover: old primary read-only, writers killed, target promoted, others re-pointed, history written', async () => {
    const { fleet, agents, engine, ops } = setup();
    const { members, operation } = await ops.create(input());
    await engine.wait(operation.id, 5000);
    for (const a of agents.values()) a.calls = [];
    const sw = await ops.switchover('orders', 'orders-3');
    const op = await engine.wait(sw.id, 5000);
    expect(op!.state, op!.error).toBe('succeeded');
    const [p, , t] = members;
    expect(agents.get(p!.node)!.calls.slice(0, 2)).toEqual(['read-only true', 'kill clients']);
    expect(agents.get(t!.node)!.calls).toEqual(['reset replica', 'read-only false']);
    expect(agents.get(p!.node)!.calls.slice(2)).toEqual(['read-only true persist', `replicate from ${fleet.store.nodes.get(t!.node)!.host}`]);
    const roles = fleet.store.instances.inCluster('orders').map((m) => [m.name, m.clusterRole]);
    expect(roles[0]).toEqual(['orders-3', 'primary']);
    expect(roles.slice(1).sort()).toEqual([['orders-1', 'replica'], ['orders-2', 'replica']]);
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ kind: 'switchover', outcome: 'done', fromInstance: p!.id, toInstance: t!.id });
  });

  it('a switchover whose target cannot catch up is aborted: the old primary takes writes again, the store keeps it', async () => {
    const { fleet, agents, engine, ops } = setup();
    const { members, operation } = await ops.create(input());
    await engine.wait(operation.id, 5000);
    const [p, t] = members;
    agents.get(t!.node)!.reach = false;
    for (const a of agents.values()) a.calls = [];
    const op = await engine.wait((await ops.switchover('orders', t!.name)).id, 5000);
    expect(op!.state).toBe('failed');
    expect(op!.error).toMatch(/did not execute the source's final GTID set/);
    // The cut-over gave writes back itself; the undo makes sure of it after re-pointing the target.
    expect(agents.get(p!.node)!.calls.slice(0, 3)).toEqual(['read-only true', 'kill clients', 'read-only false']);
    expect(agents.get(p!.node)!.calls.at(-1)).toBe('read-only false');
    expect(agents.get(t!.node)!.calls).not.toContain('read-only false');
    expect(fleet.store.instances.get(p!.id)!.clusterRole).toBe('primary');
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ kind: 'switchover', outcome: 'aborted', fromInstance: p!.id, toInstance: t!.id });
  });

  it('a replica seed that fails after its copy booted keeps the copy in the trash, with what it held that the primary lacks', async () => {
    const { fleet, agents, engine, ops } = setup(['a', 'b', 'c']);
    const { operation } = await ops.create(input({ replicas: 1 }));
    expect((await engine.wait(operation.id, 5000))!.state).toBe('succeeded');
    const had = new Set(fleet.store.instances.inCluster('orders').map((m) => m.node));
    const free = ['a', 'b', 'c'].find((n) => !had.has(n))!;
    agents.get(free)!.ownWrite = '9f22fa47-71ca-11e1-9e33-c80aa9429562:1';
    const op = await engine.wait((await ops.addReplica('orders')).id, 5000);
    expect(op!.state).toBe('failed');
    expect(op!.error).toMatch(/conflicts with the binary log/);
    const copy = agents.get(free)!.removes[0]!;
    expect(copy).toMatchObject({ purge: true, purgeStartedData: false });
    expect(fleet.store.discarded.list('', 10)).toEqual([
      expect.objectContaining({ instanceId: copy.id, node: free, path: `/d/berth/.trash/${copy.id}-1`, unseenGtids: '9f22fa47-71ca-11e1-9e33-c80aa9429562:1', unseenCount: 1, reason: expect.stringMatching(/^a copy of the primary orders-\d that failed$/) }),
    ]);
    expect(fleet.store.events.page({ kind: 'instance.data-discarded', limit: 10, offset: 0 }).items[0]!.message).toMatch(/is in the trash at .*; it held 1 transactions the server that stayed lacks: 9f22fa47/);
  });

  it('refuses to remove the primary or the last replica of a semi-sync cluster', async () => {
    const { engine, ops } = setup();
    const { operation } = await ops.create(input({ replicas: 1 }));
    await engine.wait(operation.id, 5000);
    await expect(ops.removeReplica('orders', 'orders-1')).rejects.toThrow(/is the primary of orders: switch over first/);
    await expect(ops.removeReplica('orders', 'orders-2')).rejects.toThrow(/last replica of semi-sync cluster/);
    await expect(ops.switchover('orders', 'orders-1')).rejects.toThrow(/is the primary of orders already/);
  });
});

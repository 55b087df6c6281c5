import { describe, expect, it } from 'vitest';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { DEFAULT_FAILOVER, type FailoverParams } from './cluster-failover';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';

const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G };
const P = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const E = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

// One agent per node; replica status as the test sets it.
class FakeAgent {
  calls: string[] = [];
  status = { received: '', executed: '' };
  down = false;
  constructor(readonly node: string) {}
  private check() {
    if (this.down) return Promise.reject(new Error(`agent ${this.node} unreachable`));
    return Promise.resolve();
  }
  async createInstance(r: { id: string }) {
    return { containerId: `c-${r.id}`, flavor: 'mysql', version: '9.7.4', state: 'running' };
  }
  async inspectInstance() {
    return { state: 'running' };
  }
  async stopReplica(r: { id: string; ioOnly: boolean }) {
    await this.check();
    this.calls.push(`stop-io ${r.ioOnly}`);
    return { receivedGtids: this.status.received, executedGtids: this.status.executed, sqlRunning: true, lastSqlError: '', lastIoError: '' };
  }
  async startReplica() {
    this.calls.push('start');
    return {};
  }
  async waitForGtid(r: { gtidSet: string }) {
    this.calls.push(`wait ${r.gtidSet}`);
    this.status.executed = r.gtidSet;
    return { reached: true, executedGtids: r.gtidSet };
  }
  async resetReplica() {
    this.calls.push('reset');
    return {};
  }
  async setReadOnly(r: { readOnly: boolean; persist: boolean }) {
    this.calls.push(`read-only ${r.readOnly} persist ${r.persist}`);
    return { revoked: [], executedGtids: this.status.executed };
  }
  async configureReplica(r: { sourceHost: string; sourcePort: number; user: string }) {
    this.calls.push(`replicate from ${r.sourceHost}:${r.sourcePort} as ${r.user}`);
    return {};
  }
  async getReplicaStatus() {
    return { ioRunning: true, sqlRunning: true, lastIoError: '', lastSqlError: '', secondsBehind: 0 };
  }
  async stopInstance() {
    await this.check();
    this.calls.push('stop-instance');
    return {};
  }
}

async function setup() {
  const fleet = FleetState.load(Store.open(':memory:'));
  const agents = new Map(['a', 'b', 'c'].map((n) => [n, new FakeAgent(n)]));
  for (const [i, n] of ['a', 'b', 'c'].entries()) {
    fleet.registerNode({ name: n, agentAddress: `${n}:1`, host: `127.0.0.${21 + i}`, labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
  }
  const done: string[] = [];
  const { engine } = fleetEngine(fleet, { for: (node: string) => agents.get(node)! }, { failover: { ...DEFAULT_FAILOVER, onDone: (c) => done.push(c) } });
  fleet.createCluster({ name: 'orders', state: 'running', replication: 'semi-sync', semiSyncTimeoutMs: 10_000, flavor: 'mysql', image: 'img', ...shape, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'berth_repl', replPassword: 'pw', monitorUser: 'berth_monitor', monitorPassword: 'pw2' });
  const ids: Record<string, string> = {};
  for (const n of ['a', 'b', 'c']) {
    const { instance, operation } = await createInstance(engine, fleet, { name: `orders-${n}`, shape, node: n });
    const created = (await engine.wait(operation.id, 5000))!;
    expect(created.state, created.error).toBe('succeeded');
    fleet.setMembership(instance.id, 'orders', n === 'a' ? 'primary' : 'replica');
    ids[n] = instance.id;
  }
  const run = async (lastExecuted = `${P}:1-100`, serverUuid = P) => {
    const params: FailoverParams = { cluster: 'orders', primaryId: ids.a!, reason: 'test: container stopped', detectedAtMs: Date.now(), lastPrimary: { executedGtids: lastExecuted, serverUuid, serverId: 1 } };
    const op = await engine.submit('cluster-failover', params);
    return (await engine.wait(op.id, 5000))!;
  };
  return { fleet, agents, ids, run, done };
}

describe('cluster-failover operation', () => {
  it('promotes the replica that received the most, re-points the other, fences the old primary, records the failover', async () => {
    const { fleet, agents, ids, run, done } = await setup();
    agents.get('b')!.status = { received: `${P}:1-100`, executed: `${P}:1-97` };
    agents.get('c')!.status = { received: `${P}:1-99`, executed: `${P}:1-99` };
    const op = await run();
    expect(op.state, op.error).toBe('succeeded');
    // Writable, not persisted: a member boots read-only whatever its role.
    expect(agents.get('b')!.calls).toEqual(['stop-io true', `wait ${P}:1-100`, 'reset', 'read-only false persist undefined']);
    expect(agents.get('c')!.calls).toEqual(['stop-io true', 'read-only true persist true', 'replicate from 127.0.0.22:3301 as berth_repl']);
    expect(agents.get('a')!.calls).toEqual(['stop-instance']);
    const members = fleet.store.instances.inCluster('orders');
    expect(members.find((m) => m.clusterRole === 'primary')!.id).toBe(ids.b);
    expect(fleet.store.instances.get(ids.a!)).toMatchObject({ fenced: true, clusterRole: 'replica' });
    const [h] = fleet.store.clusters.history('orders');
    expect(h).toMatchObject({ kind: 'failover', outcome: 'done', fromInstance: ids.a, toInstance: ids.b, lostTransactions: 0, operationId: op.id });
    expect(done).toEqual(['orders']);
  });

  it('async: transactions the old primary had and no replica received are the lost window', async () => {
    const { fleet, agents, run } = await setup();
    agents.get('b')!.status = { received: `${P}:1-95`, executed: `${P}:1-95` };
    agents.get('c')!.status = { received: `${P}:1-90`, executed: `${P}:1-90` };
    expect((await run(`${P}:1-100`)).state).toBe('succeeded');
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ lostTransactions: 5, message: expect.stringMatching(/lost at least 5 transactions/) });
  });

  it('refuses a replica with an errant transaction and fences it instead of re-pointing it', async () => {
    const { fleet, agents, ids, run } = await setup();
    agents.get('b')!.status = { received: `${P}:1-100`, executed: `${P}:1-100,${E}:1` };
    agents.get('c')!.status = { received: `${P}:1-100`, executed: `${P}:1-100` };
    expect((await run()).state).toBe('succeeded');
    expect(fleet.store.instances.inCluster('orders').find((m) => m.clusterRole === 'primary')!.id).toBe(ids.c);
    expect(fleet.store.instances.get(ids.b!)!.fenced).toBe(true);
    expect(agents.get('b')!.calls).toEqual(['stop-io true']);
  });

  it('no replica may be promoted: aborts, replication resumes, the primary stays, the history says why', async () => {
    const { fleet, agents, ids, run } = await setup();
    agents.get('b')!.status = { received: `${P}:1-100`, executed: `${P}:1-100,${E}:1` };
    agents.get('c')!.down = true;
    const op = await run();
    expect(op.state).toBe('failed');
    expect(op.error).toMatch(/errant/);
    expect(agents.get('b')!.calls).toEqual(['stop-io true', 'start']);
    expect(fleet.store.instances.inCluster('orders').find((m) => m.clusterRole === 'primary')!.id).toBe(ids.a);
    expect(fleet.store.instances.get(ids.a!)!.fenced).toBe(false);
    expect(fleet.store.clusters.history('orders')[0]).toMatchObject({ outcome: 'aborted', message: expect.stringMatching(/errant/) });
  });

  it('MySQL primary never reported (no server_uuid): aborts saying so, instead of calling every replica errant', async () => {
    const { fleet, agents, ids, run } = await setup();
    agents.get('b')!.status = { received: `${P}:1-100`, executed: `${P}:1-100` };
    agents.get('c')!.status = { received: `${P}:1-100`, executed: `${P}:1-100` };
    const op = await run('', '');
    expect(op.state).toBe('failed');
    expect(op.error).toMatch(/server_uuid of the dead primary is unknown/);
    expect(fleet.store.instances.inCluster('orders').find((m) => m.clusterRole === 'primary')!.id).toBe(ids.a);
  });

  it('the old primary unreachable (host lost): fenced in the store, the failover still completes', async () => {
    const { fleet, agents, ids, run } = await setup();
    agents.get('a')!.down = true;
    agents.get('b')!.status = { received: `${P}:1-100`, executed: `${P}:1-100` };
    agents.get('c')!.status = { received: `${P}:1-100`, executed: `${P}:1-100` };
    expect((await run()).state).toBe('succeeded');
    expect(fleet.store.instances.get(ids.a!)!.fenced).toBe(true);
    expect(fleet.store.clusters.history('orders')[0]!.message).toMatch(/container not stopped yet/);
  });
});

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { UsageMap } from '../state/usage';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';
import type { ResizeRequest } from './resize';

const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G };

// One node's agent: answers every call data movement makes, and records the calls. A call named
// in `fail` throws as many times as its count says.
class FakeAgent {
  calls: string[] = [];
  fail: Record<string, number> = {};
  writable = new Set<string>();
  constructor(readonly node: string) {}
  private call(name: string) {
    this.calls.push(name);
    if ((this.fail[name] ?? 0) > 0) {
      this.fail[name]!--;
      throw new Error(`${name} on ${this.node}: injected failure`);
    }
  }
  creates: { requireTls?: boolean }[] = [];
  async createInstance(r: { id: string; replica?: boolean; requireTls?: boolean }) {
    this.call('createInstance');
    this.creates.push({ requireTls: r.requireTls });
    if (!r.replica) this.writable.add(r.id);
    return { containerId: `c-${r.id}`, flavor: 'mariadb', version: '10.11.0' };
  }
  async inspectInstance() {
    return { state: 'running' };
  }
  freeAfterRemove = 100 * G;
  removes: { id: string; node?: string; diskPath?: string; purge?: boolean; purgeStartedData?: boolean }[] = [];
  async removeInstance(r: { id: string; node?: string; diskPath?: string; purge?: boolean; purgeStartedData?: boolean }) {
    this.call('removeInstance');
    this.removes.push(r);
    this.writable.delete(r.id);
    // What the disk measured after the removal (the files gone); started data not shown to hold
    // nothing the survivor lacks stays in the trash, as the agent does.
    return { existed: true, disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: this.freeAfterRemove }], trashPath: r.purgeStartedData ? '' : `/d/berth/.trash/${r.id}-1` };
  }
  // What this server's origins wrote last (MariaDB: binlog state and slave position).
  origins = '0-1-10';
  async setReadOnly(r: { id: string; readOnly: boolean }) {
    this.call(`setReadOnly(${r.readOnly})`);
    if (r.readOnly) this.writable.delete(r.id);
    else this.writable.add(r.id);
    return { revoked: [], executedGtids: '0-1-10' };
  }
  async createReplicationUser() {
    this.call('createReplicationUser');
    return {};
  }
  async dropReplicationUser() {
    this.call('dropReplicationUser');
    return {};
  }
  async configureReplica() {
    this.call('configureReplica');
    return {};
  }
  async getReplicaStatus() {
    return { ioRunning: true, sqlRunning: true, secondsBehind: 0, executedGtids: '0-1-10', lastIoError: '', lastSqlError: '', originGtids: this.origins };
  }
  async killClientConnections() {
    this.call('killClientConnections');
    return { killed: 0, executedGtids: '0-1-10' };
  }
  async waitForGtid() {
    this.call('waitForGtid');
    return { reached: true, executedGtids: '0-1-10' };
  }
  async resetReplica() {
    this.call('resetReplica');
    return {};
  }
  // The hot copy's progress stream, ending in "done".
  seedInstance() {
    this.calls.push('seedInstance');
    const call = Object.assign(new EventEmitter(), { cancel: () => undefined });
    setImmediate(() => {
      call.emit('data', { phase: 'done', bytesDone: 100, bytesTotal: 100, bytesPerSecond: 100, gtidPosition: '0-1-10', positionApplied: false, method: 'mariabackup' });
      call.emit('end');
    });
    return call;
  }
}

async function setup() {
  const fleet = FleetState.load(Store.open(':memory:'));
  const node = (name: string, host: string) => ({ name, agentAddress: `${name}:1`, host, labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] });
  fleet.registerNode(node('a', '127.0.0.8'), []);
  fleet.registerNode(node('b', '127.0.0.9'), []);
  const agents = { a: new FakeAgent('a'), b: new FakeAgent('b') };
  const { engine } = fleetEngine(fleet, { for: (n: 'a' | 'b') => agents[n], raw: (n: 'a' | 'b') => agents[n] }, { usage: new UsageMap(), rollForwardRetries: 2, rollForwardBackoffMs: 10 });
  const x = { resize: (r: ResizeRequest) => engine.submit('resize', r) };
  const { instance, operation } = await createInstance(engine, fleet, { name: 'one', shape, node: 'a' });
  expect((await engine.wait(operation.id, 5000))!.state).toBe('succeeded');
  return { fleet, agents, engine, x, instance };
}

describe('migrate operation', () => {
  it('cut-over is the point of no return, then the target is promoted, the record switched and the source retired', async () => {
    const { fleet, agents, engine, x, instance } = await setup();
    // a's disk as its last heartbeat said, then as the agent measured it after the purge.
    fleet.snapshot.touch('a', Date.now(), [{ path: '/d', totalBytes: 100 * G, freeBytes: 5 * G }]);
    agents.a.freeAfterRemove = 60 * G;
    // The instance requires TLS of its clients: so does its copy.
    fleet.store.instanceTls.set(instance.id, { tls: true, required: true });
    const op = await x.resize({ instance: 'one', change: { cpuMillis: 1500 }, mode: 'migrate' });
    const done = (await engine.wait(op.id, 10_000))!;
    expect(done.state, done.error).toBe('succeeded');
    expect(agents.a.creates).toEqual([{ requireTls: false }]);
    expect(agents.b.creates).toEqual([{ requireTls: true }]);
    expect(done.steps.map((s) => s.name)).toEqual(['reserve-target', 'copy', 'replicate', 'catch-up', 'cut-over', 'promote', 'switch-record', 'retire-source']);
    expect(JSON.parse(done.steps[5]!.output)).toMatchObject({ finalGtid: '0-1-10', blockedMs: expect.any(Number) });
    expect(fleet.store.instances.get(instance.id)).toMatchObject({ node: 'b', cpuMillis: 1500 });
    expect([...agents.b.writable]).toEqual([instance.id]);
    expect(agents.a.calls.at(-1)).toBe('removeInstance');
    // Retired for good, not trashed: the target holds every commit (read, not assumed), and a
    // trashed copy would keep the space the move was meant to free on a's disk.
    expect(agents.a.removes).toEqual([{ id: instance.id, node: 'a', diskPath: instance.diskPath, purge: true, purgeStartedData: true }]);
    expect(fleet.store.discarded.list('', 10)).toEqual([]);
    // The space the purge freed counts for placements at once, not a heartbeat later.
    expect(fleet.snapshot.get('a')!.disks[0]!.freeBytes).toBe(60 * G);
  });

  it('a source that holds a transaction the target lacks is not deleted: kept in the trash and recorded with what it held', async () => {
    const { fleet, agents, engine, x, instance } = await setup();
    // A write reached the source after the final set (what the read-only guard exists to stop).
    agents.a.origins = '0-1-10,0-1-12';
    const op = await x.resize({ instance: 'one', change: { cpuMillis: 1500 }, mode: 'migrate' });
    const done = (await engine.wait(op.id, 10_000))!;
    expect(done.state, done.error).toBe('succeeded');
    expect(agents.a.removes.at(-1)).toMatchObject({ purge: true, purgeStartedData: false });
    expect(JSON.parse(done.steps.at(-1)!.output)).toMatchObject({ purged: false, trashPath: `/d/berth/.trash/${instance.id}-1`, unseenGtids: '0-1-12' });
    expect(fleet.store.discarded.list('one', 10)).toEqual([
      expect.objectContaining({ instanceId: instance.id, node: 'a', path: `/d/berth/.trash/${instance.id}-1`, unseenGtids: '0-1-12', unseenCount: 2, reason: 'the source of a finished migration', operationId: op.id }),
    ]);
    expect(fleet.store.events.page({ kind: 'instance.data-discarded', limit: 10, offset: 0 }).items).toHaveLength(1);
  });

  it('a promotion that keeps failing after the cut-over rolls forward: stuck with an event, the source kept read-only, and a retry finishes it', async () => {
    const { fleet, agents, engine, x, instance } = await setup();
    // The step's own attempts (1 + 3) all fail; the operation must not roll back.
    agents.b.fail.resetReplica = 4;
    const op = await x.resize({ instance: 'one', change: { cpuMillis: 1500 }, mode: 'migrate' });
    const stuck = (await engine.wait(op.id, 30_000))!;
    expect(stuck.state).toBe('stuck');
    expect(stuck.error).toMatch(/promote: .*resetReplica on b: injected failure.*past the point of no return/);
    expect(stuck.steps.find((s) => s.name === 'promote')!.state).toBe('failed');
    // Never undone: the target is still there, the source still read-only, the record unmoved,
    // both reservations held.
    expect(agents.b.calls).not.toContain('removeInstance');
    expect(agents.a.calls.filter((c) => c === 'setReadOnly(false)')).toEqual([]);
    expect(agents.a.writable.size + agents.b.writable.size).toBe(0);
    expect(fleet.store.instances.get(instance.id)!.node).toBe('a');
    expect(fleet.snapshot.get('b')!.allocated.cpuMillis).toBe(1500);
    expect(fleet.store.events.recent(50).map((e) => e.kind)).toContain('migrate.stuck');
    // Another operation on the instance is refused while it is stuck.
    await expect(x.resize({ instance: 'one', change: { cpuMillis: 500 }, mode: 'in-place' })).rejects.toThrow(/op-/);

    engine.retry(op.id);
    const done = (await engine.wait(op.id, 10_000))!;
    expect(done.state, done.error).toBe('succeeded');
    expect(fleet.store.instances.get(instance.id)!.node).toBe('b');
    expect([...agents.b.writable]).toEqual([instance.id]);
    expect(fleet.snapshot.get('a')!.allocated.cpuMillis).toBe(0);
  }, 30_000);

  it('a cut-over that fails before the point of no return is undone: target removed, source writable again', async () => {
    const { fleet, agents, engine, x, instance } = await setup();
    agents.b.fail.waitForGtid = 1;
    const op = await x.resize({ instance: 'one', change: { cpuMillis: 1500 }, mode: 'migrate' });
    const done = (await engine.wait(op.id, 10_000))!;
    expect(done.state).toBe('failed');
    expect(agents.b.calls.at(-1)).toBe('removeInstance');
    // The abandoned copy is purged (the source has it all; a retry needs b's space again).
    expect(agents.b.removes.at(-1)).toMatchObject({ id: instance.id, node: 'b', purge: true });
    expect([...agents.a.writable]).toEqual([instance.id]);
    expect(fleet.store.instances.get(instance.id)!.node).toBe('a');
    expect(fleet.snapshot.get('b')!.allocated.cpuMillis).toBe(0);
  });
});

import { withRequestScope } from './request-scope';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';
import { removeNode } from './nodes';
import type { RequestKey } from './request-scope';
import type { InstanceRow } from '../store/instances';

const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G };

// An agent that keeps instances in memory; each call can be made to fail or to hang.
class FakeAgentClient {
  readonly made = new Map<string, { state: string }>();
  calls: string[] = [];
  failCreate?: string;
  failRemove?: string;
  holdCreate?: Promise<void>;
  // What the create answers as the container's state (a real agent: 'running').
  answerState = '';
  // mysqld had started on the data: a remove asked to keep such data keeps it.
  started = false;
  async createInstance(r: { id: string }) {
    this.calls.push(`create ${r.id}`);
    await this.holdCreate;
    this.made.set(r.id, { state: 'running' });
    if (this.failCreate) throw new Error(this.failCreate);
    return { containerId: `c-${r.id}`, flavor: 'mariadb', version: '10.11.0', state: this.answerState };
  }
  async inspectInstance(r: { id: string }) {
    this.calls.push(`inspect ${r.id}`);
    return { state: this.made.get(r.id)?.state ?? 'missing' };
  }
  async removeInstance(r: { id: string; keepStartedData?: boolean }) {
    this.calls.push(`remove ${r.id}${r.keepStartedData ? ' keep' : ''}`);
    if (this.failRemove) throw new Error(this.failRemove);
    const kept = !!r.keepStartedData && this.started;
    return { existed: this.made.delete(r.id), dataKept: kept, dataPath: kept ? `/d/berth/${r.id}` : '' };
  }
}

function setup() {
  const fleet = FleetState.load(Store.open(':memory:'));
  fleet.registerNode(
    { name: 'a', agentAddress: 'a:1', host: '127.0.0.9', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3301, portMax: 3302, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] },
    [],
  );
  const agent = new FakeAgentClient();
  const { engine, deps } = fleetEngine(fleet, { for: () => agent });
  const ops = {
    create: (r: Parameters<typeof createInstance>[2], request?: RequestKey) => createInstance(engine, fleet, r, request),
    delete: (instance: string, force?: boolean) => engine.submit('delete', { instance, force }),
    retryOnKeptData: async (i: InstanceRow) => {
      const operation = await engine.submit('create', { retryInstanceId: i.id });
      return { instance: fleet.store.instances.get(i.id)!, operation };
    },
    removeNode: (name: string, force: boolean) => removeNode(deps, (id) => engine.busy(id), name, force),
  };
  return { fleet, agent, engine, ops, deps };
}

describe('the create and delete operation types, admitted through Engine.submit', () => {
  it('create: reserves with the operation, builds through the agent, records what it made', async () => {
    const { fleet, agent, engine, ops } = setup();
    const { instance, operation } = await ops.create({ name: 'orders', shape, antiAffinityGroup: 'g1' });
    expect(operation).toMatchObject({ type: 'create', params: { instanceId: instance.id }, subjects: [{ kind: 'instance', name: instance.id }], nextStep: 0 });
    expect(fleet.snapshot.get('a')!.allocated.cpuMillis).toBe(1000);
    const op = await engine.wait(operation.id, 5000);
    expect(op!.state).toBe('succeeded');
    expect(JSON.parse(op!.steps[0]!.output)).toEqual({ containerId: `c-${instance.id}`, flavor: 'mariadb', version: '10.11.0' });
    expect(fleet.store.instances.get(instance.id)).toMatchObject({ state: 'running', containerId: `c-${instance.id}`, antiAffinityGroup: 'g1', cluster: 'g1' });
    expect(agent.calls).toEqual([`create ${instance.id}`, `inspect ${instance.id}`]);
  });

  it('create answered with a running container: verify-running makes no second agent call', async () => {
    const { fleet, agent, engine, ops } = setup();
    agent.answerState = 'running';
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    expect((await engine.wait(operation.id, 5000))!.state).toBe('succeeded');
    expect(agent.calls).toEqual([`create ${instance.id}`]);
    expect(fleet.store.instances.get(instance.id)).toMatchObject({ state: 'running', containerId: `c-${instance.id}` });
  });

  it('create that fails: the container and the reservation are undone, nothing is left', async () => {
    const { fleet, agent, engine, ops } = setup();
    agent.failCreate = 'mysqld did not come up';
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    const op = await engine.wait(operation.id, 5000);
    expect(op).toMatchObject({ state: 'failed', error: 'create-container: mysqld did not come up' });
    expect(agent.calls).toEqual([`create ${instance.id}`, `remove ${instance.id} keep`]);
    expect(fleet.store.instances.all()).toEqual([]);
    expect(fleet.snapshot.get('a')).toMatchObject({ instanceCount: 0, allocated: { cpuMillis: 0, memoryBytes: 0 } });
  });

  it('create whose undo fails keeps the reservation and marks the instance failed', async () => {
    const { fleet, agent, engine, ops } = setup();
    agent.failCreate = 'boom';
    agent.failRemove = 'node unreachable';
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    const op = await engine.wait(operation.id, 5000);
    expect(op!.error).toBe('create-container: boom; undo create-container: node unreachable; left behind: create-container, reservation');
    expect(fleet.store.instances.get(instance.id)).toMatchObject({ state: 'failed' });
    expect(fleet.snapshot.get('a')!.instanceCount).toBe(1);
  });

  it('delete: removes the container and frees the reservation', async () => {
    const { fleet, agent, engine, ops } = setup();
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    await engine.wait(operation.id, 5000);
    const del = await ops.delete('orders');
    expect((await engine.wait(del.id, 5000))!.state).toBe('succeeded');
    expect(agent.made.size).toBe(0);
    expect(fleet.store.instances.get(instance.id)).toBeUndefined();
    expect(fleet.snapshot.get('a')).toMatchObject({ instanceCount: 0, freePort: 3301 });
  });

  it('delete while the create still runs is refused, naming the create', async () => {
    const { agent, engine, ops } = setup();
    let release!: () => void;
    agent.holdCreate = new Promise((r) => (release = r));
    const { operation } = await ops.create({ name: 'orders', shape });
    await new Promise((r) => setTimeout(r, 5));
    let err: { code?: number; message: string } | undefined;
    try {
      await ops.delete('orders');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe(status.FAILED_PRECONDITION);
    expect(err?.message).toContain(operation.id);
    release();
    expect((await engine.wait(operation.id, 5000))!.state).toBe('succeeded');
  });

  it('refuses a second instance with the same name and a shape no node can take', async () => {
    const { ops } = setup();
    await ops.create({ name: 'orders', shape });
    await expect(ops.create({ name: 'orders', shape })).rejects.toThrow(/already exists/);
    await expect(ops.create({ name: 'big', shape: { ...shape, memoryBytes: 64 * G } })).rejects.toThrow(/insufficient memory/);
  });

  it('create that fails after mysqld started: data and reservation kept, the instance failed with the path; asked again, it retries on them', async () => {
    const { fleet, agent, engine, ops } = setup();
    agent.failCreate = 'login over TCP failed';
    agent.started = true;
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    const op = await engine.wait(operation.id, 5000);
    expect(op!.error).toBe(`create-container: login over TCP failed; undo create-container: container removed, data kept at a:/d/berth/${instance.id} (mysqld had started on it): the reservation stays; left behind: create-container, reservation`);
    const kept = fleet.store.instances.get(instance.id)!;
    expect(kept.state).toBe('failed');
    expect(kept.message).toBe(`create failed after mysqld had started (create-container: login over TCP failed): container removed, data kept at a:/d/berth/${instance.id}; create it again with the same name and shape to retry on this data, or delete it (the data goes to the trash)`);
    expect(fleet.snapshot.get('a')!.instanceCount).toBe(1);
    expect(fleet.store.events.page({ limit: 50, offset: 0 }).items.map((e) => e.kind)).toContain('create.data_kept');

    agent.failCreate = undefined;
    const again = await ops.retryOnKeptData(kept);
    expect(again.instance).toMatchObject({ id: instance.id, state: 'pending' });
    expect((await engine.wait(again.operation.id, 5000))!.state).toBe('succeeded');
    expect(fleet.store.instances.get(instance.id)).toMatchObject({ state: 'running', message: '' });
    await expect(ops.retryOnKeptData(kept)).rejects.toThrow(/nothing to retry/);
  });

  it('forced delete: refused while the node heartbeats; once it is down, forgets the instance without calling it', async () => {
    const { fleet, agent, engine, ops } = setup();
    const { instance, operation } = await ops.create({ name: 'orders', shape });
    await engine.wait(operation.id, 5000);
    const callsAfterCreate = agent.calls.length;
    await expect(ops.delete('orders', true)).rejects.toThrow(/node a is up \(its agent heartbeats\)/);
    fleet.snapshot.touch('a', Date.now() - 10 * 60_000, []);
    const del = await ops.delete('orders', true);
    const done = await engine.wait(del.id, 5000);
    expect(done!.state).toBe('succeeded');
    expect(JSON.parse(done!.steps[1]!.output)).toEqual({ forgotten: `a:/d/berth/${instance.id}` });
    expect(agent.calls.slice(callsAfterCreate)).toEqual([]);
    expect(agent.made.has(instance.id)).toBe(true);
    expect(fleet.store.instances.all()).toEqual([]);
  });

  it('node removal: refused while it heartbeats or holds instances; forced, it forgets them with it', async () => {
    const { fleet, engine, ops } = setup();
    const { operation } = await ops.create({ name: 'orders', shape });
    await engine.wait(operation.id, 5000);
    expect(() => ops.removeNode('a', true)).toThrow(/node a is up/);
    fleet.snapshot.touch('a', Date.now() - 10 * 60_000, []);
    expect(() => ops.removeNode('a', false)).toThrow('node a still has 1 instances (orders): delete them, or remove it with force to forget them');
    expect(ops.removeNode('a', true)).toEqual(['orders']);
    expect(fleet.store.nodes.all()).toEqual([]);
    expect(fleet.snapshot.get('a')).toBeUndefined();
    expect(fleet.snapshot.nodes()).toEqual([]);
    expect(fleet.store.instances.all()).toEqual([]);
  });

  it('request ids are stored with the reservation and with the delete, and refused when taken', async () => {
    const { fleet, engine, ops } = setup();
    const key = { caller: 'cert:alice', id: 'r-1', method: 'CreateInstance', fingerprint: 'f' };
    const { instance, operation } = await ops.create({ name: 'orders', shape }, key);
    expect(fleet.store.requests.get('cert:alice', 'r-1')).toMatchObject({ method: 'CreateInstance', instanceId: instance.id, operationId: operation.id });
    expect(fleet.store.requests.get('cert:bob', 'r-1')).toBeUndefined();
    await expect(ops.create({ name: 'other', shape }, key)).rejects.toThrow('request_id r-1 is already taken');
    expect(fleet.store.instances.find('other')).toBeUndefined();
    await engine.wait(operation.id, 5000);
    // Any operation recorded in a request scope carries its id, in the same transaction.
    const scope = { key: { caller: 'cert:alice', id: 'd-1', method: 'DeleteInstance', fingerprint: 'g' }, claimed: false, done: false };
    const del = await withRequestScope(scope, () => ops.delete('orders', false));
    expect(scope.claimed).toBe(true);
    expect(fleet.store.requests.get('cert:alice', 'd-1')).toMatchObject({ instanceId: instance.id, operationId: del.id });
  });
});

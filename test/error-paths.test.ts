import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitUntil } from './harness/cluster';
import { FakeAgent, type FailPoint, type FakeNodeSpec } from './harness/fake-agent';
import { expectOp, statusOf } from './harness/ops';

// What a failed or interrupted operation leaves behind, through the real manager process, its
// gRPC API and its SQLite file. The hosts are simulated agents, because the failures under test
// (a host that vanishes mid-call, a remove that fails, a crash mid-undo) need exact timing; the
// same failures against real agents and real MariaDB are in real-failures.test.ts.
const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: 1 * G, diskBytes: 10 * G };

describe('error paths of create and delete', () => {
  const cluster = new TestCluster(['--node-timeout', '3']);
  const fakes: FakeAgent[] = [];
  let nextPort = 24001;

  // Each test gets its own host, so no test depends on what another left behind.
  async function host(name: string, over: Partial<FakeNodeSpec> = {}): Promise<FakeAgent> {
    const ports: [number, number] = [nextPort, nextPort + 9];
    nextPort += 10;
    const a = await new FakeAgent({ name: cluster.nodeName(name), cpuMillis: 8000, memoryBytes: 32 * G, disks: [100 * G], ports, ...over }, cluster.registryAddress, cluster.tlsDir).start();
    fakes.push(a);
    await waitUntil(`node ${a.spec.name} ready`, async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === a.spec.name)?.state === 'ready');
    return a;
  }

  const nodeOf = async (a: FakeAgent) => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === a.spec.name)!;
  const allocated = async (a: FakeAgent) => {
    const n = await nodeOf(a);
    return { ...n.allocated!, instances: n.instanceCount };
  };
  const NONE = { cpuMillis: 0, memoryBytes: 0, diskBytes: 0, instances: 0 };
  const ONE = { cpuMillis: shape.cpuMillis, memoryBytes: shape.memoryBytes, diskBytes: shape.diskBytes, instances: 1 };
  const create = (name: string, a: FakeAgent) => cluster.portal.createInstance({ name, resources: shape, node: a.spec.name });
  // The manager's own file: the rows that hold a reservation.
  const rowsOn = (a: FakeAgent) => {
    const db = new Database(path.join(cluster.dir, 'manager', 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT id, state, port FROM instances WHERE node = ?').all(a.spec.name) as { id: string; state: string; port: number }[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    await cluster.start([]);
  });
  afterAll(async () => {
    await Promise.all(fakes.map((a) => a.stop()));
    await cluster.stop();
  });

  it.each<[FailPoint, RegExp]>([
    ['before-files', /create-container: .*injected failure before-files/],
    ['after-files', /create-container: .*initializing the data directory failed \(exit 1\)/],
    ['after-mysqld', /create-container: .*mysqld exited \(code 1\)/],
  ])('a create failing on the agent %s is undone there: no files, no container, no row, no reservation', async (point, error) => {
    const a = await host(`fail-${point}`);
    a.failNextCreate(point);
    const res = await create(`f-${point}`, a);
    const id = res.instance!.id;
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    expect(op.error).toMatch(error);
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['create-container', 'failed'],
      ['verify-running', 'pending'],
    ]);
    // The manager asked the agent to clean up what it had made, and it is gone.
    expect(a.calls).toEqual([`CreateInstance ${id}`, `RemoveInstance ${id}`]);
    expect([...a.files.keys()]).toEqual([]);
    expect([...a.instances.keys()]).toEqual([]);
    expect(await statusOf(cluster.portal.getInstance({ instance: id }))).toEqual({ code: 'NOT_FOUND', details: `no instance ${id}` });
    expect(rowsOn(a)).toEqual([]);
    expect(await allocated(a)).toEqual(NONE);
  });

  it('the agent vanishing during a create: the instance says what is left and keeps its reservation; delete cleans up once the agent is back', async () => {
    const a = await host('gone-create');
    const gate = a.hold('CreateInstance');
    const res = await create('vanishes', a);
    const id = res.instance!.id;
    await gate.reached;
    a.crash();
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    // Neither the create nor its undo reached the agent: what it made is unknown, so the
    // reservation (CPU, memory, disk, port) stays and the instance says so.
    expect(op.error).toMatch(/^create-container: .*; undo create-container: /);
    // The step whose undo failed says so (engine v2's undo_failed); the reservation (made at
    // admission) was not given back, since what the agent made is unknown.
    expect(op.steps.map((s) => s.state)).toEqual(['undo_failed', 'pending']);
    const inst = await cluster.portal.getInstance({ instance: id });
    expect(inst.state).toBe('failed');
    expect(inst.message).toMatch(/^create failed and was not fully undone: /);
    expect(rowsOn(a)).toEqual([{ id, state: 'failed', port: res.instance!.port }]);
    expect(await allocated(a)).toEqual(ONE);

    await a.restart();
    await waitUntil('the agent back', async () => (await nodeOf(a)).state === 'ready');
    const del = await cluster.portal.deleteInstance({ instance: id });
    await expectOp(cluster, del.id, 'succeeded');
    expect(a.calls.filter((c) => c.startsWith('RemoveInstance'))).toEqual([`RemoveInstance ${id}`]);
    expect(rowsOn(a)).toEqual([]);
    expect(await allocated(a)).toEqual(NONE);
    gate.release();
  });

  it('the agent unreachable during a delete: the delete fails and keeps the reservation; run again once the agent is back, it succeeds', async () => {
    const a = await host('gone-delete');
    const res = await create('doomed', a);
    const id = res.instance!.id;
    await expectOp(cluster, res.operation!.id, 'succeeded');
    a.crash();
    const del = await cluster.portal.deleteInstance({ instance: id });
    const op = await expectOp(cluster, del.id, 'failed');
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['mark-deleting', 'done'],
      ['remove-container', 'failed'],
      ['release', 'pending'],
    ]);
    const inst = await cluster.portal.getInstance({ instance: id });
    expect(inst.state).toBe('failed');
    expect(inst.message).toMatch(/^delete failed, run it again: remove-container: /);
    expect(await allocated(a)).toEqual(ONE);
    expect([...a.instances.keys()]).toEqual([id]); // still running on its host

    await a.restart();
    await waitUntil('the agent back', async () => (await nodeOf(a)).state === 'ready');
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: id })).id, 'succeeded');
    expect([...a.instances.keys()]).toEqual([]);
    expect([...a.files.keys()]).toEqual([]);
    expect(rowsOn(a)).toEqual([]);
    expect(await allocated(a)).toEqual(NONE);
  });

  it('a delete that failed on the agent is retried by running it again', async () => {
    const a = await host('retry-delete');
    const res = await create('stubborn', a);
    const id = res.instance!.id;
    await expectOp(cluster, res.operation!.id, 'succeeded');
    a.failNextRemove(1, 'device or resource busy');
    const first = await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: id })).id, 'failed');
    expect(first.error).toBe('remove-container: 13 INTERNAL: device or resource busy');
    expect((await cluster.portal.getInstance({ instance: id })).state).toBe('failed');
    expect(await allocated(a)).toEqual(ONE);
    expect([...a.instances.keys()]).toEqual([id]);

    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: id })).id, 'succeeded');
    expect(a.calls.filter((c) => c.startsWith('RemoveInstance'))).toEqual([`RemoveInstance ${id}`, `RemoveInstance ${id}`]);
    expect([...a.instances.keys()]).toEqual([]);
    expect(await statusOf(cluster.portal.getInstance({ instance: id }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await allocated(a)).toEqual(NONE);
  });

  it('a port clash reported by the agent fails the create and leaves the instance holding the port alone', async () => {
    const a = await host('clash');
    // A stopped berth instance the manager does not know (made by another manager, say): its
    // port is in no heartbeat's busy list, so the scheduler offers it and the agent refuses.
    const squatter = 'i-5a5a5a5a5a5a';
    a.instances.set(squatter, { id: squatter, name: 'squatter', state: 'stopped', port: a.spec.ports[0], diskPath: a.diskPath(0), containerId: 'fake-squatter', resources: shape });
    a.files.set(squatter, { diskPath: a.diskPath(0), diskBytes: shape.diskBytes });
    await a.heartbeat();
    const res = await create('clasher', a);
    expect(res.instance!.port).toBe(a.spec.ports[0]);
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    expect(op.error).toBe(`create-container: 9 FAILED_PRECONDITION: port ${a.spec.ports[0]} on node ${a.spec.name} is taken by instance ${squatter}`);
    expect([...a.instances.keys()]).toEqual([squatter]);
    expect([...a.files.keys()]).toEqual([squatter]);
    expect(rowsOn(a)).toEqual([]);
    expect(await allocated(a)).toEqual(NONE);
  });

  it('a manager killed while it undoes a failed create resumes the undo, not the create', async () => {
    const a = await host('crash-undo');
    a.failNextCreate('after-files');
    const gate = a.hold('RemoveInstance');
    const res = await create('half-undone', a);
    const id = res.instance!.id;
    await gate.reached; // the create failed and its undo is under way
    await cluster.restartManager();
    await waitUntil('the agent registered with the new manager', async () => (await nodeOf(a)).state === 'ready');
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    expect(op.error).toMatch(/injected failure after-files/);
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['create-container', 'failed'],
      ['verify-running', 'pending'],
    ]);
    // Create was called once: the restarted manager went on undoing.
    expect(a.calls.filter((c) => c.startsWith('CreateInstance'))).toEqual([`CreateInstance ${id}`]);
    expect([...a.files.keys()]).toEqual([]);
    expect([...a.instances.keys()]).toEqual([]);
    expect(rowsOn(a)).toEqual([]);
    expect(await allocated(a)).toEqual(NONE);
    gate.release();
  });

  it('allocations, ports and in-flight creates are the same after a manager restart', async () => {
    const a = await host('restart-a');
    const b = await host('restart-b');
    const made = [];
    for (const [name, node] of [['r1', a], ['r2', a], ['r3', b]] as const) made.push(await create(name, node));
    for (const m of made) await expectOp(cluster, m.operation!.id, 'succeeded');
    const gate = b.hold('CreateInstance');
    const inflight = await create('r4', b);
    await gate.reached;
    const before = { a: await allocated(a), b: await allocated(b) };
    expect(before).toEqual({ a: { ...ONE, cpuMillis: 2000, memoryBytes: 2 * G, diskBytes: 20 * G, instances: 2 }, b: { ...ONE, cpuMillis: 2000, memoryBytes: 2 * G, diskBytes: 20 * G, instances: 2 } });
    const ports = { a: rowsOn(a).map((r) => r.port).sort(), b: rowsOn(b).map((r) => r.port).sort() };

    await cluster.restartManager();
    expect({ a: await allocated(a), b: await allocated(b) }).toEqual(before);
    expect({ a: rowsOn(a).map((r) => r.port).sort(), b: rowsOn(b).map((r) => r.port).sort() }).toEqual(ports);
    // The interrupted create finishes, and the next instance on each node gets a new port.
    await expectOp(cluster, inflight.operation!.id, 'succeeded');
    gate.release();
    for (const [name, node] of [['r5', a], ['r6', b]] as const) {
      const r = await create(name, node);
      expect(ports[node === a ? 'a' : 'b']).not.toContain(r.instance!.port);
      expect(r.instance!.port).toBe(node.spec.ports[0] + 2);
    }
  });
});

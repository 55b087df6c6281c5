import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthClient, OperationFailedError, pages, type Event, type Paged } from '../packages/client';
import { FakeAgent } from './harness/fake-agent';
import { TestCluster, waitUntil } from './harness/cluster';

const G = 1024 ** 3;
const shape = { cpuMillis: 250, memoryBytes: G / 4, diskBytes: G };

// The client package (packages/client, as built by set-up) against a real manager over mTLS and
// tokens, with simulated nodes: operations waited on through the watch stream, lists followed
// page by page, events resumed across a manager restart, changes retried with one request id
// while the manager is down.
describe('@berth/client', () => {
  const cluster = new TestCluster();
  let agents: FakeAgent[] = [];
  let admin: BerthClient;

  beforeAll(async () => {
    await cluster.start([]);
    agents = await Promise.all(
      ['c1', 'c2'].map((n, i) => new FakeAgent({ name: cluster.nodeName(n), cpuMillis: 8000, memoryBytes: 16 * G, disks: [100 * G], ports: [5100 + i * 20, 5119 + i * 20] }, cluster.registryAddress, cluster.tlsDir).start()),
    );
    const files = cluster.certFor('admin', 'admin');
    admin = new BerthClient({ address: cluster.managerAddress, ca: files.ca, cert: files.cert, key: files.key, retry: { attempts: 30, backoffMs: 200, maxBackoffMs: 1000 } });
    await waitUntil('both nodes listed', async () => (await admin.call.listNodes({})).nodes.length === 2);
  });
  afterAll(async () => {
    admin?.close();
    await cluster.stop();
    await Promise.all(agents.map((a) => a.stop()));
  });

  it('creates an instance and follows its operation to the end through the watch stream', async () => {
    const res = await admin.call.createInstance({ name: 'cl-one', resources: shape });
    const seen: string[] = [];
    const done = await admin.waitOperation(res.operation!.id, (op) => seen.push(op.state));
    expect(done.state).toBe('succeeded');
    expect(seen.at(-1)).toBe('succeeded');
    expect((await admin.call.getInstance({ instance: 'cl-one' })).state).toBe('running');
    // A refusal is an error at once, not retried.
    await expect(admin.call.createInstance({ name: 'Not A Name!', resources: shape })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const del = await admin.call.deleteInstance({ instance: 'cl-one' });
    await expect(admin.waitOperation(del.id)).resolves.toMatchObject({ state: 'succeeded' });
    // A create that fails on its node: the wait throws, naming the operation and its error.
    agents[0]!.failNextCreate('after-files', 'injected: disk gone');
    const bad = await admin.call.createInstance({ name: 'cl-bad', resources: shape, node: agents[0]!.spec.name });
    const failed = await admin.waitOperation(bad.operation!.id).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OperationFailedError);
    expect((failed as OperationFailedError).operation.state).toBe('failed');
    expect((failed as Error).message).toMatch(/injected: disk gone/);
  });

  it('walks a paged list, each item exactly once', async () => {
    for (let i = 0; i < 7; i++) await admin.waitOperation((await admin.call.createInstance({ name: `cl-p${i}`, resources: shape })).operation!.id);
    const names: string[] = [];
    let fetched = 0;
    const counted = async (r: object) => (fetched++, admin.call.listInstances(r));
    for await (const i of pages(counted, { pageSize: 3 }, (p: Paged) => (p as unknown as { instances: { name: string }[] }).instances)) names.push(i.name);
    expect(fetched).toBe(3);
    expect(names.filter((n) => n.startsWith('cl-p')).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `cl-p${i}`));
    const all: string[] = [];
    for await (const i of admin.all('listInstances', { pageSize: 2 }, (r) => r.instances)) all.push(i.name);
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(names.sort());
  });

  it('a token caller reads but may not change; a change is refused without a retry', async () => {
    const { token } = await admin.call.createToken({ name: 'cl-viewer', role: 'viewer' });
    const viewer = new BerthClient({ address: cluster.managerAddress, ca: cluster.certFor('admin', 'admin').ca, token });
    try {
      expect((await viewer.call.listNodes({})).nodes).toHaveLength(2);
      await expect(viewer.call.createInstance({ name: 'cl-nope', resources: shape })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    } finally {
      viewer.close();
    }
    // A token is never sent in plaintext.
    expect(() => new BerthClient({ address: cluster.managerAddress, insecure: true, token })).toThrow(/plaintext/);
  });

  it('follows events across a manager restart, and retries a change with one request id while the manager is down', async () => {
    const ac = new AbortController();
    const got: Event[] = [];
    const first = (await admin.call.listInstances({})).instances.length;
    const reading = (async () => {
      for await (const e of admin.events({ kind: 'create.', afterId: 1 }, ac.signal)) got.push(e);
    })();
    // From the first event on (every create so far, then this one).
    await admin.waitOperation((await admin.call.createInstance({ name: 'cl-before', resources: shape })).operation!.id);
    await waitUntil('the event of cl-before', async () => got.some((e) => e.message.includes('cl-before')));
    // The manager goes away; a create is asked while it is down and answered once it is back.
    const m = cluster.manager!;
    m.kill('SIGKILL');
    await once(m, 'exit');
    const creating = admin.call.createInstance({ name: 'cl-during', resources: shape });
    await new Promise<void>((r) => setImmediate(r));
    cluster.startManager();
    const res = await creating;
    await admin.waitOperation(res.operation!.id);
    const names = (await admin.call.listInstances({})).instances.map((i) => i.name);
    expect(names.filter((n) => n === 'cl-during')).toHaveLength(1);
    expect(names).toHaveLength(first + 2);
    // The event stream came back by itself and missed nothing of what happened after the restart.
    await waitUntil('events after the restart', async () => got.some((e) => e.message.includes('cl-during')));
    ac.abort();
    await reading;
    const ids = got.map((e) => Number(e.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });
});

import net from 'node:net';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { agentProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import { TestCluster, waitUntil } from './harness/cluster';
import { FakeAgent } from './harness/fake-agent';
import { expectOp, statusOf } from './harness/ops';

const G = 1024 ** 3;
const M = 1024 ** 2;

// What the agents report in their heartbeats (busy ports, free space) decides placements: a port
// something else listens on is never handed out, a disk filled by something else takes no more.
describe('heartbeats: busy ports and free space, simulated hosts', () => {
  const cluster = new TestCluster();
  const fakes: FakeAgent[] = [];
  beforeAll(async () => {
    await cluster.start([]);
  });
  afterAll(async () => {
    await Promise.all(fakes.map((a) => a.stop()));
    await cluster.stop();
  });

  async function host(name: string, ports: [number, number], disks = [100 * G], over: Partial<FakeAgent['spec']> = {}) {
    const a = await new FakeAgent({ name: cluster.nodeName(name), cpuMillis: 64_000, memoryBytes: 256 * G, disks, ports, ...over }, cluster.managerAddress).start();
    fakes.push(a);
    await waitUntil(`node ${a.spec.name} ready`, async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === a.spec.name)?.state === 'ready');
    return a;
  }
  const small = { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: 1 * G };
  // The refusal of a create pinned to one node: the other hosts of this file are "not the requested node".
  const refusedOnPinned = (reason: string) => ({ code: 'RESOURCE_EXHAUSTED', details: expect.stringMatching(new RegExp(`^0/(\\d+) nodes can take it: (\\d+ not the requested node, )?1 ${reason}$`)) });

  it('a port that starts listening after registration is never given out, and the range runs out around it', async () => {
    const a = await host('busy', [25001, 25004]);
    // Registered with nothing busy; then something else takes 25001 and 25003.
    a.spec.foreignPorts = [25001, 25003];
    await a.heartbeat();
    const ports: number[] = [];
    for (const name of ['p1', 'p2']) {
      const r = await cluster.portal.createInstance({ name, resources: small, node: a.spec.name });
      ports.push(r.instance!.port);
      await expectOp(cluster, r.operation!.id, 'succeeded');
    }
    expect(ports).toEqual([25002, 25004]);
    expect(await statusOf(cluster.portal.createInstance({ name: 'p3', resources: small, node: a.spec.name }))).toEqual(refusedOnPinned('no free port'));
    // The listener goes away: its port is offered again.
    a.spec.foreignPorts = [25003];
    await a.heartbeat();
    const again = await cluster.portal.createInstance({ name: 'p4', resources: small, node: a.spec.name });
    expect(again.instance!.port).toBe(25001);
  });

  it('the instances a host runs are in its busy ports, and a released port is offered again', async () => {
    const a = await host('own', [25101, 25103]);
    const r = await cluster.portal.createInstance({ name: 'o1', resources: small, node: a.spec.name });
    await expectOp(cluster, r.operation!.id, 'succeeded');
    await a.heartbeat();
    expect(a.busyPorts()).toEqual([25101]);
    const plan = await cluster.portal.planInstance({ resources: small, node: a.spec.name });
    expect(plan.placement!.port).toBe(25102);
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'o1' })).id, 'succeeded');
    expect((await cluster.portal.planInstance({ resources: small, node: a.spec.name })).placement!.port).toBe(25101);
  });

  it('free space reported by the host shrinks as instances fill it, and a disk filled by others takes no more', async () => {
    // 10G disk, 5G of it taken by something else; each instance really writes its whole 1G.
    const a = await host('disk', [25201, 25299], [10 * G], { diskUseRatio: 1, foreignDiskBytes: [5 * G] });
    const free = async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === a.spec.name)!.disks[0]!;
    expect(await free()).toMatchObject({ totalBytes: 10 * G, freeBytes: 5 * G, allocatedBytes: 0 });
    for (let i = 0; i < 5; i++) {
      const r = await cluster.portal.createInstance({ name: `d${i}`, resources: small, node: a.spec.name });
      await expectOp(cluster, r.operation!.id, 'succeeded');
      await a.heartbeat();
      expect(await free()).toMatchObject({ freeBytes: (4 - i) * G, allocatedBytes: (i + 1) * G });
    }
    // 5G of the 10G are unreserved, but the disk itself is full.
    expect(await statusOf(cluster.portal.createInstance({ name: 'd5', resources: small, node: a.spec.name }))).toEqual(refusedOnPinned('no data disk with 1G free'));
  });

  it('a create the manager sends outside the host range or to a disk it does not have is refused by the agent', async () => {
    // The fake agent checks like the real one; this proves the check, the manager never sends such a create.
    const a = await host('checks', [25301, 25302]);
    const Agent = agentProto().berth.v1.Agent;
    const client = asyncClient(new Agent(a.address, grpc.credentials.createInsecure()));
    try {
      const base = { id: 'i-0123456789ab', name: 'x', image: 'img', resources: small, port: 25301, diskPath: a.diskPath(0), serverId: 1, adminUser: 'admin', adminPassword: 'pw' };
      expect(await statusOf(client.createInstance({ ...base, port: 25303 }))).toEqual({ code: 'INVALID_ARGUMENT', details: `port 25303 is outside node ${a.spec.name}'s range 25301-25302` });
      expect((await statusOf(client.createInstance({ ...base, diskPath: '/elsewhere' }))).code).toBe('INVALID_ARGUMENT');
      expect([...a.files.keys()]).toEqual([]);
    } finally {
      client.close();
    }
  });
});

describe('heartbeats: a foreign listener inside a real agent port range', () => {
  const cluster = new TestCluster();
  let base = 0;
  let listener: net.Server | undefined;

  beforeAll(async () => {
    // Two ports, both free now; the agent is started before anything listens on the first.
    base = 3461;
    await cluster.start([{ name: 'fl', host: '127.0.0.3', ports: `${base}-${base + 1}` }]);
  });
  afterAll(async () => {
    await new Promise((r) => (listener ? listener.close(r) : r(undefined)));
    await cluster.stop();
  });

  it('no instance is given the port, the instance gets the next one and serves SQL there, then the range is full', async () => {
    const node = cluster.nodeName('fl');
    const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };
    expect((await cluster.portal.planInstance({ resources: shape, node })).placement!.port).toBe(base);
    listener = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => listener!.listen(base, '127.0.0.1', r));
    // The next heartbeat reports it (the real agent reads /proc/net/tcp for every address).
    await waitUntil('the heartbeat to report the foreign listener', async () => (await cluster.portal.planInstance({ resources: shape, node })).placement?.port === base + 1, 20_000);

    const r = await cluster.portal.createInstance({ name: 'beside', resources: shape, node });
    expect(r.instance!.port).toBe(base + 1);
    await expectOp(cluster, r.operation!.id, 'succeeded');
    const c = r.credentials!;
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
    const [[row]] = (await conn.query('SELECT @@port AS port')) as unknown as [[{ port: number }]];
    expect(row.port).toBe(base + 1);
    await conn.end();
    expect(await statusOf(cluster.portal.createInstance({ name: 'no-room', resources: shape, node }))).toEqual({ code: 'RESOURCE_EXHAUSTED', details: '0/1 nodes can take it: 1 no free port' });
  });
});

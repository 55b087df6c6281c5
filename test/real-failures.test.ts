import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRevocations } from '../agent/revocations';
import { EpochFence } from '../agent/epoch';
import type { AgentClient } from '../src/gen/berth/v1/Agent';
import { agentProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { TestCluster, waitUntil } from './harness/cluster';
import { buildTestImage, INIT_FAILS, MYSQLD_EXITS, removeTestImages } from './harness/images';
import { expectOp, statusOf } from './harness/ops';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };

// Failures against the real thing: a real agent process, real Docker containers, real MariaDB
// images made to fail. Each failure must leave no container, no instance directory and no
// reservation behind.
describe('failures on a real agent', () => {
  const cluster = new TestCluster(['--node-timeout', '3']);
  const images: string[] = [];
  let agent: AsyncClient<AgentClient>;

  beforeAll(async () => {
    images.push(buildTestImage('initfail', cluster.id, INIT_FAILS), buildTestImage('mysqldexit', cluster.id, MYSQLD_EXITS));
    await cluster.start([{ name: 'rf', host: '127.0.0.4', ports: '3471-3480' }]);
    agent = cluster.agentClient(cluster.agents[0]!.address);
  });
  afterAll(async () => {
    agent?.close();
    await cluster.stop();
    removeTestImages(images);
  });

  const node = () => cluster.agents[0]!;
  // Everything a create could leave behind on the host and in the manager.
  async function leftovers() {
    const disk = node().disks[0]!;
    const root = path.join(disk, 'berth');
    const n = (await cluster.portal.listNodes({})).nodes.find((x) => x.name === node().node)!;
    return {
      containers: (await cluster.containers()).map((c) => `${c.Labels['berth.role']} ${c.Labels['berth.instance']} ${c.State}`),
      // A removed instance's directory goes to the disk's trash (purged after a retention time);
      // the agent keeps the fleet's certificate revocations and the leader epoch beside them.
      dirs: fs.existsSync(root) ? fs.readdirSync(root).filter((d) => d !== '.trash' && d !== path.basename(AgentRevocations.fileFor(disk)) && d !== path.basename(EpochFence.fileFor(disk))) : [],
      instances: (await cluster.portal.listInstances({})).instances.map((i) => `${i.name} ${i.state}`),
      allocated: [n.allocated, n.instanceCount],
    };
  }
  const EMPTY = { containers: [], dirs: [], instances: [], allocated: [{ cpuMillis: 0, memoryBytes: 0, diskBytes: 0 }, 0] };

  it('initialization exiting non-zero: the create fails with its output and leaves nothing', async () => {
    expect(await leftovers()).toEqual(EMPTY);
    const res = await cluster.portal.createInstance({ name: 'noinit', resources: shape, image: images[0]! });
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    expect(op.error).toMatch(/^create-container: .*initializing the data directory failed \(exit 7\): .*berth-test: the initializer fails on purpose/);
    expect(op.steps.map((s) => s.state)).toEqual(['failed', 'pending']);
    expect(await leftovers()).toEqual(EMPTY);
  });

  it('mysqld exiting at start: the create fails saying so and leaves nothing', async () => {
    expect(await leftovers()).toEqual(EMPTY);
    const res = await cluster.portal.createInstance({ name: 'nostart', resources: shape, image: images[1]! });
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    expect(op.error).toMatch(/^create-container: .*mysqld did not come up: mysqld exited \(code 3\)/);
    expect(op.steps.map((s) => s.state)).toEqual(['failed', 'pending']);
    expect(await leftovers()).toEqual(EMPTY);
  });

  it("the agent's own input checks refuse bad requests with INVALID_ARGUMENT and change nothing", async () => {
    const before = await leftovers();
    const disk = node().disks[0]!;
    const good = { id: 'i-0123456789ab', name: 'direct', image: 'berth/mariadb:10.11', resources: shape, port: 3471, diskPath: disk, serverId: 9, adminUser: 'admin', adminPassword: 'Pw-0123456789' };
    // One call at a time: a refusal that arrives while an earlier case is still awaited would
    // otherwise be an unhandled rejection, and a failing case would hide behind it.
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['an id that is not a berth id', () => agent.createInstance({ ...good, id: '../../etc' }), /instance id "\.\.\/\.\.\/etc" is not a berth instance id/],
      ['a port outside the range', () => agent.createInstance({ ...good, port: 3481 }), new RegExp(`port 3481 is outside node ${node().node}'s range 3471-3480`)],
      ['a disk that is not one of its disks', () => agent.createInstance({ ...good, diskPath: '/tmp' }), /disk \/tmp is not one of node .*'s data disks/],
      ['no admin password', () => agent.createInstance({ ...good, adminPassword: '' }), /admin user and password are required/],
      ['no memory', () => agent.createInstance({ ...good, resources: { ...shape, memoryBytes: 0 } }), /memory/],
      ['a bad name', () => agent.createInstance({ ...good, name: 'no spaces allowed' }), /instance name/],
      ['a remove of a bad id', () => agent.removeInstance({ id: 'i-../../x' }), /is not a berth instance id/],
      ['a stop of a bad id', () => agent.stopInstance({ id: '' }), /is not a berth instance id/],
    ];
    for (const [what, call, msg] of cases) {
      const s = await statusOf(call());
      expect(s, what).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(msg) });
    }
    expect(await statusOf(agent.inspectInstance({ id: 'i-0123456789ab' }))).toEqual({ code: 'NOT_FOUND', details: 'instance i-0123456789ab is not on this node' });
    expect(await leftovers()).toEqual(before);
  });

  it('the agent killed during a create: the instance is failed and keeps its reservation; once the agent is back a delete removes everything', async () => {
    expect(await leftovers()).toEqual(EMPTY);
    const res = await cluster.portal.createInstance({ name: 'orphan', resources: shape });
    await waitUntil('create-container to start', async () => (await cluster.portal.getOperation({ id: res.operation!.id })).steps[0]!.state === 'running', 30_000, 20);
    await cluster.killAgent(node(), 'SIGKILL');
    const op = await expectOp(cluster, res.operation!.id, 'failed');
    // The create was cut off (UNAVAILABLE or CANCELLED, depending on where the call was); its undo found no agent.
    expect(op.error).toMatch(/^create-container: (14 UNAVAILABLE|1 CANCELLED): .*; undo create-container: 14 UNAVAILABLE: /);
    const inst = await cluster.portal.getInstance({ instance: 'orphan' });
    expect(inst.state).toBe('failed');
    expect(inst.message).toMatch(/^create failed and was not fully undone: /);
    expect((await leftovers()).allocated).toEqual([{ cpuMillis: 500, memoryBytes: 512 * M, diskBytes: G }, 1]);

    cluster.startAgent(node());
    await cluster.agentListening(node());
    await cluster.waitForNodes();
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'orphan' })).id, 'succeeded');
    expect(await leftovers()).toEqual(EMPTY);
  });

  it('the agent down during a delete: the delete fails, the instance keeps running and its reservation; run again once the agent is back, it succeeds', async () => {
    expect(await leftovers()).toEqual(EMPTY);
    const res = await cluster.portal.createInstance({ name: 'survivor', resources: shape });
    await expectOp(cluster, res.operation!.id, 'succeeded');
    await cluster.killAgent(node(), 'SIGKILL');
    const first = await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'survivor' })).id, 'failed');
    expect(first.error).toMatch(/^remove-container: 14 UNAVAILABLE: /);
    const inst = await cluster.portal.getInstance({ instance: 'survivor' });
    expect(inst.state).toBe('failed');
    expect(inst.message).toMatch(/^delete failed, run it again: /);
    // Nothing was removed: mysqld still runs in its container, and its reservation holds.
    const left = await leftovers();
    expect(left.containers).toEqual([`mysqld ${res.instance!.id} running`]);
    expect(left.dirs).toEqual([res.instance!.id]);
    expect(left.allocated).toEqual([{ cpuMillis: 500, memoryBytes: 512 * M, diskBytes: G }, 1]);

    cluster.startAgent(node());
    await cluster.agentListening(node());
    await cluster.waitForNodes();
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'survivor' })).id, 'succeeded');
    expect(await leftovers()).toEqual(EMPTY);
  });
});

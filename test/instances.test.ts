import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateInstanceResponse__Output } from '../src/gen/berth/v1/CreateInstanceResponse';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };
const IMAGE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';

async function expectStatus(p: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    expect(grpc.status[e.code]).toBe(grpc.status[code]);
    if (message) expect(e.details).toMatch(message);
    return;
  }
  throw new Error(`expected ${grpc.status[code]}, the call succeeded`);
}

describe('instances on two real agents', () => {
  const cluster = new TestCluster(['--node-timeout', '3']);
  const created: CreateInstanceResponse__Output[] = [];

  beforeAll(async () => {
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: '3401-3410', labels: { zone: 'a' } },
      { name: 'b', host: '127.0.0.2', ports: '3411-3420', labels: { zone: 'b' } },
    ]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const waitOp = async (id: string) => {
    const op = await cluster.portal.waitOperation({ id, timeoutMs: 150_000 }, 160_000);
    return op;
  };

  it('creates three instances that spread over both nodes and serve SQL with the returned credentials', async () => {
    for (const name of ['alpha', 'bravo', 'charlie']) {
      created.push(await cluster.portal.createInstance({ name, resources: shape }));
    }
    const ops = await Promise.all(created.map((c) => waitOp(c.operation!.id)));
    for (const op of ops) expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    expect(ops[0]!.steps.map((s) => [s.name, s.state])).toEqual([
      ['reserve', 'done'],
      ['create-container', 'done'],
      ['verify-running', 'done'],
    ]);

    const nodes = new Set(created.map((c) => c.instance!.node));
    expect(nodes).toEqual(new Set([cluster.nodeName('a'), cluster.nodeName('b')]));

    for (const c of created) {
      const cred = c.credentials!;
      expect(cred.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
      await conn.query('CREATE DATABASE app');
      await conn.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))');
      await conn.query('INSERT INTO app.t VALUES (1, ?)', [c.instance!.name]);
      const [rows] = await conn.query('SELECT v FROM app.t WHERE id = 1');
      expect(rows).toEqual([{ v: c.instance!.name }]);
      // The shape reached mysqld: the buffer pool follows the memory limit.
      const [[vars]] = (await conn.query('SELECT @@innodb_buffer_pool_size AS pool, @@port AS port, @@log_bin AS binlog')) as unknown as [[{ pool: number; port: number; binlog: number }]];
      expect(vars).toEqual({ pool: 256 * M, port: c.instance!.port, binlog: 1 });
      await conn.end();
    }

    // Docker holds the limits the manager asked for, and the berth labels.
    const containers = await cluster.containers();
    expect(containers).toHaveLength(3);
    for (const c of created) {
      const info = await docker.getContainer((await cluster.portal.getInstance({ instance: c.instance!.id })).containerId).inspect();
      expect(info.HostConfig.NanoCpus).toBe(500_000_000);
      expect(info.HostConfig.Memory).toBe(512 * M);
      expect(info.HostConfig.MemorySwap).toBe(512 * M);
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(info.Config.Labels['berth.instance']).toBe(c.instance!.id);
    }

    const { nodes: list } = await cluster.portal.listNodes({});
    const alloc = Object.fromEntries(list.map((n) => [n.name, n.allocated!.memoryBytes]));
    expect(Object.values(alloc).reduce((a, b) => a + b, 0)).toBe(3 * 512 * M);
  });

  it('never writes a generated password to the manager or agent logs', () => {
    const logs = fs
      .readdirSync(cluster.dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => fs.readFileSync(path.join(cluster.dir, f), 'utf8'))
      .join('\n');
    // The processes run at debug level here, and the logs did record the creates.
    expect(logs).toContain('instance running');
    for (const c of created) expect(logs).not.toContain(c.credentials!.password);
  });

  it('deletes one: container, files and port are gone and its resources are free again', async () => {
    const victim = created[0]!.instance!;
    const before = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === victim.node)!;
    const dir = path.join(victim.diskPath, 'berth', victim.id);
    expect(fs.existsSync(path.join(dir, 'data', 'mysql'))).toBe(true);

    const op = await cluster.portal.deleteInstance({ instance: victim.name });
    expect((await waitOp(op.id)).state).toBe('succeeded');

    await expectStatus(cluster.portal.getInstance({ instance: victim.id }), grpc.status.NOT_FOUND);
    expect((await cluster.containers()).map((c) => c.Labels['berth.instance'])).not.toContain(victim.id);
    expect(fs.existsSync(dir)).toBe(false);
    const after = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === victim.node)!;
    expect(after.allocated!.cpuMillis).toBe(before.allocated!.cpuMillis - shape.cpuMillis);
    expect(after.allocated!.memoryBytes).toBe(before.allocated!.memoryBytes - shape.memoryBytes);
    expect(after.allocated!.diskBytes).toBe(before.allocated!.diskBytes - shape.diskBytes);
    expect(after.instanceCount).toBe(before.instanceCount - 1);
    // Nothing listens on the port any more, and the scheduler hands it out again.
    await expect(mysql.createConnection({ host: victim.host, port: victim.port, user: 'x', connectTimeout: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    const again = await cluster.portal.createInstance({ name: 'alpha2', resources: shape, node: victim.node });
    expect(again.instance!.port).toBe(victim.port);
    expect((await waitOp(again.operation!.id)).state).toBe('succeeded');
    // A fresh data directory: nothing of the deleted instance's data came back with the port.
    const cred = again.credentials!;
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    const [dbs] = await conn.query("SHOW DATABASES LIKE 'app'");
    expect(dbs).toEqual([]);
    await conn.query('CREATE DATABASE app');
    await conn.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))');
    await conn.query("INSERT INTO app.t VALUES (1, 'alpha2')");
    await conn.end();
    created[0] = again;
  });

  it('survives kill -9 of an agent: instances come back running, no duplicates, no foreign container touched', async () => {
    const agent = cluster.agents[1]!;
    // Containers that are not this agent's: one with no berth labels, one owned by another node.
    const foreign = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '600'], Labels: { 'berth.test': cluster.id }, HostConfig: { NetworkMode: 'none' } });
    const other = await docker.createContainer({
      Image: IMAGE,
      Cmd: ['sleep', '600'],
      Labels: { 'berth.managed': 'true', 'berth.node': `someone-else-${cluster.id}`, 'berth.role': 'init', 'berth.instance': 'i-000000000000' },
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await foreign.start();
      await other.start();
      const mine = (await cluster.portal.listInstances({ node: agent.node })).instances;
      expect(mine.length).toBeGreaterThan(0);
      const beforeIds = (await cluster.containers()).map((c) => c.Id).sort();

      await cluster.killAgent(agent, 'SIGKILL');
      // The manager notices the silence and stops vouching for the instances' state.
      await waitUntil('node down', async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === agent.node)?.state === 'down', 20_000);
      expect((await cluster.portal.getInstance({ instance: mine[0]!.id })).state).toBe('unknown');

      cluster.startAgent(agent);
      await cluster.waitForNodes();
      const back = await waitUntil(
        'instances running again',
        async () => {
          const list = (await cluster.portal.listInstances({ node: agent.node })).instances;
          return list.every((i) => i.state === 'running') && list;
        },
        20_000,
      );
      expect(back.map((i) => i.id).sort()).toEqual(mine.map((i) => i.id).sort());
      expect(back.map((i) => i.containerId).sort()).toEqual(mine.map((i) => i.containerId).sort());
      expect((await cluster.containers()).map((c) => c.Id).sort()).toEqual(beforeIds);
      for (const c of [foreign, other]) expect((await c.inspect()).State.Running).toBe(true);
      // Still serving SQL through it all.
      const cred = created.find((c) => c.instance!.node === agent.node)!.credentials!;
      const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
      const [rows] = await conn.query('SELECT COUNT(*) AS n FROM app.t');
      expect(rows).toEqual([{ n: 1 }]);
      await conn.end();
    } finally {
      await foreign.remove({ force: true });
      await other.remove({ force: true });
    }
  });

  describe('bad input changes nothing', () => {
    async function state() {
      const { instances } = await cluster.portal.listInstances({});
      const { nodes } = await cluster.portal.listNodes({});
      const dirs = cluster.agents.flatMap((a) => a.disks.flatMap((d) => (fs.existsSync(path.join(d, 'berth')) ? fs.readdirSync(path.join(d, 'berth')) : [])));
      return {
        instances: instances.map((i) => i.id).sort(),
        containers: (await cluster.containers()).map((c) => c.Id).sort(),
        dirs: dirs.sort(),
        allocated: nodes.map((n) => [n.name, n.allocated, n.instanceCount]),
      };
    }

    it.each([
      ['memory 0', { name: 'bad1', resources: { ...shape, memoryBytes: 0 } }, grpc.status.INVALID_ARGUMENT, /memory/],
      ['negative CPU', { name: 'bad2', resources: { ...shape, cpuMillis: -1000 } }, grpc.status.INVALID_ARGUMENT, /cpu/],
      ['unknown node', { name: 'bad3', resources: shape, node: 'no-such-node' }, grpc.status.INVALID_ARGUMENT, /no-such-node is not registered/],
      ['a name with spaces', { name: 'has space', resources: shape }, grpc.status.INVALID_ARGUMENT, /instance name/],
      ['a 200-character name', { name: 'x'.repeat(200), resources: shape }, grpc.status.INVALID_ARGUMENT, /instance name/],
      ['a disk larger than any node has', { name: 'bad6', resources: { ...shape, diskBytes: 1024 ** 5 } }, grpc.status.RESOURCE_EXHAUSTED, /^0\/2 nodes can take it: 2 no data disk with 1P? ?free|^0\/2 nodes can take it: 2 no data disk/],
      ['no resources at all', { name: 'bad7' }, grpc.status.INVALID_ARGUMENT, /resources are required/],
      ['a bad image reference', { name: 'bad8', resources: shape, image: 'Bad Image!' }, grpc.status.INVALID_ARGUMENT, /image/],
      // The same name with the same shape is a retry and returns the instance (test/paging.test.ts).
      ['a name already taken, with another shape', { name: 'bravo', resources: { ...shape, cpuMillis: 600 } }, grpc.status.ALREADY_EXISTS, /already exists/],
    ])('%s', async (_what, req, code, msg) => {
      const before = await state();
      await expectStatus(cluster.portal.createInstance(req), code, msg);
      expect(await state()).toEqual(before);
    });

    it('a create that fails on the node is rolled back: no row, no container, no files, no port', async () => {
      const before = await state();
      const res = await cluster.portal.createInstance({ name: 'ghost', resources: shape, image: 'berth/no-such-image:1' });
      const op = await waitOp(res.operation!.id);
      expect(op.state).toBe('failed');
      expect(op.error).toMatch(/image berth\/no-such-image:1 is not on this host/);
      expect(op.steps.map((s) => s.state)).toEqual(['undone', 'failed', 'pending']);
      await expectStatus(cluster.portal.getInstance({ instance: res.instance!.id }), grpc.status.NOT_FOUND);
      expect(await state()).toEqual(before);
    });

    it('berthctl refuses bad values before calling the manager', async () => {
      const run = promisify(execFile);
      const err = await run(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'create', '--name', 'x', '--cpu', '-1', '--memory', '1G', '--disk', '1G']).catch((e: { stderr: string; code: number }) => e);
      expect((err as { code: number }).code).not.toBe(0);
      expect((err as { stderr: string }).stderr).toMatch(/invalid CPU/);
    });
  });

  it('cordon keeps new instances off a node; uncordon opens it again', async () => {
    const a = cluster.nodeName('a');
    expect((await cluster.portal.cordonNode({ name: a })).cordoned).toBe(true);
    await expectStatus(cluster.portal.createInstance({ name: 'pinned', resources: shape, node: a }), grpc.status.RESOURCE_EXHAUSTED, /1 node cordoned/);
    expect((await cluster.portal.uncordonNode({ name: a })).cordoned).toBe(false);
    await expectStatus(cluster.portal.cordonNode({ name: 'nope' }), grpc.status.NOT_FOUND);
  });
});

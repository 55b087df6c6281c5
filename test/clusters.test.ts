import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster__Output } from '../src/gen/berth/v1/Cluster';
import { dialectFor } from '../src/mysql/dialect';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { expectStatus, FLAVORS, flavorArgs, waitOp } from './harness/flavors';
import { countRows, startWriter, type Address } from './harness/writer';

const run = promisify(execFile);
const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 3 * G };

// Three simulated hosts, each an agent and its mysqlds on an address of its own.
describe.each(FLAVORS)('replicated clusters ($flavor)', (f) => {
  let tc: TestCluster;
  const ctl = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT });

  beforeAll(async () => {
    tc = new TestCluster(['--node-timeout', '5', ...flavorArgs(f)]);
    await tc.start([
      { name: 'h1', host: '127.0.0.11', ports: '4001-4033', cpus: '8', memory: '8G', labels: { zone: 'z1' } },
      { name: 'h2', host: '127.0.0.12', ports: '4034-4066', cpus: '8', memory: '8G', labels: { zone: 'z2' } },
      { name: 'h3', host: '127.0.0.13', ports: '4067-4099', cpus: '8', memory: '8G', labels: { zone: 'z2' } },
    ]);
  });

  afterAll(async () => {
    await tc?.stop();
  });

  const get = (name: string) => tc.portal.getCluster({ name });
  const credentialsOf = async (instance: string): Promise<Address> => {
    const c = await tc.portal.getCredentials({ instance });
    return { host: c.host, port: c.port, user: c.user, password: c.password };
  };
  const primaryAddress = async (name: string): Promise<Address> => {
    const e = await tc.portal.getClusterEndpoints({ name });
    return credentialsOf(e.primary!.instanceId);
  };
  async function sql<T>(addr: Address, q: string, params: unknown[] = []): Promise<T[]> {
    const conn = await mysql.createConnection({ ...addr, connectTimeout: 3000 });
    try {
      return (await conn.query(q, params))[0] as T[];
    } finally {
      await conn.end();
    }
  }
  // Every replica healthy and on the primary's executed set.
  const converged = (name: string) =>
    waitUntil(
      `cluster ${name} to converge`,
      async () => {
        const c = await get(name);
        const p = c.members.find((m) => m.role === 'primary')!;
        return c.members.every((m) => m.health === 'ok' && m.executedGtids === p.executedGtids) && c;
      },
      30_000,
    );
  const semiSync = async (addr: Address) => (await sql<{ source_on: number; clients: number }>(addr, dialectFor(f.flavor).semiSyncStatus().sql))[0]!;

  it('creates a 1+2 semi-sync cluster: distinct hosts, read-only replicas replicating by GTID, semi-sync on', async () => {
    const res = await tc.portal.createCluster({ name: 'orders', resources: shape, replicas: 2, replication: 'semi-sync', semiSyncTimeoutMs: 5000, constraints: [], spreadOver: '', strategy: '', image: '', flavor: '' });
    expect(res.cluster!.members.map((m) => m.role)).toEqual(['primary', 'replica', 'replica']);
    await waitOp(tc, res.operation!.id);
    const c = await converged('orders');
    expect(c).toMatchObject({ state: 'running', replication: 'semi-sync', flavor: f.flavor, primary: 'orders-1' });
    expect(new Set(c.members.map((m) => m.instance!.node)).size).toBe(3);
    const p = c.members[0]!;
    for (const r of c.members.slice(1)) {
      expect(r).toMatchObject({ role: 'replica', readOnly: true, ioRunning: true, sqlRunning: true, source: `${p.instance!.host}:${p.instance!.port}` });
    }
    expect(p.readOnly).toBe(false);

    // A write on the primary reaches both replicas by GTID; semi-sync is on with both as clients.
    const primary = await primaryAddress('orders');
    await sql(primary, 'CREATE DATABASE app');
    await sql(primary, 'CREATE TABLE app.t (id INT PRIMARY KEY)');
    await sql(primary, 'INSERT INTO app.t VALUES (1), (2)');
    const after = await converged('orders');
    expect(after.members[0]!.executedGtids).not.toBe(p.executedGtids);
    await waitUntil('semi-sync on with two replicas', async () => {
      const s = await semiSync(primary);
      return Number(s.source_on) === 1 && Number(s.clients) === 2;
    });
    const replica = await credentialsOf(after.members[1]!.instance!.id);
    expect(await sql<{ n: number }>(replica, 'SELECT COUNT(*) AS n FROM app.t')).toEqual([{ n: 2 }]);
    const status = (await sql<Record<string, unknown>>(replica, dialectFor(f.flavor).replicaStatus().sql))[0]!;
    if (f.flavor === 'mariadb') expect(status.Using_Gtid).toBe('Slave_Pos');
    else expect(Number(status.Auto_Position)).toBe(1);
    // Read-only holds for the admin account too.
    await expect(sql(replica, 'INSERT INTO app.t VALUES (3)')).rejects.toThrow(/read.only/i);

    // Members are instances with their role; berthctl shows roles, GTIDs, lag and health.
    const { instances } = await tc.portal.listInstances({ node: '' });
    expect(instances.filter((i) => i.clusterName === 'orders').map((i) => i.clusterRole).sort()).toEqual(['primary', 'replica', 'replica']);
    const out = (await ctl('cluster', 'get', 'orders')).stdout;
    expect(out).toMatch(/orders-1\s+primary\s+ok/);
    expect(out).toMatch(/orders-2\s+replica\s+ok\s+.*\d+ s, \d+ trx/);
    expect((await ctl('instance', 'list')).stdout).toMatch(/orders-2 .*replica of orders/);
    const ends = JSON.parse((await ctl('--json', 'cluster', 'endpoints', 'orders')).stdout) as { primary: { host: string; port: number } };
    expect(ends.primary).toMatchObject({ host: p.instance!.host, port: p.instance!.port });
  });

  it('refuses bad input with clear statuses and changes nothing', async () => {
    const base = { name: 'bad', resources: shape, replicas: 1, replication: '', semiSyncTimeoutMs: 0, constraints: [], spreadOver: '', strategy: '', image: '', flavor: '' };
    const before = (await tc.portal.listInstances({ node: '' })).instances.length;
    await expectStatus(tc.portal.createCluster({ ...base, replicas: 6 }), grpc.status.INVALID_ARGUMENT, /replicas must be between 0 and 5/);
    await expectStatus(tc.portal.createCluster({ ...base, replication: 'sync' }), grpc.status.INVALID_ARGUMENT, /not one of async, semi-sync/);
    await expectStatus(tc.portal.createCluster({ ...base, replicas: 0, replication: 'semi-sync' }), grpc.status.INVALID_ARGUMENT, /at least one replica/);
    await expectStatus(tc.portal.createCluster({ ...base, name: 'Bad_Name' }), grpc.status.INVALID_ARGUMENT, /cluster name/);
    await expectStatus(tc.portal.createCluster({ ...base, semiSyncTimeoutMs: 5 }), grpc.status.INVALID_ARGUMENT, /semi-sync timeout/);
    await expectStatus(tc.portal.createCluster({ ...base, name: 'orders' }), grpc.status.ALREADY_EXISTS);
    // Three hosts: four members cannot be on distinct ones; the reasons say why per filter.
    await expectStatus(tc.portal.createCluster({ ...base, replicas: 3 }), grpc.status.RESOURCE_EXHAUSTED, /3 of 4 members can be placed on distinct hosts; member 4 of 4: 0\/3 nodes can take it: 3 cluster member already on host/);
    // Hard spread over zones: only two zones.
    await expectStatus(tc.portal.createCluster({ ...base, replicas: 2, spreadOver: 'zone' }), grpc.status.RESOURCE_EXHAUSTED, /member 3 of 3: 0\/3 nodes can take it: 2 cluster member already on host, 1 cluster member already in zone/);
    await expectStatus(get('nope'), grpc.status.NOT_FOUND);
    await expectStatus(tc.portal.switchover({ cluster: 'nope', to: '' }), grpc.status.NOT_FOUND);
    expect((await tc.portal.listInstances({ node: '' })).instances.length).toBe(before);
    expect((await tc.portal.listClusters({})).clusters.map((c) => c.name)).toEqual(['orders']);
  });

  it('deletes the cluster: no member, container, directory or port left', async () => {
    const c = await get('orders');
    const op = await tc.portal.deleteCluster({ name: 'orders' });
    await waitOp(tc, op.id);
    await expectStatus(get('orders'), grpc.status.NOT_FOUND);
    expect((await tc.portal.listInstances({ node: '' })).instances.filter((i) => i.clusterName === 'orders')).toEqual([]);
    const ids = new Set(c.members.map((m) => m.instance!.id));
    expect((await tc.containers()).filter((x) => ids.has(x.Labels['berth.instance'] ?? ''))).toEqual([]);
    for (const m of c.members) {
      const disk = m.instance!.diskPath;
      expect(fs.existsSync(path.join(disk, 'berth', m.instance!.id)), m.instance!.name).toBe(false);
    }
    const { nodes } = await tc.portal.listNodes({});
    expect(nodes.every((n) => n.allocated!.memoryBytes === 0)).toBe(true);
  });
});

export type { Cluster__Output };

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';

const M = 1024 ** 2;
const G = 1024 ** 3;

// Both flavors on the same ports, one after the other (MySQL's migrations copy with CLONE).
describe.each(FLAVORS)('drain ($flavor)', (f) => {
  // 512M for both: MySQL 9.7's my.cnf is sized to it (src/mysql/memory.ts).
  const memory = 512 * M;
  const cluster = new TestCluster(['--node-timeout', '3', ...flavorArgs(f), '--drain-concurrency', '2']);

  beforeAll(async () => {
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: '3861-3870', cpus: '4', memory: '4G' },
      { name: 'b', host: '127.0.0.2', ports: '3871-3880', cpus: '4', memory: '4G' },
      { name: 'c', host: '127.0.0.3', ports: '3881-3890', cpus: '4', memory: '4G' },
    ]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('empties a node of three instances, data and credentials intact, through the admin HTTP API', async () => {
    const c = cluster.nodeName('c');
    const made = await Promise.all(['d1', 'd2', 'd3'].map((name) => cluster.portal.createInstance({ name, resources: { cpuMillis: 300, memoryBytes: memory, diskBytes: 1 * G }, node: c })));
    for (const m of made) expect((await cluster.portal.waitOperation({ id: m.operation!.id, timeoutMs: 150_000 }, 160_000)).state).toBe('succeeded');
    for (const m of made) {
      const conn = await mysql.createConnection({ host: m.credentials!.host, port: m.credentials!.port, user: m.credentials!.user, password: m.credentials!.password });
      await conn.query('CREATE DATABASE keep');
      await conn.query('CREATE TABLE keep.t (v VARCHAR(20))');
      await conn.query('INSERT INTO keep.t VALUES (?)', [m.instance!.name]);
      await conn.end();
    }

    const res = await fetch(`${cluster.adminUrl}/v1/nodes/${c}/drain`, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { cordoned: boolean; operationId: string };
    expect(body.cordoned).toBe(true);
    const op = await waitUntil('the drain to end', async () => {
      const o = await cluster.portal.waitOperation({ id: body.operationId, timeoutMs: 20_000 }, 30_000);
      return o.state === 'running' ? undefined : o;
    }, 600_000, 100);
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    expect(op.childIds).toHaveLength(3);

    const { instances } = await cluster.portal.listInstances({ node: '' });
    expect(instances.filter((i) => i.node === c)).toEqual([]);
    expect(instances).toHaveLength(3);
    for (const m of made) {
      const cred = await cluster.portal.getCredentials({ instance: m.instance!.name });
      expect(cred.host).not.toBe('127.0.0.3');
      const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
      const [rows] = await conn.query('SELECT v FROM keep.t').catch(async (err: Error) => {
        const states = await Promise.all((await cluster.containers()).map(async (x) => `${x.Names[0]} ${JSON.stringify((await docker.getContainer(x.Id).inspect()).State)}`));
        throw new Error(`${err.message} (${cred.host}:${cred.port})\n${states.join('\n')}\n${cluster.logs()}`);
      });
      await conn.end();
      expect(rows).toEqual([{ v: m.instance!.name }]);
    }
    const { nodes } = await cluster.portal.listNodes({});
    expect(nodes.find((n) => n.name === c)).toMatchObject({ cordoned: true, instanceCount: 0 });
    expect((await cluster.containers()).filter((x) => x.Labels['berth.node'] === c)).toEqual([]);
  });

  it('berthctl node drain on an empty node succeeds at once', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'node', 'drain', cluster.nodeName('c'), '--wait']);
    expect(stdout).toMatch(/\(drain\): succeeded/);
  });
});

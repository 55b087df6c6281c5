import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient } from '../src/gen/berth/v1/Agent';
import type { CreateInstanceResponse__Output } from '../src/gen/berth/v1/CreateInstanceResponse';
import { agentProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import { bufferPoolBytes, maxConnections } from '../agent/instance/mycnf';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';

const M = 1024 ** 2;
const G = 1024 ** 3;
const IMAGE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';
const MYSQL_IMAGE = process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7';

async function expectStatus(p: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    expect(grpc.status[e.code], e.details).toBe(grpc.status[code]);
    if (message) expect(e.details).toMatch(message);
    return e;
  }
  throw new Error(`expected ${grpc.status[code]}, the call succeeded`);
}

// A writer committing one row at a time, recording every acknowledged id and every error.
function startWriter(cred: { host: string; port: number; user: string; password: string }) {
  const acked: number[] = [];
  const errors: string[] = [];
  let stop = false;
  const done = (async () => {
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE IF NOT EXISTS w');
    await conn.query('CREATE TABLE IF NOT EXISTS w.t (id INT PRIMARY KEY, pad VARCHAR(100))');
    for (let n = 1; !stop; n++) {
      try {
        await conn.query('INSERT INTO w.t VALUES (?, REPEAT("x", 100))', [n]);
        acked.push(n);
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await conn.end();
  })();
  return { acked, errors, stop: async () => ((stop = true), await done) };
}

async function serverVars(cred: { host: string; port: number; user: string; password: string }) {
  const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
  const [[row]] = (await conn.query('SELECT @@innodb_buffer_pool_size AS pool, @@max_connections AS conns')) as unknown as [[{ pool: string; conns: string }]];
  const [[up]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Uptime'")) as unknown as [[{ Value: string }]];
  await conn.end();
  return { pool: Number(row.pool), conns: Number(row.conns), uptime: Number(up.Value) };
}

describe.each([
  [IMAGE, 3801, 'mariadb'],
  [MYSQL_IMAGE, 3821, 'mysql'],
] as const)('in-place resize (%s)', (image, port, flavor) => {
  const cluster = new TestCluster(['--node-timeout', '3', '--image', image]);
  let alpha: CreateInstanceResponse__Output;

  beforeAll(async () => {
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: `${port}-${port + 9}`, cpus: '4', memory: '3G' },
      { name: 'b', host: '127.0.0.2', ports: `${port + 10}-${port + 19}`, cpus: '4', memory: '2G' },
    ]);
    alpha = await cluster.portal.createInstance({ name: 'alpha', resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G }, node: cluster.nodeName('a') });
    const op = await cluster.portal.waitOperation({ id: alpha.operation!.id, timeoutMs: 150_000 }, 160_000);
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const container = async (id: string) => {
    const [c] = (await cluster.containers()).filter((x) => x.Labels['berth.instance'] === id);
    return docker.getContainer(c!.Id).inspect();
  };

  // MySQL 9.7 with mysqld's defaults took about 560M at rest and was killed by its 512M cgroup
  // under load; my.cnf is now sized to the container (src/mysql/memory.ts). Four writers of
  // 200-row batches (about 1 KB a row) push well past the buffer pool.
  it('survives four batch writers at 512M: never OOM-killed, never restarted', async () => {
    const cred = alpha.credentials!;
    const before = await serverVars(cred);
    const conns = await Promise.all([0, 1, 2, 3].map(() => mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password })));
    await conns[0]!.query('CREATE DATABASE IF NOT EXISTS load_test');
    await conns[0]!.query('CREATE TABLE load_test.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1100) NOT NULL)');
    const values = Array.from({ length: 200 }, () => '(REPEAT(SHA2(RAND(), 256), 16))').join(',');
    let rows = 0;
    const t0 = Date.now();
    await Promise.all(conns.map(async (c) => {
      while (rows < 280_000 && Date.now() - t0 < 40_000) {
        await c.query(`INSERT INTO load_test.t (pad) VALUES ${values}`);
        rows += 200;
      }
    }));
    await conns[0]!.query('DROP DATABASE load_test');
    await Promise.all(conns.map((c) => c.end()));
    // About 300 MB written through a 192M pool.
    expect(rows).toBeGreaterThanOrEqual(100_000);
    const inspect = await container(alpha.instance!.id);
    expect(inspect.State.OOMKilled).toBe(false);
    expect(inspect.RestartCount).toBe(0);
    expect(inspect.HostConfig.Memory).toBe(512 * M);
    const after = await serverVars(cred);
    expect(after.uptime).toBeGreaterThanOrEqual(before.uptime + Math.floor((Date.now() - t0) / 1000) - 1);
    expect(after.pool).toBe(bufferPoolBytes(512 * M, flavor));
  });

  it('grows 512M -> 1G and shrinks to 768M under a writer: limits, buffer pool and max_connections follow, mysqld never restarts', async () => {
    const cred = alpha.credentials!;
    const before = await serverVars(cred);
    const writer = startWriter(cred);
    await waitUntil('the writer to commit', async () => writer.acked.length > 20);

    for (const [memory, cpu] of [
      [1 * G, 1000],
      [768 * M, 750],
    ] as const) {
      const n0 = writer.acked.length;
      const op = await cluster.portal.resizeInstance({ instance: 'alpha', resources: { memoryBytes: memory, cpuMillis: cpu }, mode: '' });
      expect(op.type).toBe('resize');
      const done = await cluster.portal.waitOperation({ id: op.id, timeoutMs: 60_000 }, 70_000);
      expect(done.state, `${done.error}\n${cluster.logs()}`).toBe('succeeded');
      const applied = JSON.parse(done.outputs.apply!) as { bufferPoolBytes: number; maxConnections: number; memoryBytes: number };
      expect(applied.memoryBytes).toBe(memory);

      const inspect = await container(alpha.instance!.id);
      expect(inspect.HostConfig.Memory).toBe(memory);
      expect(inspect.HostConfig.MemorySwap).toBe(memory);
      expect(inspect.HostConfig.NanoCpus).toBe(cpu * 1_000_000);
      const vars = await serverVars(cred);
      expect(vars.pool).toBe(bufferPoolBytes(memory, flavor));
      expect(vars.conns).toBe(maxConnections(memory));
      expect(vars.uptime).toBeGreaterThanOrEqual(before.uptime);
      const i = await cluster.portal.getInstance({ instance: 'alpha' });
      expect(i.resources).toMatchObject({ memoryBytes: memory, cpuMillis: cpu });
      expect(i.node).toBe(cluster.nodeName('a'));
      await waitUntil('more commits after the resize', async () => writer.acked.length > n0 + 10);
    }
    await writer.stop();
    expect(writer.errors).toEqual([]);
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    const [[{ n }]] = (await conn.query('SELECT COUNT(*) AS n FROM w.t')) as unknown as [[{ n: number }]];
    await conn.end();
    expect(Number(n)).toBe(writer.acked.length);

    // The node's allocation follows the reservation.
    const { nodes } = await cluster.portal.listNodes({});
    expect(nodes.find((n) => n.name === cluster.nodeName('a'))!.allocated).toMatchObject({ memoryBytes: 768 * M, cpuMillis: 750 });

    // my.cnf was re-rendered with the new memory, so a restart keeps the values.
    const cnf = await promisify(execFile)('cat', [path.join(cluster.agents[0]!.disks[0]!, 'berth', alpha.instance!.id, 'conf', 'my.cnf')]);
    expect(cnf.stdout).toContain(`innodb-buffer-pool-size = ${bufferPoolBytes(768 * M, flavor)}`);
  });

  it('reports the new shape after an agent restart (the desired-state record, not the labels)', async () => {
    const a = cluster.agents[0]!;
    await cluster.killAgent(a);
    cluster.startAgent(a);
    await cluster.waitForNodes();
    const Agent = agentProto().berth.v1.Agent;
    const client = cluster.agentClient(a.address);
    try {
      const got = await waitUntil('the agent to answer', async () => client.inspectInstance({ id: alpha.instance!.id }));
      expect(got.resources).toMatchObject({ memoryBytes: 768 * M, cpuMillis: 750 });
    } finally {
      client.close();
    }
  });

  it('resizing to the current shape is an operation that succeeds at once', async () => {
    const op = await cluster.portal.resizeInstance({ instance: 'alpha', resources: { memoryBytes: 768 * M }, mode: 'auto' });
    const done = await cluster.portal.waitOperation({ id: op.id, timeoutMs: 10_000 });
    expect(done.state).toBe('succeeded');
    expect(JSON.parse(done.params)).toMatchObject({ decision: 'none' });
  });

  it('berthctl instance resize --wait follows the operation with plain lines when not on a terminal', async () => {
    const r = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'resize', 'alpha', '--cpu', '800m', '--wait']);
    expect(r.stdout).toMatch(/\(resize\): succeeded/);
    expect(r.stderr).toMatch(/^resize op-[0-9a-f]+: /m);
    expect(r.stderr).not.toContain('\r');
    expect((await cluster.portal.getInstance({ instance: 'alpha' })).resources!.cpuMillis).toBe(800);
    expect((await container(alpha.instance!.id)).HostConfig.NanoCpus).toBe(800_000_000);
  });

  it('refuses bad input at the edge and a disk shrink below what is used, naming the used bytes', async () => {
    await expectStatus(cluster.portal.resizeInstance({ instance: 'alpha', resources: {}, mode: '' }), grpc.status.INVALID_ARGUMENT, /at least one/);
    await expectStatus(cluster.portal.resizeInstance({ instance: 'alpha', resources: { memoryBytes: 1 } , mode: '' }), grpc.status.INVALID_ARGUMENT, /memory/);
    await expectStatus(cluster.portal.resizeInstance({ instance: 'alpha', resources: { memoryBytes: G }, mode: 'sideways' }), grpc.status.INVALID_ARGUMENT, /mode/);
    await expectStatus(cluster.portal.resizeInstance({ instance: 'nope', resources: { memoryBytes: G }, mode: '' }), grpc.status.NOT_FOUND);
    await expectStatus(cluster.portal.resizeInstance({ instance: 'alpha', resources: { diskBytes: 64 * M }, mode: '' }), grpc.status.INVALID_ARGUMENT, /uses \d+ bytes/);
    const i = await cluster.portal.getInstance({ instance: 'alpha' });
    expect(i.resources!.diskBytes).toBe(1 * G);
  });

  it('in-place only, past what the node has: RESOURCE_EXHAUSTED with the filter that refused; plan shows migrate', async () => {
    await expectStatus(cluster.portal.resizeInstance({ instance: 'alpha', resources: { memoryBytes: 3 * G + 512 * M }, mode: 'in-place' }), grpc.status.RESOURCE_EXHAUSTED, /memory/);
    const plan = await cluster.portal.planInstance({ resizeInstance: 'alpha', resources: { memoryBytes: 1536 * M }, resizeMode: 'auto' });
    expect(plan.resizeDecision).toBe('in-place');
    const far = await cluster.portal.planInstance({ resizeInstance: 'alpha', resources: { memoryBytes: 3 * G + 512 * M }, resizeMode: 'auto' });
    expect(far.resizeDecision).toBe('refused');
    expect(far.message).toMatch(/memory/);
    const mig = await cluster.portal.planInstance({ resizeInstance: 'alpha', resources: { memoryBytes: 1 * G }, resizeMode: 'migrate' });
    expect(mig.resizeDecision).toBe('migrate');
    expect(mig.placement!.node).toBe(cluster.nodeName('b'));

    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'plan', '--resize', 'alpha', '--memory', '1G', '--mode', 'migrate']);
    expect(stdout).toMatch(/migrate/);
    expect(stdout).toContain(cluster.nodeName('b'));
  });

  it('two in-place resizes racing for the last memory of a node: exactly one wins', async () => {
    const b = cluster.nodeName('b');
    const made = await Promise.all(['r1', 'r2'].map((name) => cluster.portal.createInstance({ name, resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G }, node: b })));
    for (const c of made) expect((await cluster.portal.waitOperation({ id: c.operation!.id, timeoutMs: 150_000 }, 160_000)).state).toBe('succeeded');
    // 2G offered, 1G taken: each asks for 512M more, only one fits.
    const results = await Promise.allSettled(['r1', 'r2'].map((name) => cluster.portal.resizeInstance({ instance: name, resources: { memoryBytes: 1 * G + 512 * M }, mode: 'in-place' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(grpc.status[(lost[0]!.reason as grpc.ServiceError).code]).toBe('RESOURCE_EXHAUSTED');
    expect((lost[0]!.reason as grpc.ServiceError).details).toMatch(/memory/);
    const op = (won[0] as PromiseFulfilledResult<{ id: string }>).value;
    expect((await cluster.portal.waitOperation({ id: op.id, timeoutMs: 60_000 })).state).toBe('succeeded');
    const { nodes } = await cluster.portal.listNodes({});
    expect(nodes.find((n) => n.name === b)!.allocated!.memoryBytes).toBe(2 * G);
  });
});

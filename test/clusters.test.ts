import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster__Output } from '../src/gen/berth/v1/Cluster';
import { dialectFor } from '../src/mysql/dialect';
import { screenshot, withBrowser } from './harness/browser';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { configWarnings, expectStatus, FLAVORS, flavorArgs, waitOp } from './harness/flavors';
import { countRows, startProber, startWriter, type Address } from './harness/writer';

const run = promisify(execFile);
const M = 1024 ** 2;
const G = 1024 ** 3;
// 1G: mariabackup runs inside the source's container, beside mysqld, within its memory limit
// (with 512M it was OOM-killed copying 1 GB).
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };

// Three simulated hosts, each an agent and its mysqlds on an address of its own.
describe.each(FLAVORS)('replicated clusters ($flavor)', (f) => {
  let tc: TestCluster;
  const ctl = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT });

  beforeAll(async () => {
    // A restarted primary is down for seconds: this file tests that it boots read-only and is
    // opened again by the manager, not a failover (test/failover.test.ts).
    tc = new TestCluster(['--node-timeout', '5', '--failover-mysqld-down', '120', ...flavorArgs(f)]);
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
  // Every replica healthy and on the primary's executed set; on a timeout the error shows
  // every member as GetCluster last saw it.
  async function converged(name: string): Promise<Cluster__Output> {
    let last: Cluster__Output | undefined;
    try {
      return await waitUntil(
        `cluster ${name} to converge`,
        async () => {
          last = await get(name);
          return last.members.every((m) => m.health === 'ok' && m.lagTransactions === 0) && last;
        },
        30_000,
      );
    } catch (err) {
      const seen = last?.members.map((m) => ({ name: m.instance!.name, role: m.role, state: m.instance!.state, health: m.health, problem: m.lastError, lag: m.lagTransactions, behind: m.secondsBehind, io: m.ioRunning, sql: m.sqlRunning, ro: m.readOnly, source: m.source, executed: m.executedGtids }));
      throw new Error(`${(err as Error).message}: ${JSON.stringify(seen)}`);
    }
  }
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
    // The applier runs as the Dialect renders it, and mysqld warns about none of the member's
    // my.cnf lines (semi-sync, replica, applier).
    const applier = Object.entries(dialectFor(f.flavor).applierSettings());
    for (const [k, v] of applier) expect((await sql<{ v: unknown }>(replica, `SELECT @@GLOBAL.${k} AS v`))[0]!.v, k).toBe(typeof v === 'number' ? v : v === 'ON' ? 1 : v);
    for (const m of after.members) expect(configWarnings(m.instance!.diskPath, m.instance!.id), m.instance!.name).toEqual([]);
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

  // Waits for an operation however long it takes (a copy of real data), failing with its steps.
  async function finish(id: string, timeoutMs = 240_000) {
    const deadline = Date.now() + timeoutMs;
    let op = await tc.portal.getOperation({ id });
    while ((op.state === 'running' || op.state === 'rolling_back') && Date.now() < deadline) op = await tc.portal.waitOperation({ id, timeoutMs: 30_000 }, 40_000);
    const steps = op.steps.map((st) => `${st.name}=${st.state}${st.error ? ` (${st.error})` : ''}`).join(', ');
    expect(op.state, `${op.type}: ${steps}; ${op.error}\n${tc.logs()}`).toBe('succeeded');
    return op;
  }

  it('switches over under a writer: no acknowledged row lost, the old primary replicates from the new one', async () => {
    const before = await converged('orders');
    const oldPrimary = before.members[0]!;
    const writer = startWriter(await primaryAddress('orders'), () => primaryAddress('orders'));
    await waitUntil('the writer to commit', async () => writer.acked.length > 100, 20_000, 50);
    // A client that stays on the old primary's address and retries at once: nothing may commit
    // there once it turned read-only (it would be lost with the old primary's re-pointing).
    const prober = startProber(await primaryAddress('orders'), 1_000_000);
    const op = await tc.portal.switchover({ cluster: 'orders', to: '' });
    await waitOp(tc, op.id);
    await prober.stop();
    expect(prober.refused).toBeGreaterThan(0);
    const at = writer.acked.length;
    await waitUntil('the writer to commit on the new primary', async () => writer.acked.length > at + 100, 30_000, 50);
    await writer.stop();

    const after = await converged('orders');
    const np = after.members[0]!;
    expect(np.role).toBe('primary');
    expect(np.instance!.id).not.toBe(oldPrimary.instance!.id);
    const demoted = after.members.find((m) => m.instance!.id === oldPrimary.instance!.id)!;
    expect(demoted).toMatchObject({ role: 'replica', health: 'ok', readOnly: true, source: `${np.instance!.host}:${np.instance!.port}` });
    const addr = await primaryAddress('orders');
    expect(addr.port).toBe(np.instance!.port);
    const { missing, total } = await countRows(addr, writer.acked);
    expect(missing).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(writer.acked.length);
    expect((await countRows(addr, prober.acked)).missing, 'rows the old primary acknowledged after it turned read-only').toEqual([]);
    await waitUntil('semi-sync on the new primary with both replicas', async () => {
      const s = await semiSync(addr);
      return Number(s.source_on) === 1 && Number(s.clients) === 2;
    });
    const [h] = (await tc.portal.listClusterHistory({ cluster: 'orders', limit: 0 })).entries;
    expect(h).toMatchObject({ kind: 'switchover', outcome: 'done', fromInstance: oldPrimary.instance!.id, toInstance: np.instance!.id, operationId: op.id });
    expect(h!.blockedMs).toBeGreaterThanOrEqual(0);
    console.log(`[${f.flavor}] switchover: writes blocked ${h!.blockedMs} ms by the cut-over; the writer's longest gap ${writer.longestGapMs} ms; ${writer.acked.length} rows acknowledged, none lost`);
    expect((await ctl('cluster', 'history', 'orders')).stdout).toMatch(/switchover\s+done/);
    // The admin HTTP view says the same.
    const view = (await (await fetch(`${tc.adminUrl}/v1/clusters/orders`)).json()) as { primary: string; history: { kind: string }[]; members: { health: string }[] };
    expect(view.primary).toBe(np.instance!.name);
    expect(view.history[0]!.kind).toBe('switchover');
    expect(view.members.every((m) => m.health === 'ok')).toBe(true);
    // And the dashboard, in headless Chromium: the cluster with its three members, the new
    // primary first, every one healthy.
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`${tc.adminUrl}/`);
      await page.waitForSelector('#clusters section.cluster[data-cluster="orders"] tr.member', { timeout: 20_000 });
      const rows = await page.$$eval('#clusters section.cluster[data-cluster="orders"] tr.member', (els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => td.textContent)));
      expect(rows).toHaveLength(3);
      expect(rows[0]!.slice(0, 3)).toEqual([np.instance!.name, 'primary', 'ok']);
      expect(rows.slice(1).every((r) => r[1] === 'replica' && /^ok · \d+ s behind$/.test(r[2]!))).toBe(true);
      await screenshot(page, `dashboard-cluster-${f.flavor}`);
    });
  });

  it('removes a replica: its container goes, the endpoints no longer name it', async () => {
    const c = await get('orders');
    const victim = c.members.find((m) => m.role === 'replica')!;
    await expectStatus(tc.portal.removeReplica({ cluster: 'orders', instance: c.members[0]!.instance!.name }), grpc.status.FAILED_PRECONDITION, /switch over first/);
    await finish((await tc.portal.removeReplica({ cluster: 'orders', instance: victim.instance!.name })).id);
    const after = await converged('orders');
    expect(after.members.map((m) => m.instance!.id)).not.toContain(victim.instance!.id);
    expect((await tc.portal.getClusterEndpoints({ name: 'orders' })).replicas.map((r) => r.instanceId)).not.toContain(victim.instance!.id);
    expect((await tc.containers()).filter((x) => x.Labels['berth.instance'] === victim.instance!.id)).toEqual([]);
    await expectStatus(tc.portal.getInstance({ instance: victim.instance!.id }), grpc.status.NOT_FOUND);
  });

  it('adds a replica to a primary holding data: seeded from a hot copy, then caught up by GTID', async () => {
    const addr = await primaryAddress('orders');
    // Rows of ~1 KB, doubled by INSERT ... SELECT in statements of at most 64K rows: ~1 GB on
    // MariaDB (the issue's size), ~128 MB on MySQL (the run time of the file stays in budget).
    const rows = f.flavor === 'mariadb' ? 1_024_000 : 128_000;
    await sql(addr, 'CREATE TABLE app.big (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1000) NOT NULL)');
    const seedRows = Array.from({ length: 1000 }, () => randomBytes(496).toString('hex'));
    await sql(addr, `INSERT INTO app.big (pad) VALUES ${seedRows.map(() => '(?)').join(', ')}`, seedRows);
    for (let have = 1000; have < rows; ) {
      const add = Math.min(have, 65_536, rows - have);
      await sql(addr, `INSERT INTO app.big (pad) SELECT pad FROM app.big LIMIT ${add}`);
      have += add;
    }
    const n = Number((await sql<{ n: number }>(addr, 'SELECT COUNT(*) AS n FROM app.big'))[0]!.n);
    const had = new Set((await get('orders')).members.map((m) => m.instance!.id));
    // Writes go on while the copy runs: the replica must catch up on them too.
    const writer = startWriter(addr, () => primaryAddress('orders'), 20);
    const adding = await tc.portal.addReplica({ cluster: 'orders', node: '' });
    // A client at the new member's address from the start (it is reserved with the operation):
    // refused from its first boot on a copy of the primary, never acknowledged.
    const newId = (await get('orders')).members.map((m) => m.instance!.id).find((id) => !had.has(id))!;
    const booting = startProber(await credentialsOf(newId), 2_000_000);
    const op = await finish(adding.id);
    await writer.stop();
    await waitUntil('the new member to refuse the client', async () => booting.refused > 0, 30_000);
    await booting.stop();
    expect(booting.acked, 'acknowledged by the new member while it was being built').toEqual([]);
    const seed = JSON.parse(op.outputs.seed!) as { method: string; bytes: number };
    expect(seed.method).toBe(f.flavor === 'mariadb' ? 'mariabackup' : 'clone');
    expect(seed.bytes).toBeGreaterThan((rows / 1000) * 0.9 * M);
    const c = await converged('orders');
    expect(c.members).toHaveLength(3);
    expect(new Set(c.members.map((m) => m.instance!.node)).size).toBe(3);
    const added = c.members.find((m) => !had.has(m.instance!.id))!;
    expect(added.role).toBe('replica');
    const replica = await credentialsOf(added.instance!.id);
    expect(Number((await sql<{ n: number }>(replica, 'SELECT COUNT(*) AS n FROM app.big'))[0]!.n)).toBe(n);
    expect((await countRows(replica, writer.acked)).missing).toEqual([]);
    console.log(`[${f.flavor}] add-replica: ${n} rows, ${(seed.bytes / M).toFixed(0)} MB copied by ${seed.method}`);
  });

  it('every member boots read-only: a restarted replica refuses a client at its address throughout, a restarted primary until the manager opens it (one event)', async () => {
    const c = await converged('orders');
    const primary = c.members.find((m) => m.role === 'primary')!;
    const replica = c.members.find((m) => m.role === 'replica')!;
    const containerOf = async (id: string) => (await tc.containers()).find((x) => x.Labels['berth.instance'] === id && x.Labels['berth.role'] === 'mysqld')!;
    const restart = async (id: string) => docker.getContainer((await containerOf(id)).Id).restart({ t: 5 });

    const atReplica = startProber(await credentialsOf(replica.instance!.id), 3_000_000);
    await waitUntil('the replica to refuse the client', async () => atReplica.refused > 0, 30_000);
    await restart(replica.instance!.id);
    const replicaBack = atReplica.refused;
    await waitUntil('the restarted replica to refuse the client', async () => atReplica.refused > replicaBack, 60_000);
    await converged('orders');
    await atReplica.stop();
    expect(atReplica.acked, 'acknowledged by a replica').toEqual([]);

    const opened = async () => ((await (await fetch(`${tc.adminUrl}/v1/events?kind=cluster.primary.opened&subject=orders`)).json()) as { items: unknown[] }).items.length;
    const before = await opened();
    const atPrimary = startProber(await credentialsOf(primary.instance!.id), 4_000_000);
    await waitUntil('the primary to take the client\'s writes', async () => atPrimary.acked.length > 20, 30_000);
    await restart(primary.instance!.id);
    const restartedAt = atPrimary.acked.length;
    await waitUntil('the restarted primary to refuse the client (it boots read-only)', async () => atPrimary.refused > 0, 60_000);
    await waitUntil('the manager to open the primary again', async () => atPrimary.acked.length > restartedAt + 50, 60_000);
    await atPrimary.stop();
    // One opening, one event, although reports measured before it still said read-only.
    expect(await opened()).toBe(before + 1);
    expect((await countRows(await primaryAddress('orders'), atPrimary.acked)).missing).toEqual([]);
    expect((await get('orders')).members.find((m) => m.role === 'primary')!.instance!.id).toBe(primary.instance!.id);
    await converged('orders');
  });

  it('never migrates a member (replication would break): resize by migration refused naming the DBA action (and so planned), in place allowed, a drain leaves members where they are', async () => {
    const c = await converged('orders');
    const primary = c.members.find((m) => m.role === 'primary')!.instance!;
    const replica = c.members.find((m) => m.role === 'replica')!.instance!;
    await expectStatus(tc.portal.resizeInstance({ instance: primary.name, resources: { cpuMillis: 600 }, mode: 'migrate' }), grpc.status.FAILED_PRECONDITION, new RegExp(`primary of cluster orders.*switchover orders`));
    await expectStatus(tc.portal.resizeInstance({ instance: replica.name, resources: { memoryBytes: 2 * G }, mode: 'migrate' }), grpc.status.FAILED_PRECONDITION, new RegExp(`replica of cluster orders.*add-replica orders.*remove-replica orders ${replica.name}`));
    // The plan says the same, in the same words, through gRPC and berthctl.
    const plan = await tc.portal.planInstance({ resizeInstance: replica.name, resizeMode: 'migrate', resources: { memoryBytes: 2 * G } });
    expect(plan).toMatchObject({ resizeDecision: 'refused', placement: null, resizeReason: expect.stringMatching(new RegExp(`^resize of ${replica.name} by migration refused: .*add-replica orders.*remove-replica orders ${replica.name}`)) });
    const planned = await ctl('instance', 'plan', '--resize', primary.name, '--cpu', '0.6', '--mode', 'migrate').then(() => ({ code: 0, stdout: '' }), (e: { code: number; stdout: string }) => e);
    expect(planned.code).toBe(2);
    expect(planned.stdout).toMatch(/: refused \(resize of .* by migration refused: .*primary of cluster orders.*switchover orders/);
    expect((await tc.portal.listInstances({ node: '' })).instances.filter((i) => i.clusterName === 'orders')).toHaveLength(3);
    await waitOp(tc, (await tc.portal.resizeInstance({ instance: replica.name, resources: { cpuMillis: 600 }, mode: 'in-place' })).id);
    expect((await tc.portal.getInstance({ instance: replica.id })).resources!.cpuMillis).toBe(600);
    const drain = await waitOp(tc, (await tc.portal.drainNode({ name: replica.node })).id);
    expect(JSON.parse(drain.outputs['migrate-all']!)).toMatchObject({ moved: 0, kept: [replica.name] });
    const events = (await (await fetch(`${tc.adminUrl}/v1/events?kind=drain.skipped&subject=${replica.id}`)).json()) as { items: { message: string }[] };
    expect(events.items[0]!.message).toMatch(/replica of cluster orders/);
    await tc.portal.uncordonNode({ name: replica.node });
    const after = await converged('orders');
    expect(after.members.find((m) => m.instance!.id === replica.id)!.instance!.node).toBe(replica.node);
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


import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trashDir } from '../agent/instance/datadir';
import type { Operation__Output } from '../src/gen/berth/v1/Operation';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import { countRows, startProber, startWriter, type Address } from './harness/writer';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };

// The alert webhook: instance.moved is delivered there.
function webhookSink() {
  const got: { event?: { kind: string; subject: string; message: string } }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body));
      res.end('ok');
    });
  });
  return { got, server };
}

// Both flavors, one after the other on the same ports: MariaDB copies with mariabackup, MySQL
// with CLONE; everything after the copy is the same code.
describe.each(FLAVORS)('migration ($flavor)', (f) => {
  const hook = webhookSink();
  let cluster: TestCluster;

  beforeAll(async () => {
    await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
    const port = (hook.server.address() as { port: number }).port;
    cluster = new TestCluster(['--node-timeout', '3', ...flavorArgs(f), '--alert-webhook', `http://127.0.0.1:${port}/hook`]);
    await cluster.start([
      // Room for every instance this file makes on either node.
      { name: 'a', host: '127.0.0.1', ports: '3841-3850', cpus: '16', memory: '16G' },
      { name: 'b', host: '127.0.0.2', ports: '3851-3860', cpus: '16', memory: '16G' },
    ]);
  });

  afterAll(async () => {
    await cluster?.stop();
    hook.server.close();
  });

  const create = async (name: string, node: string) => {
    const c = await cluster.portal.createInstance({ name, resources: shape, node: cluster.nodeName(node) });
    const op = await cluster.portal.waitOperation({ id: c.operation!.id, timeoutMs: 150_000 }, 160_000);
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    return c;
  };
  const addressOf = async (name: string): Promise<Address> => {
    const c = await cluster.portal.getCredentials({ instance: name });
    return { host: c.host, port: c.port, user: c.user, password: c.password };
  };
  const finish = async (id: string): Promise<Operation__Output> => {
    let op = await cluster.portal.getOperation({ id });
    while (op.state === 'running' || op.state === 'rolling_back') op = await cluster.portal.waitOperation({ id, timeoutMs: 30_000 }, 40_000);
    return op;
  };
  const containersOf = async (id: string) => (await cluster.containers()).filter((c) => c.Labels['berth.instance'] === id && c.Labels['berth.role'] === 'mysqld');
  const dirExists = (node: string, id: string) => fs.existsSync(path.join(cluster.agents.find((a) => a.node === cluster.nodeName(node))!.disks[0]!, 'berth', id));
  // The store holds no reservation rows, and each node's allocation is its instances' sum.
  const reservationsConsistent = async () => {
    const { instances } = await cluster.portal.listInstances({ node: '' });
    expect(instances.filter((i) => i.name.includes('--moving-'))).toEqual([]);
    const { nodes } = await cluster.portal.listNodes({});
    for (const n of nodes) {
      const mem = instances.filter((i) => i.node === n.name).reduce((s, i) => s + i.resources!.memoryBytes, 0);
      expect(n.allocated!.memoryBytes, n.name).toBe(mem);
    }
  };

  it('moves a standalone instance under a writer: every acknowledged commit on the target, source gone, credentials work at the new address', async () => {
    const c = await create('mover', 'a');
    const id = c.instance!.id;
    const writer = startWriter(await addressOf('mover'), () => addressOf('mover'));
    await waitUntil('the writer to commit', async () => writer.acked.length > 50);
    // A second client stays on the source's address and keeps trying: once the source is
    // read-only nothing it sends may commit there (MySQL lost a row this way when an account
    // change lifted super_read_only after the cut-over).
    const prober = startProber(await addressOf('mover'), 1_000_000);

    const op = await cluster.portal.resizeInstance({ instance: 'mover', resources: { memoryBytes: 768 * M }, mode: 'migrate' });
    expect(op.type).toBe('migrate');
    // A third client at the target's address as soon as it is reserved: the copy boots there
    // and must refuse it until the cut-over makes it the primary.
    const reserved = await waitUntil('the target reserved', async () => (await cluster.portal.getOperation({ id: op.id })).outputs['reserve-target'], 30_000, 50);
    const t = (JSON.parse(reserved) as { target: { port: number } }).target;
    const atTarget = startProber({ ...(await addressOf('mover')), host: '127.0.0.2', port: t.port }, 2_000_000);
    const done = await finish(op.id);
    await atTarget.stop();
    const cutAt = (JSON.parse(done.outputs['cut-over']!) as { startedAt: number }).startedAt;
    expect(atTarget.refused, 'the client reached the target while it was a copy').toBeGreaterThan(0);
    expect(atTarget.ackedAt.filter((at) => at < cutAt), 'acknowledged by the target before the cut-over').toEqual([]);
    expect(done.state, `${done.error}\n${cluster.logs()}`).toBe('succeeded');
    expect(done.steps.map((s) => s.state)).toEqual(done.steps.map(() => 'done'));
    const n0 = writer.acked.length;
    await waitUntil('commits on the target', async () => writer.acked.length > n0 + 20, 30_000);
    await writer.stop();
    await prober.stop();
    expect(prober.refused).toBeGreaterThan(0);

    const i = await cluster.portal.getInstance({ instance: 'mover' });
    expect(i.id).toBe(id);
    expect(i.node).toBe(cluster.nodeName('b'));
    expect(i.host).toBe('127.0.0.2');
    expect(i.resources!.memoryBytes).toBe(768 * M);
    const addr = await addressOf('mover');
    expect(addr.password).toBe(c.credentials!.password);
    const { missing } = await countRows(addr, writer.acked);
    expect(missing).toEqual([]);
    expect((await countRows(addr, prober.acked)).missing, 'rows the source acknowledged after it turned read-only').toEqual([]);
    // It is a writable primary with the new shape.
    const conn = await mysql.createConnection(addr);
    const [[v]] = (await conn.query('SELECT @@read_only AS ro, @@innodb_buffer_pool_size AS pool')) as unknown as [[{ ro: number; pool: number }]];
    await conn.end();
    expect(Number(v.ro)).toBe(0);
    expect(Number(v.pool)).toBe(384 * M);

    const cut = JSON.parse(done.outputs.promote!) as { blockedMs: number };
    expect(cut.blockedMs).toBeGreaterThan(0);
    expect(cut.blockedMs).toBeLessThan(5000);
    const copied = JSON.parse(done.outputs.copy!) as { bytes: number; method: string };
    expect(copied.bytes).toBeGreaterThan(0);
    expect(copied.method).toBe(f.flavor === 'mysql' ? 'clone' : 'mariabackup');

    expect(await containersOf(id)).toHaveLength(1);
    expect((await containersOf(id))[0]!.Labels['berth.node']).toBe(cluster.nodeName('b'));
    expect(dirExists('a', id)).toBe(false);
    await reservationsConsistent();
    await waitUntil('instance.moved at the webhook', async () => hook.got.some((g) => g.event?.kind === 'instance.moved' && g.event.subject === id));
  });

  it('a source agent killed mid-copy: the migration rolls back, the source keeps serving, nothing left on the target', async () => {
    await create('victim', 'a');
    const id = (await cluster.portal.getInstance({ instance: 'victim' })).id;
    const op = await cluster.portal.resizeInstance({ instance: 'victim', resources: { cpuMillis: 600 }, mode: 'migrate' });
    await waitUntil('the copy to start', async () => (await cluster.portal.getOperation({ id: op.id })).steps.find((s) => s.name === 'copy')?.state === 'running', 60_000, 20);
    const a = cluster.agents.find((x) => x.node === cluster.nodeName('a'))!;
    await cluster.killAgent(a);
    cluster.startAgent(a);
    const done = await finish(op.id);
    expect(['failed', 'succeeded']).toContain(done.state);
    await cluster.waitForNodes();
    const i = await cluster.portal.getInstance({ instance: 'victim' });
    if (done.state === 'failed') {
      expect(i.node).toBe(cluster.nodeName('a'));
      expect((await containersOf(id)).map((c) => c.Labels['berth.node'])).toEqual([cluster.nodeName('a')]);
      expect(dirExists('b', id)).toBe(false);
    } else {
      expect(i.node).toBe(cluster.nodeName('b'));
      expect(dirExists('a', id)).toBe(false);
    }
    const conn = await mysql.createConnection(await addressOf('victim'));
    await conn.query('CREATE DATABASE IF NOT EXISTS still_serving');
    await conn.end();
    await reservationsConsistent();
  });

  // What differs by flavor is the copy (mariabackup or CLONE) and the Dialect's SQL; the rounds
  // below test the engine's undo and resume around it. MySQL runs the ones whose work is
  // flavor-specific (the copy, the cut-over), MariaDB all of them: the file stays within its
  // time budget.
  const killRounds = f.flavor === 'mariadb' ? ['copy', 'replicate', 'catch-up', 'cut-over', 'promote', 'switch-record', 'retire-source'] : ['copy', 'cut-over'];
  // Not defined at all for MySQL (rather than reported as skipped).
  const mariadbOnly = f.flavor === 'mariadb' ? it : ((() => undefined) as unknown as typeof it);
  mariadbOnly('the target agent killed during catch-up: rolled back, the source keeps serving, nothing left on the target', async () => {
    await create('catcher', 'a');
    const id = (await cluster.portal.getInstance({ instance: 'catcher' })).id;
    const writer = startWriter(await addressOf('catcher'), () => addressOf('catcher'));
    await waitUntil('the writer to commit', async () => writer.acked.length > 10);
    const op = await cluster.portal.resizeInstance({ instance: 'catcher', resources: { cpuMillis: 600 }, mode: 'migrate' });
    await waitUntil('catch-up (or later)', async () => {
      const o = await cluster.portal.getOperation({ id: op.id });
      return o.state !== 'running' || o.steps.findIndex((s) => s.state === 'running' || s.state === 'pending') >= 3;
    }, 120_000, 10);
    const b = cluster.agents.find((x) => x.node === cluster.nodeName('b'))!;
    await cluster.killAgent(b);
    cluster.startAgent(b);
    const done = await finish(op.id);
    await writer.stop();
    await cluster.waitForNodes();
    const i = await cluster.portal.getInstance({ instance: 'catcher' });
    expect((await containersOf(id)).map((c) => c.Labels['berth.node'])).toEqual([i.node]);
    if (done.state === 'failed') {
      expect(i.node).toBe(cluster.nodeName('a'));
      expect(dirExists('b', id)).toBe(false);
    } else {
      expect(done.state).toBe('succeeded');
      expect(dirExists('a', id)).toBe(false);
    }
    const { missing } = await countRows(await addressOf('catcher'), writer.acked);
    expect(missing).toEqual([]);
    await reservationsConsistent();
  }, 300_000);

  it('a promotion failing after the cut-over rolls forward: stuck with an event, the source read-only and never undone; berthctl operation retry finishes it', async () => {
    await cluster.waitForNodes();
    const c = await create('stuck', 'a');
    const id = c.instance!.id;
    const op = await cluster.portal.resizeInstance({ instance: 'stuck', resources: { cpuMillis: 600 }, mode: 'migrate' });
    // Once the copy is done, the target's my.cnf is made immutable: promote's "writable after a
    // restart" cannot be written, while everything before it works.
    const diskB = cluster.agents.find((a) => a.node === cluster.nodeName('b'))!.disks[0]!;
    const cnf = path.join(diskB, 'berth', id, 'conf', 'my.cnf');
    await waitUntil('the copy to be done', async () => (await cluster.portal.getOperation({ id: op.id })).steps.find((s) => s.name === 'copy')?.state === 'done', 120_000, 20);
    execFileSync('chattr', ['+i', cnf]);
    try {
      const stuck = await finish(op.id);
      expect(stuck.state, `${stuck.error}\n${cluster.logs()}`).toBe('stuck');
      expect(stuck.error).toMatch(/^promote: .*point of no return/);
      expect(stuck.steps.find((s) => s.name === 'cut-over')!.state).toBe('done');
      expect((await cluster.portal.getInstance({ instance: 'stuck' })).node).toBe(cluster.nodeName('a'));
      // The source stays read-only (never two writable copies) and the target was not removed.
      const src = await mysql.createConnection(await addressOf('stuck'));
      await expect(src.query('CREATE DATABASE not_here')).rejects.toThrow(/read.only/i);
      await src.end();
      expect((await containersOf(id)).map((x) => x.Labels['berth.node']).sort()).toEqual([cluster.nodeName('a'), cluster.nodeName('b')].sort());
      const events = (await (await fetch(`${cluster.adminUrl}/v1/events?kind=migrate.stuck&subject=${id}`)).json()) as { items: { message: string }[] };
      expect(events.items.length).toBeGreaterThan(0);
    } finally {
      // If the migration was undone, the target's directory (immutable file included) is in the
      // disk's trash: an error here would hide the assertion's own message (error and logs).
      const trash = trashDir(diskB);
      const moved = fs.existsSync(trash) ? fs.readdirSync(trash).filter((d) => d.startsWith(`${id}-`)).map((d) => path.join(trash, d, 'conf', 'my.cnf')) : [];
      for (const f of [cnf, ...moved]) if (fs.existsSync(f)) execFileSync('chattr', ['-i', f]);
    }
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'operation', 'retry', op.id]);
    expect(stdout).toMatch(/running|succeeded/);
    const done = await finish(op.id);
    expect(done.state, `${done.error}\n${cluster.logs()}`).toBe('succeeded');
    expect((await cluster.portal.getInstance({ instance: 'stuck' })).node).toBe(cluster.nodeName('b'));
    const conn = await mysql.createConnection(await addressOf('stuck'));
    await conn.query('CREATE DATABASE after_retry');
    await conn.end();
    expect((await containersOf(id)).map((x) => x.Labels['berth.node'])).toEqual([cluster.nodeName('b')]);
    await reservationsConsistent();
  }, 300_000);

  it.each(killRounds)('manager kill -9 once the migration reaches %s: it resumes or rolls back, one writable copy, reservations consistent', async (step) => {
    const name = `k-${step}`.replace(/[^a-z-]/g, '');
    // The previous round restarted the manager: with --node-timeout 3 a node reads down until its
    // agent's first heartbeat reaches the new manager (over a fresh TLS channel).
    await cluster.waitForNodes();
    await create(name, 'a');
    const id = (await cluster.portal.getInstance({ instance: name })).id;
    const writer = startWriter(await addressOf(name), () => addressOf(name));
    await waitUntil('the writer to commit', async () => writer.acked.length > 10);
    const op = await cluster.portal.resizeInstance({ instance: name, resources: { cpuMillis: 600 }, mode: 'migrate' });
    const steps = ['reserve-target', 'copy', 'replicate', 'catch-up', 'cut-over', 'promote', 'switch-record', 'retire-source'];
    const at = steps.indexOf(step);
    await waitUntil(`the migration to reach ${step}`, async () => {
      const o = await cluster.portal.getOperation({ id: op.id });
      return o.state !== 'running' || o.steps.findIndex((s) => s.state === 'running' || s.state === 'pending') >= at;
    }, 120_000, 10);
    await cluster.restartManager();
    const done = await finish(op.id);
    expect(done.state, `${done.error}\n${cluster.logs()}`).toMatch(/^(succeeded|failed)$/);
    const n0 = writer.acked.length;
    await waitUntil('the writer to commit after the restart', async () => writer.acked.length > n0 + 5, 60_000);
    await writer.stop();
    const i = await cluster.portal.getInstance({ instance: name });
    const where = (await containersOf(id)).map((c) => c.Labels['berth.node']);
    expect(where).toEqual([i.node]);
    const { missing } = await countRows(await addressOf(name), writer.acked);
    expect(missing).toEqual([]);
    await reservationsConsistent();
  }, 300_000);
});

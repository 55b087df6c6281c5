import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEndpoints__Output } from '../src/gen/berth/v1/ClusterEndpoints';
import { connectSocket } from '../src/mysql/connect';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { docker, ROOT, TestCluster, waitUntil, type RunningAgent } from './harness/cluster';
import { FLAVORS, flavorArgs, type FlavorCase } from './harness/flavors';
import { startForwarder } from './harness/forwarder';
import { healAll, isolate } from './harness/partition';
import type { Address } from './harness/writer';

const M = 1024 ** 2;
const G = 1024 ** 3;
// 1G: MySQL 9.7 at 512M was OOM-killed by its memory cgroup under this file's writers.
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 1 * G };
const HOSTS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const PORTS = ['4101-4133', '4134-4166', '4167-4199'];
// The partition test's client writes from here: the partition exempts it, so it sees whether
// the isolated primary keeps acknowledging.
const CLIENT = '127.0.0.99';
// Detection thresholds of this file's manager (seconds); the lease stays below the silence.
const SILENT_S = 5;
const LEASE_S = 3;

describe.each(FLAVORS)('failover ($flavor)', (f: FlavorCase) => {
  let cluster: TestCluster;
  const forwarders: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    healAll();
    cluster = new TestCluster([...flavorArgs(f), '--failover-agent-silent', String(SILENT_S), '--write-lease', String(LEASE_S), '--failover-probe-fail', '1']);
    // Each agent dials the manager through a forwarder on its own address, so a partition of that
    // address cuts the agent off from the manager too (loopback connections come from 127.0.0.1).
    const specs = [];
    for (const [i, host] of HOSTS.entries()) {
      const fwd = await startForwarder(host, () => ({ host: '127.0.0.1', port: cluster.registryPort }));
      forwarders.push(fwd);
      specs.push({ name: `h${i + 1}`, host, ports: PORTS[i]!, cpus: '8', memory: '8G', args: ['--manager', `${host}:${fwd.port}`] });
    }
    await cluster.start(specs);
  }, 120_000);

  afterAll(async () => {
    healAll();
    await cluster?.stop();
    for (const fwd of forwarders) await fwd.close();
  });

  const created = new Map<string, { user: string; password: string }>();
  async function createCluster(name: string): Promise<void> {
    const res = await cluster.portal.createCluster({ name, resources: shape, replicas: 2, replication: 'semi-sync', flavor: f.flavor }, 30_000);
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 240_000 }, 250_000);
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    created.set(name, { user: res.credentials!.user, password: res.credentials!.password });
  }
  const endpoints = (name: string): Promise<ClusterEndpoints__Output> => cluster.portal.getClusterEndpoints({ name });
  const primaryAddress = async (name: string): Promise<Address> => {
    const ep = await endpoints(name);
    return { host: ep.primary!.host, port: ep.primary!.port, ...created.get(name)! };
  };
  const agentAt = (host: string): RunningAgent => cluster.agents.find((a) => a.spec.host === host)!;
  const container = async (instanceId: string) => {
    const [c] = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.instance=${instanceId}`, 'berth.role=mysqld'] }) });
    return c!;
  };
  const newPrimary = (name: string, old: string) =>
    waitUntil(`a replica of ${name} promoted instead of ${old}`, async () => {
      const ep = await endpoints(name);
      return ep.primary && ep.primary.instanceId !== old ? ep : undefined;
    }, 60_000, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose(name, old)}`);
    });
  // What the manager decided about a cluster: its operations with their steps, the cluster's and
  // the old primary's events, the trigger's last verdicts, and the old primary's container.
  async function diagnose(name: string, old: string): Promise<string> {
    const keep = fs.mkdtempSync(path.join('/tmp', `berth-failover-${name}-`));
    fs.cpSync(cluster.dir, keep, { recursive: true, filter: (src) => !/\/data\d|\/tls/.test(src) });
    const db = new Database(path.join(cluster.dir, 'manager', 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      const ops = db.prepare(`SELECT o.id, o.type, o.state, o.error, o.created_at, o.params, group_concat(s.name || '=' || s.state || CASE WHEN s.error != '' THEN ' (' || s.error || ')' ELSE '' END, ', ') AS steps
        FROM operations o LEFT JOIN operation_steps s ON s.operation_id = o.id WHERE o.type LIKE 'cluster-%' GROUP BY o.id ORDER BY o.created_at`).all();
      const events = db.prepare('SELECT at, kind, subject, message FROM events WHERE subject IN (?, ?) OR kind LIKE ? ORDER BY id DESC LIMIT 30').all(name, old, 'cluster.%');
      const c = await container(old);
      const inspect = c ? await docker.getContainer(c.Id).inspect() : undefined;
      const verdicts = fs.readFileSync(path.join(cluster.dir, 'manager.log'), 'utf8').split('\n').filter((l) => /verdict|failover|not started/.test(l)).slice(-25);
      return [`kept in ${keep}`, `operations: ${JSON.stringify(ops, null, 1)}`, `events: ${JSON.stringify(events, null, 1)}`,
        `old primary container: ${inspect ? JSON.stringify({ state: inspect.State, restartCount: inspect.RestartCount }) : 'gone'}`, `trigger:\n${verdicts.join('\n')}`].join('\n');
    } finally {
      db.close();
    }
  }
  const readDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(path.join(cluster.dir, 'manager', 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  const events = async (kind: string, subject: string) => ((await (await fetch(`${cluster.adminUrl}/v1/events?kind=${kind}&subject=${subject}`)).json()) as { items: { message: string }[] }).items;
  // A fenced member whose host answers is rebuilt from a copy of the primary: checked for
  // errant transactions (an event), re-seeded, unfenced, a replica again.
  const rebuilt = (id: string) =>
    waitUntil(`fenced ${id} rebuilt from a copy`, async () => {
      const i = await cluster.portal.getInstance({ instance: id });
      return !i.fenced && i.clusterRole === 'replica' && i.state === 'running' ? i : undefined;
    }, 120_000, 250);
  const failovers = async (name: string) => (await cluster.portal.listClusterHistory({ cluster: name })).entries.filter((e) => e.kind === 'failover');
  const ctl = (...args: string[]) => promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, ...args]);
  const ackFailover = (name: string) => ctl('cluster', 'ack-failover', name);

  // The replica follows the new primary: a row written there arrives.
  async function follows(name: string, replica: { host: string; port: number }, table: string): Promise<void> {
    const p = await primaryAddress(name);
    const w = startAckedWriter(`${table}_follow`, async () => p);
    await w.started;
    await waitUntil('a write on the new primary', async () => w.acked.length >= 3);
    await w.stop();
    const r = { ...p, host: replica.host, port: replica.port };
    await waitUntil(`${replica.host}:${replica.port} to have the new primary's rows`, async () => (await missingRows(r, `${table}_follow`, w.acked.map((a) => a.id))).length === 0, 30_000);
  }

  it('an agent killed alone (mysqld still serving) never triggers a failover; docker kill of the primary promotes a replica with every acknowledged row, the other follows, the old one is fenced, checked and rebuilt from a copy; again with the host lost and the manager restarted (it still knows the identity of the dead primary)', async () => {
    await createCluster('fo1');
    const ep0 = await endpoints('fo1');
    const writer = startAckedWriter('t1', () => primaryAddress('fo1'), { pauseMs: 2 });
    await writer.started;

    // 1. The primary's agent dies alone: mysqld keeps serving, nothing fails over.
    const a0 = agentAt(ep0.primary!.host);
    await cluster.killAgent(a0);
    const killedAt = Date.now();
    const before = writer.acked.length;
    await waitUntil('the agent silent well past the detection threshold, with writes going on', async () => Date.now() - killedAt > (SILENT_S + 3) * 1000 && writer.acked.length > before + 20, 30_000);
    expect((await endpoints('fo1')).primary!.instanceId).toBe(ep0.primary!.instanceId);
    expect(await failovers('fo1')).toEqual([]);
    expect(writer.errors).toEqual([]);
    cluster.startAgent(a0);
    await cluster.agentListening(a0);
    await cluster.waitForNodes();

    // 2. docker kill of the primary's container. A second client stays on the old primary's
    // address (a pool with a cached endpoint): it retries there through the failover and the
    // old primary's boots (read-only, to be checked) and rebuild (a copy booting, then a
    // replica); nothing it is told was committed may be missing afterwards.
    const oldAddr = { host: ep0.primary!.host, port: ep0.primary!.port, ...created.get('fo1')! };
    const pinned = startAckedWriter('t1p', async () => oldAddr);
    await pinned.started;
    await waitUntil('the pinned client writing', async () => pinned.acked.length > 20);
    const killAt = Date.now();
    await docker.getContainer((await container(ep0.primary!.instanceId)).Id).kill();
    // SIGKILL was delivered when the call returned: an acknowledgement after that (and the
    // replies already on their way) can only have come from a later server at that address.
    const sigkilledAt = Date.now();
    const ep1 = await newPrimary('fo1', ep0.primary!.instanceId);
    await waitUntil('a write acknowledged by the new primary', async () => writer.acked.some((a) => a.port === ep1.primary!.port && a.at > killAt), 30_000);
    const recovered = writer.acked.find((a) => a.port === ep1.primary!.port && a.at > killAt)!.at - killAt;
    await writer.stop();
    expect(await missingRows(await primaryAddress('fo1'), 't1', writer.acked.map((a) => a.id))).toEqual([]);
    const other = ep1.replicas.find((r) => r.instanceId !== ep0.primary!.instanceId)!;
    await follows('fo1', other, 't1');
    expect(ep1.replicas.map((r) => r.instanceId)).not.toContain(ep0.primary!.instanceId);
    // The killed old primary (its host answers) is checked and rebuilt, never rejoined as it is.
    const back = await rebuilt(ep0.primary!.instanceId);
    // The pinned client reached the rebuilt member and was refused there; every row it was told
    // was committed is on the new primary, and none was acknowledged after the kill.
    await waitUntil('the pinned client refused by the rebuilt member', async () => pinned.errors.some((e) => e.at > killAt && /read.only/i.test(e.message)), 30_000);
    await pinned.stop();
    expect(pinned.acked.filter((a) => a.at > sigkilledAt + 1000), 'acknowledged at the old address after the kill').toEqual([]);
    expect(await missingRows(await primaryAddress('fo1'), 't1p', pinned.acked.map((a) => a.id))).toEqual([]);
    console.log(`[${f.flavor}] pinned client: ${pinned.acked.length} rows acknowledged before the kill, all on the new primary; ${pinned.errors.filter((e) => e.at > killAt).length} refusals after it`);
    // Its old data went to the trash, not away: berthctl says where and what it held.
    const discarded = await ctl('instance', 'discarded', back.name);
    expect(discarded.stdout).toMatch(new RegExp(`${back.name} \\(cluster fo1\\): a fenced member \\(its data replaced by a copy of the primary\\)\\n  where: ${agentAt(back.host).node}:\\S+/berth/\\.trash/${back.id}-\\d+`));
    expect(discarded.stdout).toMatch(/binlogs: docker run --rm --network none -v \S+\/data:\/d:ro/);
    const [kept] = (await cluster.portal.listDiscardedData({ instance: back.name, limit: 1 })).items;
    expect(fs.existsSync(path.join(kept!.path, 'data'))).toBe(true);
    // AFTER_SYNC: what the killed primary had binlogged but no replica received was never
    // acknowledged to a client; such transactions, if any, are named, not rejoined.
    const check = (await events('cluster.rebuild.errant', 'fo1')).map((e) => e.message).find((m) => m.startsWith(`${back.name} had`));
    expect(check).toMatch(/had (no transaction|transactions) the primary/);
    console.log(`[${f.flavor}] killed old primary rebuilt: ${check}`);
    expect((await events('instance.fenced', back.id)).length).toBeGreaterThan(0);
    expect(await missingRows({ ...(await primaryAddress('fo1')), host: back.host, port: back.port }, 't1', writer.acked.map((a) => a.id))).toEqual([]);
    await follows('fo1', { host: back.host, port: back.port }, 't1r');
    const [h1] = await failovers('fo1');
    expect(h1).toMatchObject({ outcome: 'done', fromInstance: ep0.primary!.instanceId, toInstance: ep1.primary!.instanceId, lostTransactions: 0, acknowledged: false });
    // The rebuild measured the failover's real lost window on the old primary's data: what it
    // committed (binlogged, never acknowledged: AFTER_SYNC) that the promoted replica lacked.
    expect(h1!.measuredLost).toBeGreaterThanOrEqual(h1!.lostTransactions);
    const measured = (await events('cluster.failover.lost-measured', 'fo1')).map((e) => e.message);
    expect(measured).toEqual([expect.stringMatching(new RegExp(`^failover ${h1!.operationId} lost ${h1!.measuredLost ? `${h1!.measuredLost} transactions ${back.name} had committed` : 'no transaction'}`))]);
    console.log(`[${f.flavor}] failover lost window measured at the rebuild: ${measured[0]}`);
    console.log(`[${f.flavor}] docker kill -> write on the new primary: ${recovered} ms (${writer.acked.length} acknowledged, 0 lost)`);

    // 3. Host loss: the new primary's agent and container both die, within the anti-flap
    // period of the first failover, which nobody acknowledged: the failover is blocked.
    const w2 = startAckedWriter('t2', () => primaryAddress('fo1'), { pauseMs: 2 });
    await w2.started;
    await waitUntil('writes on the new primary', async () => w2.acked.length > 20);
    const a1 = agentAt(ep1.primary!.host);
    await cluster.killAgent(a1);
    const lostAt = Date.now();
    await docker.getContainer((await container(ep1.primary!.instanceId)).Id).kill();
    // The manager restarts as well: nothing reports the dead primary to the new process, which
    // judges its replicas' transactions against the identity and executed set its store kept.
    await cluster.restartManager();
    // No member takes writes: a critical alert and the cluster's PROBLEM say why and what to do.
    const problem = await waitUntil('cluster get to name the problem', async () => (await cluster.portal.getCluster({ name: 'fo1' })).problem || undefined, 60_000, 250);
    expect(problem).toMatch(/^no writable primary since \S+: primary \S+ is dead \(.*\) and its failover has been blocked by the anti-flap rule since \S+: a failover \d+ s ago is not acknowledged/);
    expect(problem).toMatch(/berthctl cluster ack-failover fo1 runs the failover now$/);
    expect((await ctl('cluster', 'get', 'fo1')).stdout).toMatch(/^PROBLEM: no writable primary since/m);
    const alert = await waitUntil('the cluster_no_writable_primary alert', async () => {
      const r = (await (await fetch(`${cluster.adminUrl}/v1/alerts?rule=cluster_no_writable_primary`)).json()) as { items: { subject: string; severity: string; message: string }[] };
      return r.items.find((a) => a.subject === 'fo1');
    }, 60_000, 250);
    expect(alert).toMatchObject({ severity: 'critical', message: expect.stringMatching(/blocked by the anti-flap rule/) });
    expect(await failovers('fo1')).toHaveLength(1);
    // The acknowledgement runs the held-back failover at once and names it.
    const { stdout } = await ackFailover('fo1');
    expect(stdout).toMatch(/acknowledged the failover of \S+; the failover it held back runs now: operation \S+/);
    expect((await failovers('fo1')).at(-1)!.acknowledged).toBe(true);
    const ep2 = await newPrimary('fo1', ep1.primary!.instanceId);
    await waitUntil('the problem to clear', async () => !(await cluster.portal.getCluster({ name: 'fo1' })).problem, 30_000);
    const lastPrimary = readDb((db) => {
      // The endpoints name the new primary at `promote`, before the operation ends: this failover's row by its dead primary.
      const op = db.prepare(`SELECT params FROM operations WHERE type = 'cluster-failover' AND json_extract(params, '$.primaryId') = ? ORDER BY created_at DESC LIMIT 1`).get(ep1.primary!.instanceId) as { params: string };
      const seen = db.prepare('SELECT server_uuid AS serverUuid, server_id AS serverId, executed_gtids AS executedGtids FROM instance_last_seen WHERE instance_id = ?').get(ep1.primary!.instanceId);
      return { used: (JSON.parse(op.params) as { lastPrimary: object }).lastPrimary, seen };
    });
    expect(lastPrimary.used).toEqual(lastPrimary.seen);
    expect(lastPrimary.used).toMatchObject(f.flavor === 'mysql' ? { serverUuid: expect.stringMatching(/^[0-9a-f-]{36}$/), executedGtids: expect.stringMatching(/:/) } : { executedGtids: expect.stringMatching(/^\d+-\d+-\d+/) });
    expect([other.instanceId, ep0.primary!.instanceId]).toContain(ep2.primary!.instanceId);
    await waitUntil('a write acknowledged after the host loss', async () => w2.acked.some((a) => a.port === ep2.primary!.port && a.at > lostAt), 30_000);
    await w2.stop();
    expect(await missingRows(await primaryAddress('fo1'), 't2', w2.acked.map((a) => a.id))).toEqual([]);
    expect((await cluster.portal.getInstance({ instance: ep1.primary!.instanceId })).fenced).toBe(true);
    console.log(`[${f.flavor}] host loss -> write on the new primary: ${w2.acked.find((a) => a.port === ep2.primary!.port && a.at > lostAt)!.at - lostAt} ms`);
    // The lost host comes back: its fenced old primary is rebuilt too.
    cluster.startAgent(a1);
    await cluster.agentListening(a1);
    await rebuilt(ep1.primary!.instanceId);
  }, 420_000);

  it('a partitioned primary stops acknowledging writes (write lease) before a replica is promoted; after the partition heals its errant transactions are recorded and it is rebuilt from a copy, never rejoined; a replica with an errant transaction is refused, then rebuilt', async () => {
    await createCluster('fo2');
    const ep0 = await endpoints('fo2');
    const old = ep0.primary!;
    // Straight to the old primary, from the exempt client address: does it acknowledge anything
    // once it is cut off?
    const direct = startAckedWriter('p1', async () => ({ host: old.host, port: old.port, ...created.get('fo2')! }), { localAddress: CLIENT, pauseMs: 2 });
    await direct.started;
    await waitUntil('writes on the primary', async () => direct.acked.length > 20);
    const cut = isolate(old.host, CLIENT);
    const cutAt = Date.now();
    try {
      const ep1 = await newPrimary('fo2', old.instanceId);
      const promotedAt = Date.now();
      await waitUntil('the writer to see the old primary refuse', async () => direct.errors.some((e) => e.at > cutAt), 15_000);
      const late = direct.acked.filter((a) => a.at > cutAt + (LEASE_S + 1) * 1000);
      expect(late, 'acknowledged by the isolated primary after its lease ran out').toEqual([]);
      expect(direct.acked.filter((a) => a.at >= promotedAt)).toEqual([]);
      console.log(`[${f.flavor}] partition -> new primary named after ${promotedAt - cutAt} ms; last ack on the isolated primary ${Math.max(0, ...direct.acked.map((a) => a.at)) - cutAt} ms after the cut`);
    } catch (err) {
      await direct.stop();
      const lines = (node: string) => fs.readFileSync(path.join(cluster.dir, `${node}.log`), 'utf8').split('\n').filter((l) => /lease|fence|killed|failover/i.test(l)).slice(-15).join('\n');
      throw new Error(`${(err as Error).message}\nacked after the cut: ${direct.acked.filter((a) => a.at > cutAt).length}, errors: ${direct.errors.length}\n${cluster.agents.map((a) => `${a.node}:\n${lines(a.node)}`).join('\n')}\n${lines('manager').slice(-3000)}`);
    } finally {
      cut.heal();
    }
    // Back on the network: never rejoined as it is; what it executed is checked against the new
    // primary (an event), then it is rebuilt from a copy and replicates from the new primary.
    // The client pinned to its address goes on trying through all of it (it reached the
    // rebuilt member and was refused): every row it was told was committed is on the new primary.
    expect((await cluster.portal.getInstance({ instance: old.instanceId })).fenced).toBe(true);
    const healedAt = Date.now();
    await rebuilt(old.instanceId);
    await waitUntil('the pinned client refused by the rebuilt member', async () => direct.errors.some((e) => e.at > healedAt && /read.only/i.test(e.message)), 30_000);
    await direct.stop();
    const lateAtOld = direct.acked.filter((a) => a.at > cutAt + (LEASE_S + 1) * 1000);
    if (lateAtOld.length) throw new Error(`acknowledged at the old primary's address after its lease ran out: ${JSON.stringify(lateAtOld)}\n${await diagnose('fo2', old.instanceId)}`);
    expect(await missingRows(await primaryAddress('fo2'), 'p1', direct.acked.map((a) => a.id))).toEqual([]);
    const checked = (await events('cluster.rebuild.errant', 'fo2')).map((e) => e.message);
    expect(checked).toContainEqual(expect.stringMatching(/^fo2-\d+ had (no transaction|transactions) the primary/));
    console.log(`[${f.flavor}] partitioned old primary rebuilt: ${checked[0]}`);
    await ackFailover('fo2');

    // Errant transaction on the original replica, then the primary dies: the failover refuses it
    // (and promotes the rebuilt member); the refused one is fenced, and its rebuild records the
    // errant transaction.
    const ep1 = await endpoints('fo2');
    const x = ep1.replicas.find((r) => r.instanceId !== old.instanceId)!;
    const xi = await cluster.portal.getInstance({ instance: x.instanceId });
    const conn = await connectSocket(path.join(xi.diskPath, 'berth', xi.id, 'run', 'mysqld.sock'));
    try {
      const ro = f.flavor === 'mysql' ? 'super_read_only' : 'read_only';
      await conn.query(`SET GLOBAL ${ro} = OFF`);
      await conn.query('CREATE DATABASE IF NOT EXISTS errant');
      await conn.query(`SET GLOBAL ${ro} = ON`);
    } finally {
      await conn.end();
    }
    await docker.getContainer((await container(ep1.primary!.instanceId)).Id).kill();
    const ep2 = await newPrimary('fo2', ep1.primary!.instanceId);
    expect(ep2.primary!.instanceId).toBe(old.instanceId);
    expect((await events('cluster.failover.refused', 'fo2')).map((e) => e.message)).toContainEqual(expect.stringMatching(new RegExp(`refuses ${xi.name}: errant transactions`)));
    const errant = await waitUntil('the refused replica checked before its rebuild', async () => (await events('cluster.rebuild.errant', 'fo2')).find((e) => e.message.startsWith(`${xi.name} had transactions`)), 60_000);
    console.log(`[${f.flavor}] refused replica: ${errant.message}`);
    await rebuilt(xi.id);
  }, 420_000);
});

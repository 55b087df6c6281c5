import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { buildTestImage, removeTestImages, shimLines } from './harness/images';
import { expectOp, statusOf, waitOp } from './harness/ops';
import { FakeAgent } from './harness/fake-agent';
import { FLAVORS, flavorArgs } from './harness/flavors';
import mysql from 'mysql2/promise';
import os from 'node:os';
import { initCa, issueCert } from '../src/tls/ca';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 250, memoryBytes: 384 * M, diskBytes: G };

// mysqld comes up on its socket the first time it runs on a data directory but without TCP
// (--skip-networking), so the agent's login check fails after mysqld's first start; every later
// start on the same data is normal. A marker in the data directory tells the starts apart.
const FIRST_START_NO_TCP = shimLines(
  '/usr/local/sbin/mysqld',
  [
    '#!/bin/sh',
    'for a in "$@"; do case "$a" in --version|--help|--bootstrap) exec /usr/sbin/mariadbd "$@";; esac; done',
    'if [ ! -e /var/lib/mysql/berth-test-first-start ]; then touch /var/lib/mysql/berth-test-first-start; exec /usr/sbin/mariadbd "$@" --skip-networking; fi',
    'exec /usr/sbin/mariadbd "$@"',
    '',
  ].join('\n'),
);

// Safe operations on real components: a real manager, two real agents, real MariaDB containers.
describe('safe operations', () => {
  const cluster = new TestCluster(['--node-timeout', '3']);
  const images: string[] = [];

  beforeAll(async () => {
    images.push(buildTestImage('latefail', cluster.id, FIRST_START_NO_TCP));
    await cluster.start([
      { name: 'a', host: '127.0.0.31', ports: '4201-4249', cpus: '4', memory: '4G' },
      { name: 'b', host: '127.0.0.32', ports: '4250-4299', cpus: '4', memory: '4G' },
    ]);
  }, 120_000);
  afterAll(async () => {
    await cluster.stop();
    removeTestImages(images);
  });

  const allocated = async (node: string) => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === node)!.allocated;
  const containersOf = async (id: string) => (await cluster.containers()).filter((c) => c.Labels['berth.instance'] === id);

  it('a create that fails after mysqld came up keeps the data and the reservation; the same create again retries on that data, a delete trashes it', async () => {
    const a = cluster.agents[0]!;
    const first = await cluster.portal.createInstance({ name: 'late', resources: shape, image: images[0]!, node: a.node });
    const id = first.instance!.id;
    const op = await expectOp(cluster, first.operation!.id, 'failed', 120_000);
    const root = path.join(a.disks[0]!, 'berth', id);
    expect(op.error).toMatch(/^create-container: .*; undo create-container: container removed, data kept at .*: the reservation stays; left behind: create-container, reservation$/);
    const failed = await cluster.portal.getInstance({ instance: 'late' });
    expect(failed.state).toBe('failed');
    expect(failed.message).toContain(`create failed after mysqld had started (create-container: `);
    expect(failed.message).toContain(`data kept at ${a.node}:${root};`);
    expect(await containersOf(id)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'data', 'mysql'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'data', 'berth-test-first-start'))).toBe(true);
    expect(await allocated(a.node)).toEqual(shape);

    // The same create again: a new create operation on the kept row and data, which now starts.
    const again = await cluster.portal.createInstance({ name: 'late', resources: shape, image: images[0]!, node: a.node });
    expect(again.instance!.id).toBe(id);
    expect(again.operation!.id).not.toBe(op.id);
    await expectOp(cluster, again.operation!.id, 'succeeded', 120_000);
    expect((await cluster.portal.getInstance({ instance: 'late' })).state).toBe('running');
    // The data the first start wrote is still there: it ran on the same directory.
    expect(fs.existsSync(path.join(root, 'data', 'berth-test-first-start'))).toBe(true);
    expect((await containersOf(id)).map((c) => c.State)).toEqual(['running']);

    // A second one that fails the same way, then is deleted: its data goes to the trash.
    const second = await cluster.portal.createInstance({ name: 'late2', resources: shape, image: images[0]!, node: a.node });
    await expectOp(cluster, second.operation!.id, 'failed', 120_000);
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'late2' })).id, 'succeeded');
    expect(fs.existsSync(path.join(a.disks[0]!, 'berth', second.instance!.id))).toBe(false);
    expect(fs.readdirSync(path.join(a.disks[0]!, 'berth', '.trash')).some((e) => e.startsWith(`${second.instance!.id}-`))).toBe(true);
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'late' })).id, 'succeeded');
    expect(await allocated(a.node)).toEqual({ cpuMillis: 0, memoryBytes: 0, diskBytes: 0 });
  });

  it('a node gone for good: delete --force forgets its instance, node remove (--force) the node and the rest, without touching the host', async () => {
    const b = cluster.agents[1]!;
    const [g1, g2] = await Promise.all(['gone1', 'gone2'].map((name) => cluster.portal.createInstance({ name, resources: shape, node: b.node })));
    await Promise.all([g1, g2].map((r) => expectOp(cluster, r!.operation!.id, 'succeeded', 120_000)));
    const ids = [g1!.instance!.id, g2!.instance!.id];

    // While the node heartbeats, both are refused: a normal delete is what works then.
    expect(await statusOf(cluster.portal.deleteInstance({ instance: 'gone1', force: true }))).toEqual({ code: 'FAILED_PRECONDITION', details: expect.stringMatching(/node .* is up \(its agent heartbeats\)/) });
    expect(await statusOf(cluster.portal.removeNode({ name: b.node }))).toMatchObject({ code: 'FAILED_PRECONDITION' });
    // Forcing is for admins only.
    const operator = cluster.portalAs('operator', 'ops1');
    expect(await statusOf(operator.deleteInstance({ instance: 'gone1', force: true }))).toEqual({ code: 'PERMISSION_DENIED', details: 'a forced delete needs the admin role; cert:ops1 has operator' });
    expect((await statusOf(operator.removeNode({ name: b.node }))).code).toBe('PERMISSION_DENIED');
    operator.close();
    expect(await statusOf(cluster.portal.removeNode({ name: 'no-such-node' }))).toMatchObject({ code: 'NOT_FOUND' });

    await cluster.killAgent(b, 'SIGKILL');
    await waitUntil('node b down', async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === b.node)?.state === 'down', 30_000);
    expect(await statusOf(cluster.portal.removeNode({ name: b.node }))).toEqual({ code: 'FAILED_PRECONDITION', details: expect.stringMatching(/still has 2 instances \((gone1, gone2|gone2, gone1)\)/) });

    const ctl = (...args: string[]) => execFileSync(process.execPath, ['bin/berthctl.js', '--manager', cluster.managerAddress, '--json', ...args], { cwd: ROOT, encoding: 'utf8' });
    const op = JSON.parse(ctl('instance', 'delete', 'gone1', '--force', '--wait')) as { state: string; outputs: Record<string, string> };
    expect(op.state).toBe('succeeded');
    expect(JSON.parse(op.outputs['remove-container']!)).toEqual({ forgotten: `${b.node}:${b.disks[0]}/berth/${ids[0]}` });
    expect(await allocated(b.node)).toEqual(shape);
    expect(JSON.parse(ctl('node', 'remove', b.node, '--force'))).toEqual({ name: b.node, forgottenInstances: ['gone2'] });
    expect((await cluster.portal.listNodes({})).nodes.map((n) => n.name)).not.toContain(b.node);
    expect((await cluster.portal.listInstances({})).instances.map((i) => i.name)).not.toContain('gone2');
    // Nothing on the host was touched: both containers and directories are still there.
    for (const id of ids) {
      expect((await containersOf(id)).map((c) => c.State)).toEqual(['running']);
      expect(fs.existsSync(path.join(b.disks[0]!, 'berth', id))).toBe(true);
    }

    // The agent back: a new node with nothing allocated; the containers it reports are left alone.
    cluster.startAgent(b);
    await cluster.waitForNodes();
    expect(await allocated(b.node)).toEqual({ cpuMillis: 0, memoryBytes: 0, diskBytes: 0 });
    for (const id of ids) expect((await containersOf(id)).map((c) => c.State)).toEqual(['running']);
    // What berth forgot is the host owner's to clean: this test's own containers.
    for (const id of ids) for (const c of await containersOf(id)) await docker.getContainer(c.Id).remove({ force: true, v: true });
  });

  it('at start-up a reservation no operation is working on is reported (log, event, metric); with --repair-reservations marked failed; a delete then releases it', async () => {
    const a = cluster.agents[0]!;
    await killManager(cluster);
    // What a bug or a hand edit could leave: a pending row whose operation is gone.
    const db = new Database(path.join(cluster.dir, 'manager', 'berth.db'));
    const now = new Date().toISOString();
    db.prepare(`INSERT INTO instances (id, name, server_id, node, disk_path, port, cpu_millis, memory_bytes, disk_bytes, image, state, admin_user, admin_password, anti_affinity_group, created_at, updated_at)
      VALUES ('i-0000feedbeef', 'stray', 990001, ?, ?, 4240, 250, ?, ?, 'berth/mariadb:10.11', 'pending', 'admin', '', '', ?, ?)`).run(a.node, a.disks[0], 384 * M, G, now, now);
    db.close();
    const logFile = path.join(cluster.dir, 'manager.log');
    const finding = /reservation check: stray is pending on .* but no operation is working on it: its reservation \(port 4240\) is held for nothing/;

    // Report only (the default): the row is left as it is, the finding is logged, an event and a metric.
    cluster.startManager();
    await cluster.waitForNodes();
    expect(await cluster.portal.getInstance({ instance: 'stray' })).toMatchObject({ state: 'pending', message: '' });
    expect(fs.readFileSync(logFile, 'utf8')).toMatch(new RegExp(`${finding.source} \\(reported only: start the manager with --repair-reservations`));
    const metrics = await (await fetch(`${cluster.adminUrl}/metrics`)).text();
    expect(metrics).toContain('berth_reservation_findings{kind="orphan-reservation"} 1');
    expect(metrics).toContain('berth_reservation_findings{kind="allocation-mismatch"} 0');

    // With --repair-reservations: marked failed, so that it shows.
    await killManager(cluster);
    fs.writeFileSync(logFile, '');
    cluster.startManager(['--repair-reservations']);
    await cluster.waitForNodes();
    const stray = await cluster.portal.getInstance({ instance: 'stray' });
    expect(stray.state).toBe('failed');
    expect(stray.message).toBe('found at start-up pending with no operation working on it; delete it to release its reservation');
    expect(fs.readFileSync(logFile, 'utf8')).toMatch(new RegExp(`${finding.source} \\(repaired: marked failed\\)`));
    expect(await allocated(a.node)).toEqual(shape);
    await expectOp(cluster, (await cluster.portal.deleteInstance({ instance: 'stray' })).id, 'succeeded');
    expect(await allocated(a.node)).toEqual({ cpuMillis: 0, memoryBytes: 0, diskBytes: 0 });
  });

  it('real containers: the manager SIGKILLed in a burst of creates; every request retried with its id makes exactly one instance and one container', async () => {
    const names = Array.from({ length: 6 }, (_, k) => `rb${k}`);
    const create = (name: string) => cluster.portal.createInstance({ name, resources: shape, requestId: `rid-${name}` }, 20_000);
    const { first, retried } = await burstKillRetry(cluster, names, create, (answered) => answered >= 2);
    for (const [n, id] of first) expect(retried.get(n)!.id).toBe(id);
    await Promise.all([...retried.values()].map((r) => expectOp(cluster, r.op, 'succeeded', 150_000)));
    const { instances } = await cluster.portal.listInstances({});
    expect(instances.map((i) => i.name).sort()).toEqual(names);
    expect(instances.every((i) => i.state === 'running')).toBe(true);
    const containers = await cluster.containers();
    expect(containers.map((c) => c.Labels['berth.instance']).sort()).toEqual(instances.map((i) => i.id).sort());
    expect(containers.every((c) => c.Labels['berth.role'] === 'mysqld' && c.State === 'running')).toBe(true);
    const total = (await cluster.portal.listNodes({})).nodes.reduce((s, n) => s + n.allocated!.cpuMillis, 0);
    expect(total).toBe(names.length * shape.cpuMillis);

    // Deletes with ids, each sent twice: one delete operation per instance.
    const ops = await Promise.all(names.map((n) => cluster.portal.deleteInstance({ instance: n, requestId: `del-${n}` })));
    const again = await Promise.all(names.map((n) => cluster.portal.deleteInstance({ instance: n, requestId: `del-${n}` })));
    expect(again.map((o) => o.id)).toEqual(ops.map((o) => o.id));
    await Promise.all(ops.map((o) => expectOp(cluster, o.id, 'succeeded', 120_000)));
    expect(await cluster.containers()).toEqual([]);
    expect((await cluster.portal.listNodes({})).nodes.map((n) => n.allocated)).toEqual(cluster.agents.map(() => ({ cpuMillis: 0, memoryBytes: 0, diskBytes: 0 })));
  });
});

// What a burst of creates looks like to a client whose manager is SIGKILLed in the middle: some
// calls answered, some cut off, the rest refused. `concurrency` calls are in flight at a time.
// Every request is then retried with its request id.
async function burstKillRetry(cluster: TestCluster, names: string[], create: (name: string) => Promise<{ instance?: { id: string; name: string } | null; operation?: { id: string } | null }>, killWhen: (answered: number) => boolean, concurrency = names.length) {
  const first = new Map<string, string>();
  let killed: Promise<void> | undefined;
  let cutOff = 0;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const n = names[next++]!;
      try {
        const r = await create(n);
        first.set(n, r.instance!.id);
        if (!killed && killWhen(first.size)) killed = killManager(cluster);
      } catch {
        cutOff++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await (killed ?? killManager(cluster));
  cluster.startManager();
  await waitUntil('every node ready after the restart', async () => {
    const { nodes } = await cluster.portal.listNodes({}, 2000);
    return nodes.length > 0 && nodes.every((n) => n.state === 'ready');
  }, 60_000);
  const retried = new Map<string, { id: string; op: string }>();
  await Promise.all(names.map(async (n) => {
    const r = await create(n);
    retried.set(n, { id: r.instance!.id, op: r.operation!.id });
  }));
  return { first, retried, cutOff };
}

function killManager(cluster: TestCluster): Promise<void> {
  const p = cluster.manager!;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGKILL');
  return exited;
}

// The same at the scale of a portal's burst: a few hundred concurrent creates against the real
// manager process (real gRPC, TLS, SQLite with group commit) and simulated hosts, whose
// in-memory "containers" show whether anything was made twice or left behind.
describe('request ids across a manager crash, a few hundred creates', () => {
  const cluster = new TestCluster(['--node-timeout', '60']);
  let agents: FakeAgent[] = [];
  const N = 300;

  beforeAll(async () => {
    await cluster.start([]);
    agents = await Promise.all(
      Array.from({ length: 4 }, (_, i) => new FakeAgent({ name: cluster.nodeName(`f${i}`), cpuMillis: 512_000, memoryBytes: 1024 * G, disks: [10_000 * G], ports: [20_000 + i * 1000, 20_999 + i * 1000] }, cluster.registryAddress, cluster.tlsDir).start()),
    );
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cluster.stop();
  });

  it('every request retried with its id ends with exactly one instance, one container and one reservation', async () => {
    const names = Array.from({ length: N }, (_, k) => `burst-${k}`);
    const small = { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: G };
    const create = (name: string) => cluster.portal.createInstance({ name, resources: small, requestId: `req-${name}` }, 20_000);
    const { first, retried, cutOff } = await burstKillRetry(cluster, names, create, (answered) => answered >= N / 5, 30);
    // The kill really fell in the middle: some calls were answered, some were cut off.
    expect(first.size).toBeGreaterThanOrEqual(N / 5);
    expect(cutOff).toBeGreaterThan(0);
    // An answered request's retry names the instance the first answer named.
    for (const [n, id] of first) expect(retried.get(n)!.id, n).toBe(id);

    await waitUntil('every create to end', async () => {
      const { instances } = await cluster.portal.listInstances({});
      return instances.length === N && instances.every((i) => i.state === 'running');
    }, 60_000);
    const { instances } = await cluster.portal.listInstances({});
    expect(instances.map((i) => i.name).sort()).toEqual([...names].sort());
    expect(new Map(instances.map((i) => [i.name, i.id]))).toEqual(new Map([...retried].map(([n, r]) => [n, r.id])));
    // One container per instance, none elsewhere; each node's reservation is exactly its instances.
    const made = agents.flatMap((a) => [...a.instances.keys()]).sort();
    expect(made).toEqual(instances.map((i) => i.id).sort());
    const { nodes } = await cluster.portal.listNodes({});
    for (const n of nodes) {
      const mine = instances.filter((i) => i.node === n.name);
      expect(n.allocated).toEqual({ cpuMillis: 100 * mine.length, memoryBytes: 256 * M * mine.length, diskBytes: G * mine.length });
      expect(new Set(mine.map((i) => i.port)).size).toBe(mine.length);
    }
    // The same id for another request is refused; a retried delete is the same delete.
    expect(await statusOf(cluster.portal.createInstance({ name: 'other', resources: small, requestId: 'req-burst-0' }))).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^request_id req-burst-0 was already used for another request \(CreateInstance at /) });
    const d1 = await cluster.portal.deleteInstance({ instance: 'burst-0', requestId: 'del-burst-0' });
    const d2 = await cluster.portal.deleteInstance({ instance: 'burst-0', requestId: 'del-burst-0' });
    expect(d2.id).toBe(d1.id);
    expect((await waitOp(cluster, d1.id)).state).toBe('succeeded');
    expect((await cluster.portal.deleteInstance({ instance: 'burst-0', requestId: 'del-burst-0' })).id).toBe(d1.id);
    expect(await statusOf(cluster.portal.createInstance({ name: 'burst-0', resources: small, requestId: 'req-burst-0' }))).toEqual({ code: 'FAILED_PRECONDITION', details: expect.stringMatching(/created instance i-[0-9a-f]+, which has been deleted since/) });
  });

  it('every mutating RPC takes a request id: a retry, also after a manager restart, answers with the first call, never doing it twice', async () => {
    const spare = await new FakeAgent({ name: cluster.nodeName('spare'), cpuMillis: 4000, memoryBytes: 8 * G, disks: [100 * G], ports: [25_000, 25_099] }, cluster.registryAddress, cluster.tlsDir).start();
    agents.push(spare);
    const node = spare.spec.name;
    await waitUntil('the spare node registered', async () => (await cluster.portal.listNodes({})).nodes.some((n) => n.name === node && n.state === 'ready'), 20_000);
    const nodeState = async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === node)!;

    // A cordon retried after someone uncordoned is answered with the first call's node, not done again.
    const c1 = await cluster.portal.cordonNode({ name: node, requestId: 'c-1' });
    expect(c1.cordoned).toBe(true);
    await cluster.portal.uncordonNode({ name: node });
    expect(await cluster.portal.cordonNode({ name: node, requestId: 'c-1' })).toEqual(c1);
    expect((await nodeState()).cordoned).toBe(false);
    // The same id for another request is refused; another caller's same id is its own request.
    expect(await statusOf(cluster.portal.uncordonNode({ name: node, requestId: 'c-1' }))).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^request_id c-1 was already used for another request \(CordonNode at /) });
    const operator = cluster.portalAs('operator', 'ops-rid');
    expect((await operator.cordonNode({ name: node, requestId: 'c-1' })).cordoned).toBe(true);
    operator.close();
    await cluster.portal.uncordonNode({ name: node });

    // An operation: the drain's id is recorded with it; the retry is the same drain.
    const d1 = await cluster.portal.drainNode({ name: node, requestId: 'd-1' });
    expect((await cluster.portal.drainNode({ name: node, requestId: 'd-1' })).id).toBe(d1.id);
    expect((await waitOp(cluster, d1.id)).state).toBe('succeeded');
    // A token retried: a working secret for the one token, the first one stops working.
    const t1 = await cluster.portal.createToken({ name: 'rid-ci', role: 'viewer', requestId: 't-1' });
    const t2 = await cluster.portal.createToken({ name: 'rid-ci', role: 'viewer', requestId: 't-1' });
    expect(t2).toMatchObject({ name: 'rid-ci', role: 'viewer' });
    expect((await cluster.portal.listTokens({})).tokens.filter((t) => t.name === 'rid-ci')).toHaveLength(1);
    const bearer = (token: string) => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${token}`);
      return cluster.portalAs('none', 'none', m);
    };
    const [old, current] = [bearer(t1.token), bearer(t2.token)];
    expect((await statusOf(old.listNodes({}))).code).toBe('UNAUTHENTICATED');
    expect((await current.listNodes({})).nodes.length).toBeGreaterThan(0);
    old.close();
    current.close();

    // The manager killed and back: the ids are in its store.
    await killManager(cluster);
    cluster.startManager();
    await waitUntil('the manager back', async () => (await cluster.portal.listNodes({}, 2000)).nodes.every((n) => n.state === 'ready'), 60_000);
    expect((await cluster.portal.drainNode({ name: node, requestId: 'd-1' })).id).toBe(d1.id);
    expect(await cluster.portal.cordonNode({ name: node, requestId: 'c-1' })).toEqual(c1);

    // berthctl: --request-id makes a rerun of the command the same request.
    const ctl = (...args: string[]) => JSON.parse(execFileSync(process.execPath, ['bin/berthctl.js', '--manager', cluster.managerAddress, '--json', ...args], { cwd: ROOT, encoding: 'utf8' })) as { id: string };
    const r1 = ctl('--request-id', 'cli-drain', 'node', 'drain', node);
    const r2 = ctl('node', 'drain', node, '--request-id', 'cli-drain');
    expect(r2.id).toBe(r1.id);
    expect(r1.id).not.toBe(d1.id);
  }, 90_000);
});

// Client connections to MySQL over TLS, both flavors: the node's MySQL certificate from the
// fleet CA, require_secure_transport with --mysql-require-tls, and what a client needs in the API.
describe.each(FLAVORS)('MySQL client TLS ($flavor)', (f) => {
  const cluster = new TestCluster([...flavorArgs(f), '--mysql-require-tls', '--node-timeout', '5']);
  const host = '127.0.0.31';

  beforeAll(async () => {
    issueCert(cluster.tlsDir, 'mysql', cluster.nodeName('tls'), { hosts: [host] });
    await cluster.start([{ name: 'tls', host, ports: '4201-4210', cpus: '2', memory: '2G' }]);
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  it('serves TLS with a certificate a client verifies from the CA in the credentials, and refuses plaintext', async () => {
    const res = await cluster.portal.createInstance({ name: 'sec', resources: { cpuMillis: 1000, memoryBytes: G, diskBytes: G } });
    await expectOp(cluster, res.operation!.id, 'succeeded', 150_000);
    expect(await cluster.portal.getInstance({ instance: 'sec' })).toMatchObject({ tls: true, tlsRequired: true, flavor: f.flavor });
    const c = await cluster.portal.getCredentials({ instance: 'sec' });
    expect(c).toMatchObject({ host, tls: true, tlsRequired: true, caCertificate: fs.readFileSync(path.join(cluster.tlsDir, 'ca.crt'), 'utf8') });
    const login = { host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 };

    const conn = await mysql.createConnection({ ...login, ssl: { ca: c.caCertificate, rejectUnauthorized: true } });
    const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    expect((rows as { Value: string }[])[0]!.Value).toMatch(/^TLSv1\.[23]$/);
    const [vars] = await conn.query('SELECT @@require_secure_transport AS r');
    expect(Number((vars as { r: number }[])[0]!.r)).toBe(1);
    await conn.end();

    // The same login without TLS is refused (MySQL says why; MariaDB 10.11 answers "Access denied").
    await expect(mysql.createConnection(login)).rejects.toThrow(f.flavor === 'mysql' ? /insecure transport/i : /Access denied/);
    // A server whose certificate another CA signed is not trusted (nor is this one by another CA).
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-other-ca-'));
    initCa(other);
    await expect(mysql.createConnection({ ...login, ssl: { ca: fs.readFileSync(path.join(other, 'ca.crt')), rejectUnauthorized: true } })).rejects.toThrow(/certificate/i);
    fs.rmSync(other, { recursive: true, force: true });
  });

  it('a rotated node certificate reaches the running instance when its agent restarts: reloaded, mysqld not restarted', async () => {
    const a = cluster.agents[0]!;
    const c = await cluster.portal.getCredentials({ instance: 'sec' });
    const status = async (name: string) => {
      const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000, ssl: { ca: c.caCertificate, rejectUnauthorized: true } });
      const [rows] = await conn.query('SHOW GLOBAL STATUS LIKE ?', [name]);
      await conn.end();
      return (rows as { Value: string }[])[0]!.Value;
    };
    const startOf = (file: string) => execFileSync('openssl', ['x509', '-noout', '-startdate', '-in', file], { encoding: 'utf8' }).trim().replace(/^notBefore=/, '');
    const certFile = path.join(cluster.tlsDir, `mysql-${a.node}.crt`);
    expect(await status('Ssl_server_not_before')).toBe(startOf(certFile));
    const uptime = Number(await status('Uptime'));
    // A new certificate (the first was made before the instance was created, seconds ago at least).
    const before = startOf(certFile);
    issueCert(cluster.tlsDir, 'mysql', a.node, { hosts: [host], force: true });
    expect(startOf(certFile)).not.toBe(before);
    await cluster.killAgent(a, 'SIGTERM');
    cluster.startAgent(a);
    await cluster.waitForNodes();
    await waitUntil('mysqld serves the new certificate', async () => (await status('Ssl_server_not_before')) === startOf(certFile), 30_000);
    expect(Number(await status('Uptime'))).toBeGreaterThanOrEqual(uptime);
  });
});

// Replication, CLONE and migration between servers that require TLS, both flavors: the replica
// (or the copy's target) connects over TLS and verifies its source with the fleet CA, the
// accounts it uses are REQUIRE SSL, and the API reports the TLS of where the instance runs now.
describe.each(FLAVORS)('replication and migration over TLS ($flavor)', (f) => {
  const cluster = new TestCluster([...flavorArgs(f), '--mysql-require-tls', '--node-timeout', '5']);
  const hosts = ['127.0.0.33', '127.0.0.34'];
  const member = { cpuMillis: 1000, memoryBytes: G, diskBytes: G };

  beforeAll(async () => {
    hosts.forEach((host, k) => issueCert(cluster.tlsDir, 'mysql', cluster.nodeName(`t${k}`), { hosts: [host] }));
    await cluster.start([
      { name: 't0', host: hosts[0]!, ports: '4301-4310', cpus: '4', memory: '4G' },
      { name: 't1', host: hosts[1]!, ports: '4311-4320', cpus: '4', memory: '4G' },
    ]);
  }, 90_000);
  afterAll(async () => {
    await cluster.stop();
  });

  const connect = async (instance: string) => {
    const c = await cluster.portal.getCredentials({ instance });
    return mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000, ssl: { ca: c.caCertificate, rejectUnauthorized: true } });
  };
  const one = async (conn: mysql.Connection, sql: string) => ((await conn.query(sql))[0] as Record<string, unknown>[])[0]!;
  const tlsOf = async (instance: string) => {
    const i = await cluster.portal.getInstance({ instance });
    return { tls: i.tls, tlsRequired: i.tlsRequired };
  };

  it('a cluster (1+1) replicates over TLS: the replica verifies the primary, the replication account is REQUIRE SSL', async () => {
    const res = await cluster.portal.createCluster({ name: 'sec', resources: member, replicas: 1, replication: 'async' });
    await expectOp(cluster, res.operation!.id, 'succeeded', 240_000);
    const { members } = await cluster.portal.getCluster({ name: 'sec' });
    const primary = members.find((m) => m.role === 'primary')!.instance!;
    const replica = members.find((m) => m.role === 'replica')!.instance!;
    // Members' TLS as their agents report it.
    for (const m of [primary, replica]) await waitUntil(`${m.name} reported with required TLS`, async () => (await tlsOf(m.name)).tlsRequired, 20_000);

    const p = await connect(primary.name);
    const r = await connect(replica.name);
    const status = await one(r, f.flavor === 'mysql' ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS');
    const col = (name: string) => status[f.flavor === 'mysql' ? `Source_${name}` : `Master_${name}`];
    expect([col('SSL_Allowed'), col('SSL_Verify_Server_Cert'), col('Host')]).toEqual(['Yes', 'Yes', primary.host]);
    expect(status[f.flavor === 'mysql' ? 'Replica_IO_Running' : 'Slave_IO_Running']).toBe('Yes');
    // The account the replica logs in with takes TLS only; the server takes TLS only anyway.
    const [accounts] = await p.query("SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE 'berth_repl%'");
    const repl = (accounts as { user: string; host: string }[])[0]!;
    expect(Object.values(await one(p, `SHOW CREATE USER '${repl.user}'@'${repl.host}'`))[0]).toMatch(/REQUIRE SSL/);
    expect(Number((await one(p, 'SELECT @@require_secure_transport AS r')).r)).toBe(1);
    if (f.flavor === 'mysql') {
      // The primary's side of the replica's session: encrypted.
      const cipher = await one(p, "SELECT s.VARIABLE_VALUE AS v FROM performance_schema.status_by_thread s JOIN performance_schema.threads t USING (THREAD_ID) WHERE t.PROCESSLIST_COMMAND LIKE 'Binlog Dump%' AND s.VARIABLE_NAME = 'Ssl_cipher'");
      expect(String(cipher.v)).not.toBe('');
    }
    // And it replicates.
    await p.query('CREATE DATABASE tlsrepl');
    await p.query('CREATE TABLE tlsrepl.t (id INT PRIMARY KEY)');
    await p.query('INSERT INTO tlsrepl.t VALUES (42)');
    await waitUntil('the row on the replica', async () => ((await r.query('SELECT id FROM tlsrepl.t').catch(() => [[]]))[0] as unknown[]).length === 1, 20_000);
    await p.end();
    await r.end();
    await expectOp(cluster, (await cluster.portal.deleteCluster({ name: 'sec' })).id, 'succeeded', 120_000);
  }, 300_000);

  it('a migration keeps the instance\'s TLS requirement; the API reports the TLS where it runs now', async () => {
    const [t0, t1] = cluster.agents.map((a) => a.node);
    const res = await cluster.portal.createInstance({ name: 'mig', resources: member, node: t0 });
    await expectOp(cluster, res.operation!.id, 'succeeded', 150_000);
    const before = await connect('mig');
    await before.query('CREATE DATABASE kept');
    await before.query('CREATE TABLE kept.t (id INT PRIMARY KEY)');
    await before.query('INSERT INTO kept.t VALUES (7)');
    await before.end();

    const op = await cluster.portal.resizeInstance({ instance: 'mig', resources: { cpuMillis: 1200 }, mode: 'migrate', node: t1 });
    await expectOp(cluster, op.id, 'succeeded', 240_000);
    const moved = await cluster.portal.getInstance({ instance: 'mig' });
    expect([moved.node, moved.host]).toEqual([t1, hosts[1]]);
    expect(await tlsOf('mig')).toEqual({ tls: true, tlsRequired: true });
    const c = await cluster.portal.getCredentials({ instance: 'mig' });
    await expect(mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 })).rejects.toThrow(f.flavor === 'mysql' ? /insecure transport/i : /Access denied/);
    const after = await connect('mig');
    expect(await one(after, 'SELECT id FROM kept.t')).toEqual({ id: 7 });
    expect(Number((await one(after, 'SELECT @@require_secure_transport AS r')).r)).toBe(1);
    await after.end();
  }, 300_000);
});

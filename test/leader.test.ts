import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { agentProto, portalProto } from '../src/proto';
import { asyncClient, CHANNEL_OPTIONS, EPOCH_METADATA, LEADER_METADATA, type AsyncClient } from '../src/rpc';
import { channelCredentials, filesIn } from '../src/tls/credentials';
import { docker, freePort, ROOT, TestCluster, waitUntil, type RunningAgent } from './harness/cluster';

// Two managers on one SQLite store (one state directory, as on a shared volume) and two real
// agents that know both registries. Lease 4 s, a try a second: a takeover within 10 s.
interface Manager {
  name: string;
  host: string;
  portal: string;
  registry: string;
  admin: string;
  proc?: ChildProcess;
  exit?: Promise<number | null>;
  client?: AsyncClient<PortalClient>;
}

describe('several managers on one store: one leader, takeover and fencing', () => {
  const cluster = new TestCluster();
  const shared = path.join(cluster.dir, 'manager');
  const managers: Manager[] = [];
  const logOf = (m: Manager) => path.join(cluster.dir, `${m.name}.log`);
  const instanceName = `lead-${cluster.id}`;
  let instanceId = '';
  let instanceAgent: RunningAgent;

  function startManager(m: Manager): void {
    const out = fs.openSync(logOf(m), 'a');
    const args = ['dist/manager/main.js', '--listen', m.portal, '--registry-listen', m.registry, '--admin-listen', m.admin, '--admin-unauthenticated',
      '--tls-dir', cluster.tlsDir, '--state-dir', shared, '--leader-lease', '4', '--leader-renew', '1', '--node-timeout', '10'];
    m.proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', out, out], env: { ...process.env, BERTH_LOG_LEVEL: 'debug' } });
    fs.closeSync(out);
    const p = m.proc;
    m.exit = new Promise((resolve) => p.once('exit', (code) => resolve(code)));
    m.client ??= asyncClient(new (portalProto().berth.v1.Portal)(m.portal, channelCredentials(cluster.certFor('admin', 'admin'), { kind: 'manager' }), CHANNEL_OPTIONS) as unknown as PortalClient);
  }

  // Leads: its portal answers. Follows: it refuses, naming `leader`.
  const leads = (m: Manager) => waitUntil(`${m.name} to lead`, async () => (await m.client!.listNodes({}, 2000), true), 20_000, 100);
  async function follows(m: Manager, leader: Manager): Promise<grpc.ServiceError> {
    return waitUntil(`${m.name} to follow ${leader.name}`, async () => {
      const err = await m.client!.listNodes({}, 2000).then(() => undefined, (e: grpc.ServiceError) => e);
      return err?.code === grpc.status.UNAVAILABLE && err.metadata.get(LEADER_METADATA)[0] === leader.portal ? err : undefined;
    }, 20_000);
  }
  const nodesReady = (m: Manager) =>
    waitUntil('both nodes ready', async () => {
      const { nodes } = await m.client!.listNodes({}, 2000);
      return cluster.agents.every((a) => nodes.some((n) => n.name === a.node && n.state === 'ready'));
    }, 30_000);

  beforeAll(async () => {
    for (const [i, host] of ['127.0.0.121', '127.0.0.122'].entries()) {
      managers.push({ name: `m${i + 1}`, host, portal: `${host}:${await freePort(host)}`, registry: `${host}:${await freePort(host)}`, admin: `${host}:${await freePort(host)}` });
    }
    startManager(managers[0]!);
    await leads(managers[0]!);
    startManager(managers[1]!);
    const registries = managers.map((m) => m.registry).join(',');
    for (const [i, host] of ['127.0.0.123', '127.0.0.124'].entries()) {
      const node = cluster.nodeName(`h${i + 1}`);
      const a: RunningAgent = { spec: { name: `h${i + 1}`, host, ports: `${5401 + i * 20}-${5420 + i * 20}`, args: ['--manager', registries] }, node, address: `${host}:${await freePort(host)}`, disks: [path.join(cluster.dir, node, 'data1')] };
      cluster.agents.push(a);
      cluster.startAgent(a);
    }
    await nodesReady(managers[0]!);
  }, 90_000);

  afterAll(async () => {
    for (const m of managers) {
      if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) {
        m.proc.kill('SIGCONT');
        m.proc.kill('SIGTERM');
        await Promise.race([m.exit, new Promise((r) => setTimeout(r, 5000))]);
        m.proc.kill('SIGKILL');
      }
      m.client?.close();
    }
    await cluster.stop();
  });

  it('the second manager follows: it refuses every call with UNAVAILABLE, naming the leader', async () => {
    const err = await follows(managers[1]!, managers[0]!);
    expect(err.details).toMatch(/this manager is a follower; the leader is .* \(epoch \d+\) at 127\.0\.0\.121:/);
    const create = await managers[1]!.client!.createInstance({ name: 'nope', resources: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30 } }).catch((e: grpc.ServiceError) => e);
    expect((create as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    // berthctl pointed at the follower follows it to the leader.
    const admin = filesIn(cluster.tlsDir, 'admin', 'admin');
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', managers[1]!.portal, 'node', 'list', '--json'], { cwd: ROOT, env: { ...process.env, BERTH_CA: admin.ca, BERTH_CERT: admin.cert, BERTH_KEY: admin.key } });
    expect((JSON.parse(stdout) as { name: string }[]).map((n) => n.name).sort()).toEqual(cluster.agents.map((a) => a.node).sort());
  });

  it('kill -9 of the leader in the middle of a create: the follower takes over within 10 s and finishes it, once', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    const res = await m1.client!.createInstance({ name: instanceName, resources: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30 } });
    const opId = res.operation!.id;
    instanceId = res.operation!.subjects.find((s) => s.kind === 'instance')?.name ?? '';
    await waitUntil('the create to be at create-container', async () => {
      const op = await m1.client!.getOperation({ id: opId }, 2000);
      return op.steps.find((s) => s.name === 'create-container')?.state === 'running';
    }, 30_000, 50);
    m1.proc!.kill('SIGKILL');
    const killedAt = Date.now();
    await m1.exit;
    await leads(m2);
    const takeoverMs = Date.now() - killedAt;
    console.log(`takeover: ${takeoverMs} ms from kill -9 of the leader to the follower serving`);
    expect(takeoverMs).toBeLessThan(10_000);
    const op = await m2.client!.waitOperation({ id: opId, timeoutMs: 120_000 }, 130_000);
    expect(op.state, JSON.stringify(op.steps)).toBe('succeeded');
    const inst = await m2.client!.getInstance({ instance: instanceName });
    instanceId = inst.id;
    instanceAgent = cluster.agents.find((a) => a.node === inst.node)!;
    expect(inst.state).toBe('running');
    // Once: one container for the instance, and it serves with the credentials of the create.
    const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.instance=${inst.id}`] }) });
    expect(containers).toHaveLength(1);
    const c = res.credentials!;
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 });
    expect(await conn.query('SELECT 1 AS one').then(([rows]) => rows)).toEqual([{ one: 1 }]);
    await conn.end();
    // Both agents follow the new leader.
    await nodesReady(m2);
  }, 180_000);

  it('a deposed leader (stopped past its lease) is refused by the agents and steps down by itself', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    startManager(m1);
    await follows(m1, m2);
    const epochFile = path.join(instanceAgent.disks[0]!, 'berth', '.leader-epoch');
    const deposedEpoch = Number(fs.readFileSync(epochFile, 'utf8'));
    m2.proc!.kill('SIGSTOP');
    await leads(m1);
    await nodesReady(m1);
    // The new leader acts: the delete reaches the agent with the new epoch.
    const del = await m1.client!.deleteInstance({ instance: instanceName });
    const op = await m1.client!.waitOperation({ id: del.id, timeoutMs: 60_000 }, 70_000);
    expect(op.state).toBe('succeeded');
    const newEpoch = Number(fs.readFileSync(epochFile, 'utf8'));
    expect(newEpoch).toBeGreaterThan(deposedEpoch);
    // What the deposed leader would send: its epoch, with the manager's certificate.
    const agent = new (agentProto().berth.v1.Agent)(instanceAgent.address, channelCredentials(filesIn(cluster.tlsDir, 'manager', 'manager'), { kind: 'node', name: instanceAgent.node }), CHANNEL_OPTIONS);
    const md = new grpc.Metadata();
    md.set(EPOCH_METADATA, String(deposedEpoch));
    const refused = await new Promise<grpc.ServiceError | null>((resolve) => agent.listInstances({}, md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) => resolve(err)));
    agent.close();
    expect(refused?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused?.details).toBe(`ListInstances refused: leader epoch ${deposedEpoch} is older than epoch ${newEpoch} this agent has seen; the caller is no longer the leader`);
    // Woken, the deposed leader finds the lease gone and ends by itself.
    m2.proc!.kill('SIGCONT');
    const code = await Promise.race([m2.exit, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(code).toBe(75);
    expect(fs.readFileSync(logOf(m2), 'utf8')).toMatch(/stepped down, the lease is held by .* with epoch \d+/);
    // The leader is unmoved, and the instance is gone once.
    await leads(m1);
    expect(await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.instance=${instanceId}`] }) })).toHaveLength(0);
  }, 120_000);
});

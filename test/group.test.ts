import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEndpoints__Output } from '../src/gen/berth/v1/ClusterEndpoints';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { docker, TestCluster, waitUntil } from './harness/cluster';
import { expectStatus, FLAVORS, flavorArgs } from './harness/flavors';
import type { Address } from './harness/writer';

const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 1 * G };
// Three simulated hosts; each agent's instance ports are its own so that the group
// communication ports (instance port + 1000: 4991-4999) never clash across hosts (XCom listens
// on every address).
const HOSTS = ['127.0.0.91', '127.0.0.92', '127.0.0.93'];
const PORTS = ['3991-3993', '3994-3996', '3997-3999'];
const mysqlCase = FLAVORS.find((f) => f.flavor === 'mysql')!;

// Group communication refuses a local address no interface has ("There is no local IP address
// matching the one configured for the local node"): 127.0.0.x answers on lo without being one of
// its addresses. A real host has its address on an interface; the simulated ones get theirs
// here, and lose them after.
const added: string[] = [];
const hasAddress = (host: string) => execFileSync('ip', ['-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).includes(` ${host}/`);

describe('consensus clusters: MySQL Group Replication', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    for (const host of HOSTS) {
      if (hasAddress(host)) continue;
      execFileSync('ip', ['addr', 'add', `${host}/32`, 'dev', 'lo']);
      added.push(host);
    }
    cluster = new TestCluster(flavorArgs(mysqlCase));
    await cluster.start(HOSTS.map((host, i) => ({ name: `g${i + 1}`, host, ports: PORTS[i]!, cpus: '8', memory: '8G' })));
  }, 120_000);

  // The group as the survivors see it and what the manager and agents logged about it, kept in
  // a directory that outlives the run.
  async function diagnose(): Promise<string> {
    const keep = fs.mkdtempSync(path.join('/tmp', 'berth-group-'));
    fs.cpSync(cluster.dir, keep, { recursive: true, filter: (src) => !/\/data\d|\/tls/.test(src) });
    const view = await cluster.portal.getCluster({ name: 'g1' }).catch((e: Error) => e.message);
    const lines = fs.readFileSync(path.join(cluster.dir, 'manager.log'), 'utf8').split('\n').filter((l) => /group|primary|reconciler/i.test(l)).slice(-20);
    return [`kept in ${keep}`, `cluster: ${JSON.stringify(view, null, 1)}`, `manager:\n${lines.join('\n')}`].join('\n');
  }

  afterAll(async () => {
    await cluster?.stop();
    for (const host of added.splice(0)) execFileSync('ip', ['addr', 'del', `${host}/32`, 'dev', 'lo']);
  });

  it('refuses multi-primary and a group that is not 3, 5 or 7 with INVALID_ARGUMENT', async () => {
    const req = { name: 'gx', resources: shape, replication: 'group', flavor: 'mysql' };
    await expectStatus(cluster.portal.createCluster({ ...req, members: 3, groupMode: 'multi-primary' }), grpc.status.INVALID_ARGUMENT, /multi-primary is refused/);
    await expectStatus(cluster.portal.createCluster({ ...req, members: 4 }), grpc.status.INVALID_ARGUMENT, /3, 5 or 7/);
  });

  it('makes a 3-member group; docker kill of the primary: the group elects another, berth follows it, every acknowledged row is on it and only primaries acknowledged', async () => {
    const res = await cluster.portal.createCluster({ name: 'g1', resources: shape, replication: 'group', members: 3, flavor: 'mysql', memberWeight: 60 }, 30_000);
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 300_000 }, 310_000);
    expect(op.state, `${op.error}\n${op.steps.map((s) => `${s.name}=${s.state} ${s.error}`).join('\n')}\n${cluster.logs()}`).toBe('succeeded');
    const login = { user: res.credentials!.user, password: res.credentials!.password };

    // Every member ONLINE, one PRIMARY, and it is the store's primary.
    const view = await waitUntil('three members ONLINE', async () => {
      const c = await cluster.portal.getCluster({ name: 'g1' });
      return c.members.every((m) => m.groupState === 'ONLINE' && m.health === 'ok') ? c : undefined;
    }, 60_000);
    expect(view.replication).toBe('group');
    expect(view.groupName).toMatch(/^[0-9a-f-]{36}$/);
    expect(view.memberWeight).toBe(60);
    expect(view.members.map((m) => m.groupRole).sort()).toEqual(['PRIMARY', 'SECONDARY', 'SECONDARY']);
    expect(view.members.find((m) => m.groupRole === 'PRIMARY')!.instance!.name).toBe(view.primary);
    expect(view.members.every((m) => /^9\.7\./.test(m.groupVersion))).toBe(true);

    const endpoints = (): Promise<ClusterEndpoints__Output> => cluster.portal.getClusterEndpoints({ name: 'g1' });
    const primaryAddress = async (): Promise<Address> => {
      const ep = await endpoints();
      return { host: ep.primary!.host, port: ep.primary!.port, ...login };
    };
    const old = (await endpoints()).primary!;
    const writer = startAckedWriter('t1', primaryAddress, { pauseMs: 2 });
    await writer.started;
    await waitUntil('writes acknowledged by the first primary', async () => writer.acked.length >= 200, 30_000);

    const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.instance=${old.instanceId}`, 'berth.role=mysqld'] }) });
    await docker.getContainer(c!.Id).kill();
    const killedAt = Date.now();

    const now = await waitUntil('berth to follow the primary the group elected', async () => {
      const ep = await endpoints();
      return ep.primary && ep.primary.instanceId !== old.instanceId ? ep.primary : undefined;
    }, 120_000, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose()}`);
    });
    const electedMs = Date.now() - killedAt;
    await waitUntil('writes acknowledged by the new primary', async () => writer.acked.filter((a) => a.port === now.port && a.at > killedAt).length >= 50, 60_000);
    await writer.stop();

    // Every acknowledged row is on the new primary.
    const addr = { host: now.host, port: now.port, ...login };
    expect(await missingRows(addr, 't1', writer.acked.map((a) => a.id))).toEqual([]);
    // Only the two primaries acknowledged, each while it was the primary (the old one before
    // it was killed), and never a read-only server.
    const servers = new Set(writer.acked.map((a) => a.port));
    expect([...servers].sort()).toEqual([old.port, now.port].sort());
    expect(writer.acked.filter((a) => a.port === old.port && a.at > killedAt)).toEqual([]);
    expect(writer.acked.filter((a) => / ro=1 /.test(a.server))).toEqual([]);

    const after = await waitUntil('the group of two shown by berth', async () => {
      const v = await cluster.portal.getCluster({ name: 'g1' });
      const m = v.members.find((x) => x.instance!.id === now.instanceId)!;
      const gone = v.members.find((x) => x.instance!.id === old.instanceId)!;
      return m.groupRole === 'PRIMARY' && m.groupState === 'ONLINE' && v.members.filter((x) => x.groupState === 'ONLINE').length === 2 && gone.health === 'down' ? v : undefined;
    }, 30_000);
    // berth never failed over or fenced anything itself.
    expect((await cluster.portal.listClusterHistory({ cluster: 'g1' })).entries).toEqual([]);
    expect(after.members.some((m) => m.fenced)).toBe(false);
    console.log(`group: kill -> berth follows the new primary in ${electedMs} ms; ${writer.acked.length} acknowledged rows, ${writer.errors.length} errors`);

    const del = await cluster.portal.deleteCluster({ name: 'g1' });
    const gone = await cluster.portal.waitOperation({ id: del.id, timeoutMs: 120_000 }, 130_000);
    expect(gone.state, gone.error).toBe('succeeded');
  }, 600_000);
});

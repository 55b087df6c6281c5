import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEndpoints__Output } from '../src/gen/berth/v1/ClusterEndpoints';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { docker, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import type { Address } from './harness/writer';

const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 1 * G };
// Three simulated hosts with instance ports 5101-5115; Galera listens on each member's own
// address at its instance port + 16, + 32 and + 48 (group communication, IST, SST: 5117-5163),
// outside every agent's range.
const HOSTS = ['127.0.0.101', '127.0.0.102', '127.0.0.103'];
const PORTS = ['5101-5105', '5106-5110', '5111-5115'];
const OFFSET = '16';
const mariadbCase = FLAVORS.find((f) => f.flavor === 'mariadb')!;

async function readOnlyOf(addr: Address): Promise<number> {
  const c = await mysql.createConnection({ ...addr, connectTimeout: 3000 });
  try {
    const [rows] = (await c.query('SELECT @@read_only AS ro')) as unknown as [{ ro: number }[]];
    return Number(rows[0]!.ro);
  } finally {
    await c.end();
  }
}

// Every my.cnf the agents wrote under the run's directory, by instance id.
function myCnfs(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !['data', 'log', 'tmp', 'run', '.trash', '.templates'].includes(e.name)) walk(p);
      else if (e.name === 'my.cnf' && path.basename(d) === 'conf') out.set(path.basename(path.dirname(d)), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('consensus clusters: MariaDB Galera with one writer chosen by berth', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = new TestCluster([...flavorArgs(mariadbCase), '--galera-port-offset', OFFSET]);
    await cluster.start(HOSTS.map((host, i) => ({ name: `m${i + 1}`, host, ports: PORTS[i]!, cpus: '8', memory: '8G' })));
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  async function diagnose(): Promise<string> {
    const keep = fs.mkdtempSync(path.join('/tmp', 'berth-galera-'));
    fs.cpSync(cluster.dir, keep, { recursive: true, filter: (src) => !/\/(data|tls)$/.test(src) });
    const view = await cluster.portal.getCluster({ name: 'gal1' }).catch((e: Error) => e.message);
    const lines = fs.readFileSync(path.join(cluster.dir, 'manager.log'), 'utf8').split('\n').filter((l) => /galera|writer|primary/i.test(l)).slice(-30);
    return [`kept in ${keep}`, `cluster: ${JSON.stringify(view, null, 1)}`, `manager:\n${lines.join('\n')}`].join('\n');
  }

  it('makes a 3-member Galera cluster; docker kill of the writer: berth picks another Synced member, every acknowledged row is on it, only the writer of the moment acknowledged', async () => {
    const res = await cluster.portal.createCluster({ name: 'gal1', resources: shape, replication: 'group', members: 3, flavor: 'mariadb' }, 30_000);
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 300_000 }, 310_000);
    const why = op.state === 'succeeded' ? '' : await diagnose();
    expect(op.state, `${op.error}\n${op.steps.map((s) => `${s.name}=${s.state} ${s.error}`).join('\n')}\n${why}\n${cluster.logs()}`).toBe('succeeded');
    const login = { user: res.credentials!.user, password: res.credentials!.password };

    // Every member Synced in a Primary component of three; one writer, the store's primary.
    const view = await waitUntil('three members Synced', async () => {
      const c = await cluster.portal.getCluster({ name: 'gal1' });
      return c.members.every((m) => m.groupState === 'Synced' && m.groupRole === 'Primary' && m.groupSize === 3 && m.groupReady && m.health === 'ok') ? c : undefined;
    }, 60_000);
    expect(view.replication).toBe('group');
    expect(view.flavor).toBe('mariadb');
    expect(view.members.filter((m) => m.role === 'primary')).toHaveLength(1);
    expect(view.members.every((m) => m.groupVersion.length > 0)).toBe(true);
    // Only the writer takes writes; the others are read-only (their appliers still apply).
    for (const m of view.members) {
      const ro = await readOnlyOf({ host: m.instance!.host, port: m.instance!.port, ...login });
      expect(ro, `${m.instance!.name} (${m.role})`).toBe(m.role === 'primary' ? 0 : 1);
    }
    // The first member made a new cluster at its first start only: its my.cnf now joins the peers.
    const cnfs = myCnfs(cluster.dir);
    for (const m of view.members) {
      const cnf = cnfs.get(m.instance!.id)!;
      expect(cnf).toMatch(/^wsrep-cluster-address = gcomm:\/\/127\.0\.0\.10\d:\d+,127\.0\.0\.10\d:\d+,127\.0\.0\.10\d:\d+$/m);
      expect(cnf).toMatch(/^wsrep-sst-method = mariabackup$/m);
    }

    const endpoints = (): Promise<ClusterEndpoints__Output> => cluster.portal.getClusterEndpoints({ name: 'gal1' });
    const writerAddress = async (): Promise<Address> => {
      const ep = await endpoints();
      return { host: ep.primary!.host, port: ep.primary!.port, ...login };
    };
    const old = (await endpoints()).primary!;
    const writer = startAckedWriter('t1', writerAddress, { pauseMs: 2 });
    await writer.started;
    await waitUntil('writes acknowledged by the first writer', async () => writer.acked.length >= 200, 30_000);

    const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.instance=${old.instanceId}`, 'berth.role=mysqld'] }) });
    await docker.getContainer(c!.Id).kill();
    const killedAt = Date.now();

    const now = await waitUntil('berth to choose another writer', async () => {
      const ep = await endpoints();
      return ep.primary && ep.primary.instanceId !== old.instanceId ? ep.primary : undefined;
    }, 120_000, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose()}`);
    });
    const chosenMs = Date.now() - killedAt;
    await waitUntil('writes acknowledged by the new writer', async () => writer.acked.filter((a) => a.port === now.port && a.at > killedAt).length >= 50, 60_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${writer.errors.slice(-5).map((e) => e.message).join('\n')}\n${await diagnose()}`);
    });
    const firstNewAck = writer.acked.find((a) => a.port === now.port)!.at;
    await writer.stop();

    // Every acknowledged row is on the new writer.
    const addr = { host: now.host, port: now.port, ...login };
    expect(await missingRows(addr, 't1', writer.acked.map((a) => a.id))).toEqual([]);
    // Only berth's writer of the moment acknowledged: the old one before the kill, the new one
    // after berth opened it, never a read-only member.
    expect([...new Set(writer.acked.map((a) => a.port))].sort()).toEqual([old.port, now.port].sort());
    expect(writer.acked.filter((a) => a.port === old.port && a.at > killedAt)).toEqual([]);
    expect(writer.acked.filter((a) => / ro=1 /.test(a.server))).toEqual([]);
    // The third member stays read-only.
    const third = view.members.find((m) => m.instance!.id !== old.instanceId && m.instance!.id !== now.instanceId)!;
    expect(await readOnlyOf({ host: third.instance!.host, port: third.instance!.port, ...login })).toBe(1);

    const after = await waitUntil('berth to show a component of two', async () => {
      const v = await cluster.portal.getCluster({ name: 'gal1' });
      const m = v.members.find((x) => x.instance!.id === now.instanceId)!;
      const gone = v.members.find((x) => x.instance!.id === old.instanceId)!;
      return m.role === 'primary' && m.groupState === 'Synced' && m.groupSize === 2 && gone.health === 'down' ? v : undefined;
    }, 30_000);
    // The manager's own replication failover stayed off: it recorded none and fenced nothing.
    expect((await cluster.portal.listClusterHistory({ cluster: 'gal1' })).entries).toEqual([]);
    expect(after.members.some((m) => m.fenced)).toBe(false);
    console.log(`galera: kill -> berth's new writer named in ${chosenMs} ms, first write acknowledged by it ${firstNewAck - killedAt} ms after the kill; ${writer.acked.length} acknowledged rows, ${writer.errors.length} errors`);

    const del = await cluster.portal.deleteCluster({ name: 'gal1' });
    const gone = await cluster.portal.waitOperation({ id: del.id, timeoutMs: 120_000 }, 130_000);
    expect(gone.state, gone.error).toBe('succeeded');
  }, 600_000);
});

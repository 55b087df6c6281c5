import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableEndpoint__Output } from '../src/gen/berth/v1/StableEndpoint';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { docker, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs, waitOp, type FlavorCase } from './harness/flavors';
import { serverIdAt } from './harness/writer';

const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 1 * G };
const HOSTS = ['127.0.0.51', '127.0.0.52', '127.0.0.53'];
const PORTS = ['3651-3666', '3667-3682', '3683-3699'];
const ENDPOINT_PORTS = '4651-4699';

describe.each(FLAVORS)('stable endpoints ($flavor)', (f: FlavorCase) => {
  let cluster: TestCluster;
  let creds: { user: string; password: string };
  // Every router node is a router (none is labelled): a small fleet.
  beforeAll(async () => {
    cluster = new TestCluster([...flavorArgs(f), '--endpoint-ports', ENDPOINT_PORTS, '--failover-probe-fail', '1']);
    await cluster.start(HOSTS.map((host, i) => ({ name: `e${i + 1}`, host, ports: PORTS[i]!, cpus: '8', memory: '8G' })));
    const res = await cluster.portal.createCluster({ name: 'ep', resources: shape, replicas: 2, replication: 'semi-sync', flavor: f.flavor }, 30_000);
    await waitOp(cluster, res.operation!.id);
    creds = { user: res.credentials!.user, password: res.credentials!.password };
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  const stable = async (kind: string): Promise<StableEndpoint__Output> =>
    waitUntil(`the ${kind} endpoint of ep`, async () => (await cluster.portal.getClusterEndpoints({ name: 'ep' })).stable.find((e) => e.kind === kind), 30_000);
  const primaryId = async () => (await cluster.portal.getClusterEndpoints({ name: 'ep' })).primary?.instanceId ?? '';
  const serverIdOf = async (id: string) => (await cluster.portal.getInstance({ instance: id })).serverId;
  // Where the endpoint leads now: the server_id that answers through it.
  const behind = (ep: StableEndpoint__Output): Promise<number> => serverIdAt({ host: ep.host, port: ep.port, ...creds });

  it('allocates rw and ro on router nodes in the endpoint range, shown with the cluster and its members', async () => {
    const rw = await stable('rw');
    const ro = await stable('ro');
    for (const e of [rw, ro]) {
      expect(HOSTS).toContain(e.host);
      expect(e.port).toBeGreaterThanOrEqual(4651);
      expect(e.port).toBeLessThanOrEqual(4699);
    }
    const p = await primaryId();
    // Each on two routers (three nodes, none labelled: every node routes), the first listed first.
    expect((await cluster.portal.getInstance({ instance: p })).endpoints.map((e) => e.kind).sort()).toEqual(['ro', 'ro', 'rw', 'rw']);
    expect((await cluster.portal.getCredentials({ instance: p })).endpoints.find((e) => e.kind === 'rw')).toMatchObject({ host: rw.host, port: rw.port });
    // rw reaches the primary; ro a replica (both are healthy and caught up).
    await waitUntil('rw to lead to the primary', async () => (await behind(rw)) === (await serverIdOf(p)), 30_000);
    const replicaIds = await Promise.all((await cluster.portal.getClusterEndpoints({ name: 'ep' })).replicas.map((r) => serverIdOf(r.instanceId)));
    await waitUntil('ro to lead to a replica', async () => replicaIds.includes(await behind(ro)), 30_000);
    // The admin HTTP server lists them with HAProxy's own counters (as of the last push).
    const listed = await waitUntil('endpoint stats', async () => {
      const { items } = (await (await fetch(`${cluster.adminUrl}/v1/endpoints`)).json()) as { items: { name: string; port: number; stats: { totalSessions: number; serversReady: number } | null }[] };
      const mine = items.find((i) => i.name === rw.name);
      return mine?.stats && mine.stats.totalSessions > 0 ? mine : undefined;
    }, 30_000);
    expect(listed.stats!.serversReady).toBe(1);
  }, 120_000);

  it('ro never leads to a replica whose applier stopped (lag unknown, then growing) once the manager heard of it, and falls back to the primary when no replica qualifies', async () => {
    const ro = await stable('ro');
    const ep = await cluster.portal.getClusterEndpoints({ name: 'ep' });
    const [r1, r2] = ep.replicas;
    const [sid1, sid2, sidP] = await Promise.all([serverIdOf(r1!.instanceId), serverIdOf(r2!.instanceId), serverIdOf(ep.primary!.instanceId)]);
    const applier = async (r: { host: string; port: number }, run: boolean) => {
      const c = await mysql.createConnection({ host: r.host, port: r.port, ...creds, connectTimeout: 2000 });
      try {
        await c.query(`${run ? 'START' : 'STOP'} ${f.flavor === 'mysql' ? 'REPLICA' : 'SLAVE'} SQL_THREAD`);
      } finally {
        c.destroy();
      }
    };
    const sample = async (n: number) => {
      const seen: number[] = [];
      for (let k = 0; k < n; k++) seen.push(await behind(ro));
      return seen;
    };
    await applier(r1!, false);
    try {
      // Within a heartbeat and a routing interval: then every read goes to the other replica.
      await waitUntil('ro to leave the replica whose applier stopped', async () => !(await sample(6)).includes(sid1), 30_000);
      expect(new Set(await sample(20))).toEqual(new Set([sid2]));
      await applier(r2!, false);
      await waitUntil('ro to fall back to the primary', async () => (await sample(6)).every((s) => s === sidP), 30_000);
    } finally {
      await applier(r1!, true);
      await applier(r2!, true);
    }
    await waitUntil('ro to lead to both replicas again', async () => { const s = new Set(await sample(8)); return s.has(sid1) && s.has(sid2); }, 30_000);
  }, 120_000);

  it('a writer on the rw endpoint that never re-resolves keeps every acknowledged row through a switchover and a docker kill failover, and only the primary of the moment acknowledged', async () => {
    const rw = await stable('rw');
    const addr = { host: rw.host, port: rw.port, ...creds };
    const writer = startAckedWriter('t_ep', async () => addr, { pauseMs: 2 });
    await writer.started;
    const p0 = await primaryId();
    await waitUntil('writes through the endpoint', async () => writer.acked.length > 50, 30_000);

    // 1. Switchover: the endpoint follows without the client learning anything.
    const sw = await cluster.portal.switchover({ cluster: 'ep', to: '' });
    const swStarted = Date.now();
    await waitOp(cluster, sw.id);
    const swDone = Date.now();
    const p1 = await primaryId();
    expect(p1).not.toBe(p0);
    const s1 = await serverIdOf(p1);
    await waitUntil('writes acknowledged by the new primary through the same endpoint', async () => writer.acked.some((a) => a.server.includes(`id=${s1} `)), 30_000);

    // 2. docker kill of the new primary's container: a failover, the endpoint follows.
    const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.instance=${p1}`, 'berth.role=mysqld'] }) });
    const killAt = Date.now();
    await docker.getContainer(c!.Id).kill();
    const p2 = await waitUntil('a replica promoted', async () => { const p = await primaryId(); return p && p !== p1 ? p : undefined; }, 90_000, 100).catch((err: Error) => {
      throw new Error(cluster.keepLogs(`berth-endpoints-${f.flavor}`, err.message));
    });
    const s2 = await serverIdOf(p2);
    await waitUntil('writes acknowledged by the promoted replica through the same endpoint', async () => writer.acked.some((a) => a.server.includes(`id=${s2} `) && a.at > killAt), 60_000);
    await writer.stop();

    // Every acknowledged row is on the current primary.
    const direct = (await cluster.portal.getClusterEndpoints({ name: 'ep' })).primary!;
    expect(await missingRows({ host: direct.host, port: direct.port, ...creds }, 't_ep', writer.acked.map((a) => a.id))).toEqual([]);
    // Acknowledgements came in three runs: p0 until the switchover, p1 from its start until the
    // kill, the promoted replica after the kill; never interleaved (p2 may be p0 again: it was a
    // replica by then). No server acknowledged while another was the primary.
    const s0 = await serverIdOf(p0);
    const runs: { server: number; first: number; last: number; n: number }[] = [];
    for (const a of writer.acked) {
      const server = Number(/ id=(\d+) /.exec(a.server)![1]);
      const r = runs.at(-1);
      if (r && r.server === server) (r.last = a.at), r.n++;
      else runs.push({ server, first: a.at, last: a.at, n: 1 });
    }
    const why = JSON.stringify({ runs, swStarted, swDone, killAt, errors: writer.errors.slice(0, 20) });
    expect(runs.map((r) => r.server), why).toEqual([s0, s1, s2]);
    expect(runs[0]!.last, why).toBeLessThanOrEqual(swDone);
    expect(runs[1]!.first, why).toBeGreaterThanOrEqual(swStarted);
    expect(runs[1]!.last, why).toBeLessThanOrEqual(killAt + 1000);
    expect(runs[2]!.first, why).toBeGreaterThan(killAt);
    console.log(`[${f.flavor}] through the rw endpoint: ${writer.acked.length} rows acknowledged, none lost; switchover: last ack of the old primary -> first of the new ${runs[1]!.first - runs[0]!.last} ms (operation ${swDone - swStarted} ms end to end); docker kill -> first ack of the promoted replica ${runs[2]!.first - killAt} ms; ${writer.errors.length} client errors`);
  }, 300_000);
});

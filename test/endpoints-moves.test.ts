import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableEndpoint__Output } from '../src/gen/berth/v1/StableEndpoint';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs, waitOp, type FlavorCase } from './harness/flavors';
import { startForwarder } from './harness/forwarder';
import { healAll, isolate } from './harness/partition';
import { serverIdAt } from './harness/writer';

// A writer on a stable endpoint that never re-resolves, through what test/endpoints does not
// cover: the migration of a standalone instance (its own endpoint keeps its address), the loss
// of the host of an endpoint's first router (the client goes on through the second), and a
// partition of the primary's host (the failover's switch). One manager and three hosts per
// flavor, shared by the cases.
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 1 * G };
const HOSTS = ['127.0.0.111', '127.0.0.112', '127.0.0.113'];
const PORTS = ['5201-5233', '5234-5266', '5267-5299'];
const ENDPOINT_PORTS = '5301-5349';
// Detection thresholds (seconds); the write lease stays below the silence (as test/failover).
const SILENT_S = 5;
const LEASE_S = 3;

interface Ack {
  id: number;
  at: number;
  server: string;
}
interface Run {
  server: number;
  first: number;
  last: number;
  n: number;
}

// Acknowledgements grouped by the server that gave them, in order: a server that appears twice
// acknowledged while another one was the primary in between.
function runsOf(acked: Ack[]): Run[] {
  const runs: Run[] = [];
  for (const a of acked) {
    const server = Number(/ id=(\d+) /.exec(a.server)![1]);
    const r = runs.at(-1);
    if (r && r.server === server) (r.last = a.at), r.n++;
    else runs.push({ server, first: a.at, last: a.at, n: 1 });
  }
  return runs;
}

describe.each(FLAVORS)('stable endpoints through moves ($flavor)', (f: FlavorCase) => {
  let cluster: TestCluster;
  const forwarders: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    healAll();
    cluster = new TestCluster([...flavorArgs(f), '--endpoint-ports', ENDPOINT_PORTS, '--failover-agent-silent', String(SILENT_S), '--write-lease', String(LEASE_S), '--failover-probe-fail', '1']);
    // Each agent dials the manager through a forwarder on its own address, so a partition of that
    // address cuts the agent off from the manager too (loopback connections come from 127.0.0.1).
    const specs = [];
    for (const [i, host] of HOSTS.entries()) {
      const fwd = await startForwarder(host, () => ({ host: '127.0.0.1', port: cluster.registryPort }));
      forwarders.push(fwd);
      specs.push({ name: `m${i + 1}`, host, ports: PORTS[i]!, cpus: '8', memory: '8G', args: ['--manager', `${host}:${fwd.port}`] });
    }
    await cluster.start(specs);
  }, 120_000);

  afterAll(async () => {
    healAll();
    await cluster?.stop();
    for (const fwd of forwarders) await fwd.close();
  });

  const serverIdOf = async (id: string) => (await cluster.portal.getInstance({ instance: id })).serverId;
  // Where an endpoint leads now: the server_id that answers through it.
  const serverBehind = (ep: { host: string; port: number }, creds: { user: string; password: string }): Promise<number> => serverIdAt({ host: ep.host, port: ep.port, ...creds });
  // The logs outlive the run's directory for whoever reads a failure.
  const keepLogs = (what: string): string => cluster.keepLogs(`berth-endpoints-moves-${f.flavor}`, what);

  it('a standalone instance migrated under a writer on its own endpoint: the endpoint keeps its address, leads to the target, every acknowledged row is there, and the source acknowledged nothing after the cut-over', async () => {
    const c = await cluster.portal.createInstance({ name: `solo-${f.flavor}`, resources: shape, node: cluster.nodeName('m1') }, 30_000);
    await waitOp(cluster, c.operation!.id);
    const id = c.instance!.id;
    const ep: StableEndpoint__Output = await waitUntil('the instance endpoint', async () => (await cluster.portal.getInstance({ instance: id })).endpoints.find((e) => e.kind === 'instance'), 30_000);
    const creds = { user: c.credentials!.user, password: c.credentials!.password };
    const s0 = await serverIdOf(id);
    // Listed as soon as its row exists; served once its router has applied it (within an interval).
    await waitUntil('the instance endpoint serving', async () => (await serverBehind(ep, creds)) === s0, 30_000);
    // A steady writer, not a flood: the catch-up waits until the target is within 50
    // transactions of the source, which a tight loop on two shared cores can keep it from.
    const writer = startAckedWriter('t_mig', async () => ({ host: ep.host, port: ep.port, ...creds }), { pauseMs: 10 });
    await writer.started;
    await waitUntil('writes through the endpoint', async () => writer.acked.length > 50, 30_000);
    const before = await cluster.portal.getInstance({ instance: id });

    const op = await cluster.portal.resizeInstance({ instance: id, resources: { cpuMillis: 600 }, mode: 'migrate' });
    expect(op.type).toBe('migrate');
    const started = Date.now();
    const done = await cluster.portal.waitOperation({ id: op.id, timeoutMs: 150_000 }, 160_000);
    expect(done.state, `${done.steps.map((st) => `${st.name}=${st.state} ${st.error}`).join(', ')}; ${done.error}`).toBe('succeeded');
    const finished = Date.now();
    const after = await cluster.portal.getInstance({ instance: id });
    expect(after.node).not.toBe(before.node);
    const s1 = after.serverId;
    expect(s1).not.toBe(s0);
    // The same address, now leading to the target.
    expect(after.endpoints.find((e) => e.kind === 'instance')).toMatchObject({ host: ep.host, port: ep.port });
    await waitUntil('writes acknowledged by the target through the same endpoint', async () => writer.acked.some((a) => a.server.includes(`id=${s1} `)), 30_000).catch((err: Error) => {
      throw new Error(keepLogs(`${err.message}; errors ${JSON.stringify(writer.errors.slice(-5))}`));
    });
    await writer.stop();

    // Its second router, on another host, leads there too.
    const second = after.endpoints.filter((e) => e.kind === 'instance');
    expect(second.map((e) => e.host)).toHaveLength(2);
    expect(second[1]!.host).not.toBe(second[0]!.host);
    expect(await serverBehind(second[1]!, creds)).toBe(s1);
    const direct = await cluster.portal.getCredentials({ instance: id });
    expect(await missingRows({ host: direct.host, port: direct.port, ...creds }, 't_mig', writer.acked.map((a) => a.id))).toEqual([]);
    // The source until the cut-over began, the target from then on, never interleaved.
    // The source turned read-only at startedAt; the target became writable blockedMs later.
    const cut = JSON.parse(done.outputs['cut-over']!) as { startedAt: number };
    const promoted = JSON.parse(done.outputs['promote']!) as { blockedMs: number };
    const runs = runsOf(writer.acked);
    const why = JSON.stringify({ runs, cut, promoted, started, finished, errors: writer.errors.slice(0, 20) });
    expect(runs.map((r) => r.server), why).toEqual([s0, s1]);
    expect(runs[0]!.last, why).toBeLessThanOrEqual(cut.startedAt + promoted.blockedMs);
    expect(runs[1]!.first, why).toBeGreaterThanOrEqual(cut.startedAt);
    console.log(`[${f.flavor}] migration through the instance endpoint: ${writer.acked.length} rows acknowledged, none lost; last ack of the source -> first of the target ${runs[1]!.first - runs[0]!.last} ms (operation ${finished - started} ms); ${writer.errors.length} client errors`);
  }, 240_000);

  // The replicated cluster of the router-loss and partition cases, made once (by the first).
  let made: Promise<{ name: string; creds: { user: string; password: string } }> | undefined;
  const replicated = () =>
    (made ??= (async () => {
      const res = await cluster.portal.createCluster({ name: `pt-${f.flavor}`, resources: shape, replicas: 2, replication: 'semi-sync', flavor: f.flavor }, 30_000);
      await waitOp(cluster, res.operation!.id);
      return { name: res.cluster!.name, creds: { user: res.credentials!.user, password: res.credentials!.password } };
    })());
  const eps = async (name: string) => cluster.portal.getClusterEndpoints({ name });
  // Both routers of the rw endpoint, on distinct hosts (a three-node fleet: every node routes).
  const rwRouters = async (name: string) => {
    const rws = await waitUntil('both routers of the rw endpoint', async () => { const r = (await eps(name)).stable.filter((e) => e.kind === 'rw'); return r.length === 2 ? r : undefined; }, 30_000);
    expect(rws[0]!.host).not.toBe(rws[1]!.host);
    return rws;
  };
  // A primary on `host` is switched over elsewhere first.
  const primaryAwayFrom = async (name: string, host: string) => {
    if ((await eps(name)).primary!.host === host) await waitOp(cluster, (await cluster.portal.switchover({ cluster: name, to: '' })).id);
    const p = (await eps(name)).primary!;
    expect(p.host).not.toBe(host);
    return p;
  };

  it('the host of the rw endpoint\'s first router cut off: a client holding both addresses goes on through the second within a bound, on the same primary, and loses nothing', async () => {
    const { name, creds } = await replicated();
    const [first, second] = await rwRouters(name);
    const p = await primaryAwayFrom(name, first!.host);
    const s0 = await serverIdOf(p.instanceId);
    // The client's list: the first router, and on any error the other one (round robin).
    const list = [first!, second!];
    let k = 0;
    const writer = startAckedWriter('t_router', async () => { const e = list[k++ % 2]!; return { host: e.host, port: e.port, ...creds }; }, { pauseMs: 2, queryTimeoutMs: 1000 });
    await writer.started;
    await waitUntil('writes through the first router', async () => writer.acked.filter((a) => a.port === first!.port).length > 50, 30_000);
    const cut = isolate(first!.host);
    const cutAt = Date.now();
    try {
      await waitUntil('writes through the second router', async () => writer.acked.some((a) => a.port === second!.port && a.at > cutAt), 15_000).catch((err: Error) => {
        throw new Error(keepLogs(`${err.message}; errors ${JSON.stringify(writer.errors.slice(-5))}`));
      });
    } finally {
      cut.heal();
    }
    await writer.stop();
    const via2 = writer.acked.find((a) => a.port === second!.port && a.at > cutAt)!;
    const now = (await eps(name)).primary!;
    expect(now.instanceId).toBe(p.instanceId);
    expect(await missingRows({ host: now.host, port: now.port, ...creds }, 't_router', writer.acked.map((a) => a.id))).toEqual([]);
    expect(runsOf(writer.acked).map((r) => r.server)).toEqual([s0]);
    // The query timeout (1 s) and a connect through the second router.
    expect(via2.at - cutAt).toBeLessThan(5000);
    console.log(`[${f.flavor}] first rw router cut off: first ack through the second ${via2.at - cutAt} ms after the cut; ${writer.acked.length} rows acknowledged, none lost`);
  }, 240_000);

  it('a partition of the primary\'s host: the rw endpoint (on another router) closes, then leads to the promoted replica; every acknowledged row is there and the isolated primary acknowledged nothing after the cut', async () => {
    const { name, creds } = await replicated();
    const [rw] = await rwRouters(name);
    // The case is a router that stays reachable while the primary's host is cut off: a primary on
    // the rw router's host is moved away first (a partition of the router itself only closes it).
    const old = await primaryAwayFrom(name, rw!.host);
    const s0 = await serverIdOf(old.instanceId);

    const writer = startAckedWriter('t_part', async () => ({ host: rw!.host, port: rw!.port, ...creds }), { pauseMs: 2 });
    await writer.started;
    await waitUntil('writes through the endpoint', async () => writer.acked.length > 50, 30_000);
    const cut = isolate(old.host);
    const cutAt = Date.now();
    let promotedSeenAt = 0;
    let s1 = 0;
    try {
      const p1 = await waitUntil('a replica promoted', async () => { const p = (await eps(name)).primary; return p && p.instanceId !== old.instanceId ? p : undefined; }, 90_000, 100).catch((err: Error) => {
        throw new Error(keepLogs(err.message));
      });
      promotedSeenAt = Date.now();
      s1 = await serverIdOf(p1.instanceId);
      // While the old primary's host is still cut off: the endpoint already leads to the new one.
      await waitUntil('writes acknowledged by the promoted replica through the same endpoint', async () => writer.acked.some((a) => a.server.includes(`id=${s1} `)), 30_000).catch((err: Error) => {
        throw new Error(keepLogs(`${err.message}; errors ${JSON.stringify(writer.errors.slice(-5))}`));
      });
    } finally {
      cut.heal();
    }
    await writer.stop();

    const now = (await eps(name)).primary!;
    expect(await missingRows({ host: now.host, port: now.port, ...creds }, 't_part', writer.acked.map((a) => a.id))).toEqual([]);
    const runs = runsOf(writer.acked);
    const why = JSON.stringify({ runs, cutAt, promotedSeenAt, errors: writer.errors.slice(0, 20) });
    expect(runs.map((r) => r.server), why).toEqual([s0, s1]);
    // No packet leaves the isolated host: what it acknowledged was on the wire at the cut.
    expect(runs[0]!.last, why).toBeLessThanOrEqual(cutAt + 1000);
    expect(runs[1]!.first, why).toBeGreaterThan(cutAt);
    expect(runs[1]!.first - cutAt, why).toBeLessThan(30_000);
    console.log(`[${f.flavor}] partition through the rw endpoint: ${writer.acked.length} rows acknowledged, none lost; cut -> new primary seen ${promotedSeenAt - cutAt} ms, cut -> first ack of the promoted replica ${runs[1]!.first - cutAt} ms; ${writer.errors.length} client errors`);
  }, 300_000);
});

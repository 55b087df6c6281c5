// Benchmark: stable endpoints (issue 21). One 1+2 semi-sync cluster with its rw endpoint on an
// HAProxy router node, a real manager and three agents on their own 127.0.0.x, in one run:
//  - point-select latency (p50/p99, one client in a loop) and throughput (several clients)
//    through the rw endpoint and straight at the primary behind it, alternated; the ratios;
//  - the write outage a client on the rw endpoint sees (it never re-resolves: on an error it
//    reconnects to the same address every 10 ms): during a switchover (the longest gap between
//    two acknowledged commits) and a `docker kill` of the primary's container (the last
//    acknowledgement before the kill to the first after it), each the median of --runs;
//  - acknowledged rows the primary lacks afterwards (must be 0).
//
//   npm run bench:endpoint [-- --runs 5 --flavor mariadb|mysql --rounds 3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import mysql from 'mysql2/promise';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { portalProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { compare, seed, type Target } from './endpoint-load';
import { endpointWriter, missing } from './endpoint-writer';
import { argOf, atExit, benchFleet, freePort, managerArgs, median, runBench, until, writeResult } from './proc';
import { endProxiesUnder } from '../test/harness/proxies';

const RUNS = Number(argOf('runs', '5'));
const ROUNDS = Number(argOf('rounds', '3'));
const FLAVOR = argOf('flavor', 'mariadb') as 'mariadb' | 'mysql';
const IMAGES = { mariadb: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', mysql: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7' };
const HOSTS = ['127.0.0.111', '127.0.0.112', '127.0.0.113'];
const NODES = HOSTS.map((_, i) => `bench-ep-${i + 1}`);
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: G, diskBytes: G };
const LOAD = { queries: 2000, clients: 8, ms: 4000 };

type Portal = AsyncClient<PortalClient>;

async function startFleet(dir: string): Promise<Portal> {
  const fleet = benchFleet(NODES);
  atExit(() => endProxiesUnder(dir));
  fs.mkdirSync(path.join(dir, 'manager'), { recursive: true });
  const m = await managerArgs(path.join(dir, 'manager'), ['--image', IMAGES[FLAVOR], '--mariadb-image', IMAGES.mariadb, '--mysql-image', IMAGES.mysql, '--endpoint-ports', '5301-5349', '--failover-agent-silent', '5', '--write-lease', '3', '--failover-probe-fail', '1']);
  fleet.start(m.args, path.join(dir, 'manager.log'));
  for (const [i, host] of HOSTS.entries()) {
    const disk = path.join(dir, `d${i}`);
    fs.mkdirSync(disk, { recursive: true });
    const args = ['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', `${host}:${await freePort(host)}`, '--node', NODES[i]!, '--ports', `${5201 + i * 33}-${5233 + i * 33}`, '--disk', disk, '--cpus', '8', '--memory', '8G'];
    fleet.start(args, path.join(dir, `agent${i}.log`));
  }
  const P = portalProto().berth.v1.Portal;
  const portal: Portal = asyncClient(new P(m.portal, grpc.credentials.createInsecure()) as unknown as PortalClient);
  atExit(() => portal.close());
  await until('three ready nodes', async () => (await portal.listNodes({})).nodes.filter((n) => n.state === 'ready').length === 3, 60_000, 200);
  return portal;
}

async function waitOp(portal: Portal, id: string): Promise<void> {
  const op = await portal.waitOperation({ id, timeoutMs: 300_000 }, 310_000);
  if (op.state !== 'succeeded') throw new Error(`operation ${op.type} ${op.id}: ${op.state}: ${op.error}`);
}

async function switchoverRun(portal: Portal, name: string, rw: Target, run: number) {
  const w = endpointWriter(rw, `s${run}`);
  try {
    await until('writes going', async () => w.acks.length > 50);
    const from = w.acks.at(-1)!.server;
    const op = await portal.switchover({ cluster: name, to: '' });
    await waitOp(portal, op.id);
    await until('writes on the new primary', async () => w.acks.filter((a) => a.server !== from).length > 50, 30_000);
  } finally {
    await w.stop();
  }
  const p = (await portal.getClusterEndpoints({ name })).primary!;
  const r = { run, outageMs: w.longestGap(), acknowledged: w.acks.length, lost: await missing({ ...rw, host: p.host, port: p.port }, `s${run}`, w.acks), clientErrors: w.errors };
  console.log(`switchover ${run}: ${JSON.stringify(r)}`);
  return r;
}

async function failoverRun(portal: Portal, name: string, rw: Target, run: number) {
  const old = (await portal.getClusterEndpoints({ name })).primary!;
  const w = endpointWriter(rw, `f${run}`);
  let killed = 0;
  let from = 0;
  try {
    await until('writes going', async () => w.acks.length > 50);
    const [c] = await new Docker().listContainers({ filters: JSON.stringify({ label: [`berth.instance=${old.instanceId}`, 'berth.role=mysqld'] }) });
    from = w.acks.at(-1)!.server;
    await new Docker().getContainer(c!.Id).kill();
    killed = Date.now();
    await until('a write on another server', async () => w.acks.some((a) => a.server !== from), 60_000, 10);
  } finally {
    await w.stop();
  }
  // The outage: the old primary's last acknowledgement (a commit in flight while docker kill ran
  // counts) to the new one's first.
  const before = w.acks.filter((a) => a.server === from).at(-1)!;
  const after = w.acks.find((a) => a.server !== from)!;
  if (before.at > killed + 100) throw new Error(`server ${from} acknowledged ${before.at - killed} ms after its container was killed`);
  const p = (await portal.getClusterEndpoints({ name })).primary!;
  const r = { run, outageMs: after.at - before.at, killedToFirstAckMs: after.at - killed, acknowledged: w.acks.length, lost: await missing({ ...rw, host: p.host, port: p.port }, `f${run}`, w.acks), clientErrors: w.errors };
  console.log(`failover ${run}: ${JSON.stringify(r)}`);
  // Back to 1+2 before the next run: the fenced old primary is rebuilt from a copy.
  // The failover records itself in its last step, after the writer may already be on the new
  // primary: acknowledged once it has.
  await until('the failover acknowledged', async () => (await portal.acknowledgeFailover({ cluster: name }), true), 60_000, 200);
  await until('the old primary rebuilt', async () => {
    const i = await portal.getInstance({ instance: old.instanceId }, 2000);
    return !i.fenced && i.state === 'running' && i.clusterRole === 'replica';
  }, 300_000, 250);
  return r;
}

// A run that fails ends its series with its error (the cluster may not be fit for the next).
async function series<T>(kind: string, errors: string[], one: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let run = 1; run <= RUNS; run++) {
    try {
      out.push(await one(run));
    } catch (err) {
      errors.push(`${kind} run ${run}: ${(err as Error).message}`);
      console.error(errors.at(-1));
      break;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-endpoint-'));
  const portal = await startFleet(dir);
  const name = `bep${FLAVOR}`;
  const res = await portal.createCluster({ name, resources: shape, replicas: 2, replication: 'semi-sync', flavor: FLAVOR }, 30_000);
  await waitOp(portal, res.operation!.id);
  const cred = { user: res.credentials!.user, password: res.credentials!.password };
  const ep = await until('the rw endpoint', async () => (await portal.getClusterEndpoints({ name })).stable.find((e) => e.kind === 'rw'), 30_000, 200);
  const rw: Target = { host: ep.host, port: ep.port, ...cred };
  const p = (await portal.getClusterEndpoints({ name })).primary!;
  const direct: Target = { host: p.host, port: p.port, ...cred };
  await until('the rw endpoint leading to the primary', async () => {
    const c = await mysql.createConnection({ ...rw, connectTimeout: 1000 });
    await c.end();
    return true;
  }, 30_000, 200);
  await seed(rw);
  const load = await compare(rw, direct, { rounds: ROUNDS, ...LOAD });
  console.log(`load: ${JSON.stringify(load)}`);

  const errors: string[] = [];
  const sw = await series('switchover', errors, (run) => switchoverRun(portal, name, rw, run));
  const fo = await series('failover', errors, (run) => failoverRun(portal, name, rw, run));
  const out = {
    when: new Date().toISOString(),
    flavor: FLAVOR,
    setup: `1 primary + 2 semi-sync replicas (${shape.cpuMillis}m CPU / 1G each), three agents on ${HOSTS.join(', ')}, the rw endpoint on one HAProxy 2.6 router; manager --failover-agent-silent 5 --write-lease 3 --failover-probe-fail 1; load: ${LOAD.queries} point selects by one client and ${LOAD.clients} clients for ${LOAD.ms} ms, ${ROUNDS} rounds alternating direct and endpoint; ${os.cpus().length} cores shared with whatever else runs`,
    bounds: 'latency: one extra loopback hop through HAProxy (userspace copy both ways) on the same cores as mysqld and the client; switchover outage: read-only on the old primary, the router closed then pointed at the new one, the writer reconnecting every 10 ms; failover outage: detection (agent probe every 1 s, one failed probe) + stop IO, relay log, promote, the router pointed before the new primary is writable',
    load,
    switchover: { runs: sw, outageMs: { median: median(sw.map((r) => r.outageMs)), max: Math.max(...sw.map((r) => r.outageMs)) }, lost: sw.reduce((s, r) => s + r.lost, 0) },
    failover: { runs: fo, outageMs: { median: median(fo.map((r) => r.outageMs)), max: Math.max(...fo.map((r) => r.outageMs)) }, lost: fo.reduce((s, r) => s + r.lost, 0) },
    errors,
  };
  writeResult('endpoint', out);
  const f = (x: number) => x.toFixed(2);
  console.log(`endpoint ${FLAVOR}: p50 ${f(load.endpoint.p50Ms)}/${f(load.direct.p50Ms)} ms (x${f(load.ratio.p50)}), p99 x${f(load.ratio.p99)}, qps ${Math.round(load.endpoint.qps)}/${Math.round(load.direct.qps)} (x${f(load.ratio.qps)}); write outage median switchover ${out.switchover.outageMs.median} ms (${sw.length} runs), docker kill ${out.failover.outageMs.median} ms (${fo.length} runs); lost ${out.switchover.lost + out.failover.lost}${errors.length ? `; errors: ${errors.join('; ')}` : ''}`);
  // The logs stay for whoever reads a failure; removed after a clean run, once the containers
  // and proxies using the directory are gone (cleanups run in the order they were registered).
  if (errors.length) throw new Error(`${errors.join('; ')} (logs kept in ${dir})`);
  atExit(() => fs.rmSync(dir, { recursive: true, force: true }));
}

runBench(main);

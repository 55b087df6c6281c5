// Benchmark: automatic failover and planned switchover of a 1+2 semi-sync cluster (issue 10),
// for each flavor, with a real manager, three agents on their own 127.0.0.x and real containers.
//  - Failover recovery: `docker kill` of the primary's container → the first write the new
//    primary acknowledges through the address the API returns (GetClusterEndpoints), as a
//    client that commits in a tight loop and re-reads the endpoint on every error sees it.
//  - Detection alone: kill → the moment the manager judged the primary dead (the failover's
//    history `started_at`), so the floor under the recovery time is visible.
//  - Acknowledged writes lost: rows the writer saw acknowledged that the new primary lacks.
//  - Switchover: the longest gap between two acknowledged commits during a Switchover.
//  - Rebuild: the failover's end → the fenced old primary (its host answers) checked for errant
//    transactions, re-seeded from a copy of the new primary and unfenced as a replica
//    (cluster-rebuild, automatic), so every run starts from 1+2 again.
//
//   npm run bench:failover [-- --runs 5 --switchovers 5 --flavor mariadb|mysql]
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { portalProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { argOf, atExit, freePort, managerArgs, runBench, start, writeResult } from './proc';

const arg = argOf;
const RUNS = Number(arg('runs', '5'));
const SWITCHOVERS = Number(arg('switchovers', '5'));
const FLAVORS = arg('flavor', 'mariadb,mysql').split(',') as ('mariadb' | 'mysql')[];
const IMAGES = { mariadb: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', mysql: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7' };
const HOSTS = ['127.0.0.31', '127.0.0.32', '127.0.0.33'];
const M = 1024 ** 2;
// 1G: MySQL 9.7 at 512M was OOM-killed by its memory cgroup under a tight-loop writer.
const shape = { cpuMillis: 500, memoryBytes: 1024 * M, diskBytes: 1024 * M };
const SILENT_S = 5;
const LEASE_S = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : -1);
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(everyMs);
  }
}

interface Ack {
  id: number;
  at: number;
  port: number;
}

// Commits one row at a time; on an error (the first connection too: right after a failover
// the API may still name a primary that is being rebuilt) asks the API where the primary is
// now. Its failure is the caller's, at stop(), never an unhandled rejection.
function writer(table: string, cred: { user: string; password: string }, where: () => Promise<{ host: string; port: number }>) {
  const acks: Ack[] = [];
  let stop = false;
  let ep = { host: '', port: 0 };
  const connect = async (): Promise<mysql.Connection | undefined> => {
    for (;;) {
      if (stop) return undefined;
      try {
        ep = await where();
        const c = await mysql.createConnection({ ...ep, ...cred, connectTimeout: 1000 });
        // A connection that breaks later reports it here as well as to the query in flight.
        c.on('error', () => undefined);
        return c;
      } catch {
        await sleep(20);
      }
    }
  };
  const done = (async () => {
    let conn = await connect();
    if (!conn) return;
    await conn.query('CREATE DATABASE IF NOT EXISTS b');
    await conn.query(`CREATE TABLE IF NOT EXISTS b.${table} (id INT PRIMARY KEY)`);
    for (let n = 1; !stop; n++) {
      try {
        await conn.query(`INSERT INTO b.${table} VALUES (?)`, [n]);
        acks.push({ id: n, at: Date.now(), port: ep.port });
      } catch {
        conn.destroy();
        conn = await connect();
        if (!conn) return;
      }
    }
    conn.destroy();
  })();
  const settled = done.then(
    () => undefined,
    (err: unknown) => err,
  );
  return {
    acks,
    stop: async () => {
      stop = true;
      const err = await settled;
      if (err) throw err;
    },
  };
}

async function missing(ep: { host: string; port: number }, cred: { user: string; password: string }, table: string, ids: number[]): Promise<number> {
  const c = await mysql.createConnection({ ...ep, ...cred });
  try {
    const [rows] = (await c.query(`SELECT id FROM b.${table}`)) as unknown as [{ id: number }[]];
    const have = new Set(rows.map((r) => Number(r.id)));
    return ids.filter((id) => !have.has(id)).length;
  } finally {
    await c.end();
  }
}

async function benchFlavor(flavor: 'mariadb' | 'mysql', dir: string) {
  for (const d of ['manager', 'd0', 'd1', 'd2']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const m = await managerArgs(path.join(dir, 'manager'), ['--image', IMAGES[flavor], '--mariadb-image', IMAGES.mariadb, '--mysql-image', IMAGES.mysql, '--failover-agent-silent', String(SILENT_S), '--write-lease', String(LEASE_S), '--failover-probe-fail', '1']);
  const procs: ChildProcess[] = [start(m.args, path.join(dir, 'manager.log'))];
  // Whatever ends this run (its finally, or a crash): the processes, then their containers.
  const cleanUp = atExit(() => {
    for (const p of procs) p.kill('SIGKILL');
    for (const n of [1, 2, 3]) {
      const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.node=bench-${flavor}-${n}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
    }
  });
  for (const [i, host] of HOSTS.entries()) {
    const listen = `${host}:${await freePort(host)}`;
    const args = ['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', listen, '--node', `bench-${flavor}-${i + 1}`, '--ports', `${4201 + i * 33}-${4233 + i * 33}`, '--disk', path.join(dir, `d${i}`), '--cpus', '8', '--memory', '8G'];
    procs.push(start(args, path.join(dir, `agent${i}.log`)));
  }
  const Portal = portalProto().berth.v1.Portal;
  const portal: AsyncClient<PortalClient> = asyncClient(new Portal(m.portal, grpc.credentials.createInsecure()) as unknown as PortalClient);
  try {
    await until('three ready nodes', async () => (await portal.listNodes({})).nodes.filter((n) => n.state === 'ready').length === 3, 60_000, 200);
    const name = `bench${flavor}`;
    const res = await portal.createCluster({ name, resources: shape, replicas: 2, replication: 'semi-sync', flavor }, 30_000);
    const cred = { user: res.credentials!.user, password: res.credentials!.password };
    await waitOp(portal, res.operation!.id);
    const where = async () => {
      const ep = await portal.getClusterEndpoints({ name }, 2000);
      return { host: ep.primary!.host, port: ep.primary!.port };
    };

    // A run that fails is reported with its error and ends that series (the cluster may be
    // left in a state the next run cannot start from).
    const errors: string[] = [];
    const series = async <T>(kind: string, runs: number, one: (run: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = [];
      for (let run = 1; run <= runs; run++) {
        try {
          out.push(await one(run));
        } catch (err) {
          errors.push(`${kind} run ${run}: ${(err as Error).message}`);
          console.error(errors.at(-1));
          break;
        }
      }
      return out;
    };
    const failovers = await series('failover', RUNS, (run) => failoverRun(portal, name, cred, where, run));
    const switchovers = await series('switchover', SWITCHOVERS, (run) => switchoverRun(portal, name, cred, where, run));
    const rec = failovers.map((r) => r.recoveryMs);
    const det = failovers.map((r) => r.detectionMs);
    const reb = failovers.map((r) => r.rebuildMs);
    const blocked = switchovers.map((r) => r.writerGapMs);
    return {
      flavor,
      errors,
      failover: { runs: failovers, recoveryMs: { median: median(rec), max: Math.max(...rec) }, detectionMs: { median: median(det), max: Math.max(...det) }, rebuildMs: { median: median(reb), max: Math.max(...reb) }, acknowledgedLost: failovers.reduce((s, r) => s + r.lost, 0) },
      switchover: { runs: switchovers, writerGapMs: { median: median(blocked), max: Math.max(...blocked) }, lost: switchovers.reduce((s, r) => s + r.lost, 0) },
    };
  } finally {
    portal.close();
    for (const p of procs) p.kill('SIGTERM');
    await sleep(1000);
    cleanUp();
  }
}

async function waitOp(portal: AsyncClient<PortalClient>, id: string): Promise<void> {
  const op = await portal.waitOperation({ id, timeoutMs: 300_000 }, 310_000);
  if (op.state !== 'succeeded') throw new Error(`operation ${op.type} ${op.id}: ${op.state}: ${op.error}`);
}

async function failoverRun(portal: AsyncClient<PortalClient>, name: string, cred: { user: string; password: string }, where: () => Promise<{ host: string; port: number }>, run: number) {
  const before = await portal.getClusterEndpoints({ name });
  const table = `f${run}`;
  const w = writer(table, cred, where);
  try {
    return await killAndMeasure(portal, name, cred, before, w, table, run);
  } finally {
    await w.stop();
  }
}

async function killAndMeasure(portal: AsyncClient<PortalClient>, name: string, cred: { user: string; password: string }, before: { primary: { instanceId: string } | null }, w: ReturnType<typeof writer>, table: string, run: number) {
  await until('writes going', async () => w.acks.length > 50);
  const [c] = execFileSync('docker', ['ps', '-q', '--filter', `label=berth.instance=${before.primary!.instanceId}`, '--filter', 'label=berth.role=mysqld'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const killAt = Date.now();
  execFileSync('docker', ['kill', c!], { stdio: 'ignore' });
  const after = await until('a new primary', async () => {
    const ep = await portal.getClusterEndpoints({ name }, 2000);
    return ep.primary && ep.primary.instanceId !== before.primary!.instanceId ? ep : undefined;
  });
  const first = await until('a write on the new primary', async () => w.acks.find((a) => a.port === after.primary!.port && a.at > killAt), 60_000, 10);
  await w.stop();
  // Recorded by the failover's last step, after the writer may already be on the new primary.
  // This run's: the same instance may have been failed over from in an earlier run, whose row
  // would give a negative detection time and have the wrong failover acknowledged below.
  const hist = await until('the failover recorded', async () => (await portal.listClusterHistory({ cluster: name })).entries.find((e) => e.kind === 'failover' && e.outcome === 'done' && e.fromInstance === before.primary!.instanceId && Date.parse(e.startedAt) >= killAt), 60_000, 100);
  const lost = await missing({ host: after.primary!.host, port: after.primary!.port }, cred, table, w.acks.map((a) => a.id));
  await portal.acknowledgeFailover({ cluster: name });
  // Back to 1+2: the fenced old primary is rebuilt from a copy of the new primary by the manager.
  const doneAt = Date.parse(hist.finishedAt);
  await until('the old primary rebuilt', async () => {
    const i = await portal.getInstance({ instance: before.primary!.instanceId }, 2000);
    return !i.fenced && i.state === 'running' && i.clusterRole === 'replica';
  }, 300_000, 250);
  const r = { run, recoveryMs: first.at - killAt, detectionMs: Date.parse(hist.startedAt) - killAt, promotedMs: hist.blockedMs, acknowledged: w.acks.length, lost, rebuildMs: Date.now() - doneAt };
  console.log(`failover ${run}: ${JSON.stringify(r)}`);
  return r;
}

async function switchoverRun(portal: AsyncClient<PortalClient>, name: string, cred: { user: string; password: string }, where: () => Promise<{ host: string; port: number }>, run: number) {
  const table = `s${run}`;
  const w = writer(table, cred, where);
  let op;
  try {
    await until('writes going', async () => w.acks.length > 50);
    op = await portal.switchover({ cluster: name, to: '' });
    await waitOp(portal, op.id);
    const n = w.acks.length;
    await until('writes on the new primary', async () => w.acks.length > n + 50);
  } finally {
    await w.stop();
  }
  let gap = 0;
  for (let i = 1; i < w.acks.length; i++) gap = Math.max(gap, w.acks[i]!.at - w.acks[i - 1]!.at);
  const lost = await missing(await where(), cred, table, w.acks.map((a) => a.id));
  const hist = (await portal.listClusterHistory({ cluster: name })).entries.find((e) => e.kind === 'switchover' && e.operationId === op.id);
  const r = { run, writerGapMs: gap, blockedMs: hist?.blockedMs ?? -1, lost };
  console.log(`switchover ${run}: ${JSON.stringify(r)}`);
  return r;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-failover-'));
  const results = [];
  for (const f of FLAVORS) {
    try {
      results.push(await benchFlavor(f, path.join(dir, f)));
    } catch (err) {
      results.push({ flavor: f, errors: [(err as Error).message] } as unknown as Awaited<ReturnType<typeof benchFlavor>>);
    }
  }
  const out = {
    when: new Date().toISOString(),
    setup: `1 primary + 2 semi-sync replicas, three agents on ${HOSTS.join(', ')}, instances ${shape.cpuMillis}m CPU / 1G; manager --failover-agent-silent ${SILENT_S} --write-lease ${LEASE_S} --failover-probe-fail 1; agents probe replication every 1 s`,
    bounds: 'recovery = detection (agent probe every 1 s + heartbeat sent at once) + failover steps (stop IO, wait relay log, promote, re-point) + the writer noticing (its reconnect asks GetClusterEndpoints every 20 ms)',
    results,
  };
  writeResult('failover', out);
  console.log(JSON.stringify(out.results.map((r) => ({ flavor: r.flavor, errors: r.errors, failover: r.failover?.recoveryMs, detection: r.failover?.detectionMs, lost: r.failover?.acknowledgedLost, switchoverGap: r.switchover?.writerGapMs })), null, 2));
  fs.rmSync(dir, { recursive: true, force: true });
}

runBench(main);

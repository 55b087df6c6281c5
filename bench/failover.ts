// Benchmark: automatic failover and planned switchover of a 1+2 semi-sync cluster (issue 10),
// for each flavor, with a real manager, three agents on their own 127.0.0.x and real containers.
//  - Failover recovery, two ways of losing the primary:
//    `kill`: `docker kill` of the primary's container;
//    `partition`: its whole host cut off (iptables rules on `lo` for that address only: the
//    agent, which dials the manager through a forwarder on its own address, and mysqld),
//    → the first write the new primary acknowledges through the address the API returns
//    (GetClusterEndpoints), as a client that commits in a tight loop and re-reads the endpoint
//    on every error sees it.
//  - Detection alone: the disruption → the moment the manager judged the primary dead (the
//    failover's history `started_at`), so the floor under the recovery time is visible.
//  - Acknowledged writes lost: rows the writer saw acknowledged that the new primary lacks.
//  - Switchover: the longest gap between two acknowledged commits during a Switchover.
//  - Rebuild: the failover's end (a partition: its heal) → the fenced old primary checked for
//    errant transactions, re-seeded from a copy of the new primary and unfenced as a replica
//    (cluster-rebuild, automatic), so every run starts from 1+2 again.
// Each run finds ITS failover in the history (after its disruption, not one an earlier run
// handled) and acknowledges exactly that one, so the anti-flap rule never holds the next run.
//
//   npm run bench:failover [-- --runs 5 --switchovers 5 --flavor mariadb|mysql --mode kill,partition]
//   (-- --manager-args "--failover-agent-silent 3 ..." replaces the manager's detection flags)
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { portalProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { startForwarder } from '../test/harness/forwarder';
import { healAll, isolate } from '../test/harness/partition';
import { argOf, atExit, describeError, freePort, managerArgs, median, runBench, sleep, start, until, writeResult } from './proc';

const arg = argOf;
const RUNS = Number(arg('runs', '5'));
const SWITCHOVERS = Number(arg('switchovers', '5'));
const FLAVORS = arg('flavor', 'mariadb,mysql').split(',') as ('mariadb' | 'mysql')[];
const MODES = arg('mode', 'kill,partition').split(',') as Mode[];
type Mode = 'kill' | 'partition';
const IMAGES = { mariadb: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', mysql: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7' };
const HOSTS = ['127.0.0.131', '127.0.0.132', '127.0.0.133'];
const PORTS = ['5501-5533', '5534-5566', '5567-5599'];
const M = 1024 ** 2;
// 1G: MySQL 9.7 at 512M was OOM-killed by its memory cgroup under a tight-loop writer.
const shape = { cpuMillis: 500, memoryBytes: 1024 * M, diskBytes: 1024 * M };
const DETECTION = arg('manager-args', '--failover-agent-silent 5 --write-lease 3 --failover-probe-fail 1').split(/\s+/).filter(Boolean);
// A query the client gets no answer to within this long (its server cut off) is given up and the
// endpoint asked again, as a pool with a timeout would.
const QUERY_TIMEOUT_MS = 1000;

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
        await conn.query({ sql: `INSERT INTO b.${table} VALUES (?)`, timeout: QUERY_TIMEOUT_MS }, [n]);
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

// Containers a run of this benchmark left behind when it was ended by SIGKILL (nothing ran its
// clean-up), and partition rules likewise: a new run starts from a clean machine.
function removeContainers(flavor: string): void {
  for (const n of [1, 2, 3]) {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.node=bench-${flavor}-${n}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
  }
}

interface Ctx {
  portal: AsyncClient<PortalClient>;
  name: string;
  cred: { user: string; password: string };
  where: () => Promise<{ host: string; port: number }>;
  // History rows of failovers an earlier run already measured and acknowledged.
  handled: Set<number>;
}

async function benchFlavor(flavor: 'mariadb' | 'mysql', dir: string) {
  removeContainers(flavor);
  if (MODES.includes('partition')) healAll();
  for (const d of ['manager', 'd0', 'd1', 'd2']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const m = await managerArgs(path.join(dir, 'manager'), ['--image', IMAGES[flavor], '--mariadb-image', IMAGES.mariadb, '--mysql-image', IMAGES.mysql, ...DETECTION]);
  const procs: ChildProcess[] = [start(m.args, path.join(dir, 'manager.log'))];
  // Whatever ends this run (its finally, or a crash): the processes, then their containers.
  const cleanUp = atExit(() => {
    for (const p of procs) p.kill('SIGKILL');
    removeContainers(flavor);
  });
  const forwarders: { close(): Promise<void> }[] = [];
  const Portal = portalProto().berth.v1.Portal;
  const portal: AsyncClient<PortalClient> = asyncClient(new Portal(m.portal, grpc.credentials.createInsecure()) as unknown as PortalClient);
  try {
    for (const [i, host] of HOSTS.entries()) {
      // The agent dials the manager through a forwarder on its own address, so cutting that
      // address off cuts the agent off too (loopback connections otherwise leave from 127.0.0.1).
      const fwd = await startForwarder(host, () => ({ host: '127.0.0.1', port: Number(m.registry.split(':')[1]) }));
      forwarders.push(fwd);
      const listen = `${host}:${await freePort(host)}`;
      const args = ['dist/agent/main.js', '--insecure', '--manager', `${host}:${fwd.port}`, '--listen', listen, '--node', `bench-${flavor}-${i + 1}`, '--ports', PORTS[i]!, '--disk', path.join(dir, `d${i}`), '--cpus', '8', '--memory', '8G'];
      procs.push(start(args, path.join(dir, `agent${i}.log`)));
    }
    await until('three ready nodes', async () => (await portal.listNodes({})).nodes.filter((n) => n.state === 'ready').length === 3, 60_000, 200);
    const name = `bench${flavor}`;
    const res = await portal.createCluster({ name, resources: shape, replicas: 2, replication: 'semi-sync', flavor }, 30_000);
    const cred = { user: res.credentials!.user, password: res.credentials!.password };
    await waitOp(portal, res.operation!.id);
    const where = async () => {
      const ep = await portal.getClusterEndpoints({ name }, 2000);
      return { host: ep.primary!.host, port: ep.primary!.port };
    };
    const ctx: Ctx = { portal, name, cred, where, handled: new Set() };

    // A run that fails is reported with its error and ends that series (the cluster may be
    // left in a state the next run cannot start from).
    const errors: string[] = [];
    const series = async <T>(kind: string, runs: number, one: (run: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = [];
      for (let run = 1; run <= runs; run++) {
        try {
          out.push(await one(run));
        } catch (err) {
          errors.push(`${kind} run ${run}: ${describeError(err)}`);
          console.error(`[${flavor}] ${errors.at(-1)}`);
          break;
        }
      }
      return out;
    };
    const byMode: Partial<Record<Mode, ReturnType<typeof summary>>> = {};
    for (const mode of MODES) byMode[mode] = summary(await series(mode, RUNS, (run) => failoverRun(ctx, mode, run)));
    const switchovers = await series('switchover', SWITCHOVERS, (run) => switchoverRun(portal, name, cred, where, run));
    const blocked = switchovers.map((r) => r.writerGapMs);
    return {
      flavor,
      errors,
      failover: byMode.kill,
      partition: byMode.partition,
      switchover: { runs: switchovers, writerGapMs: { median: median(blocked), max: Math.max(...blocked) }, lost: switchovers.reduce((s, r) => s + r.lost, 0) },
    };
  } finally {
    portal.close();
    for (const p of procs) p.kill('SIGTERM');
    await sleep(1000);
    cleanUp();
    for (const f of forwarders) await f.close();
  }
}

type FailoverResult = Awaited<ReturnType<typeof failoverRun>>;
function summary(runs: FailoverResult[]) {
  const rec = runs.map((r) => r.recoveryMs);
  const det = runs.map((r) => r.detectionMs);
  const reb = runs.map((r) => r.rebuildMs);
  const stat = (xs: number[]) => ({ median: median(xs), max: Math.max(...xs) });
  return { runs, recoveryMs: stat(rec), detectionMs: stat(det), rebuildMs: stat(reb), acknowledgedLost: runs.reduce((s, r) => s + r.lost, 0) };
}

async function waitOp(portal: AsyncClient<PortalClient>, id: string): Promise<void> {
  const op = await portal.waitOperation({ id, timeoutMs: 300_000 }, 310_000);
  if (op.state !== 'succeeded') throw new Error(`operation ${op.type} ${op.id}: ${op.state}: ${op.error}`);
}

async function failoverRun(ctx: Ctx, mode: Mode, run: number) {
  const before = await ctx.portal.getClusterEndpoints({ name: ctx.name });
  const old = before.primary!;
  const table = `${mode === 'kill' ? 'f' : 'p'}${run}`;
  const w = writer(table, ctx.cred, ctx.where);
  try {
    await until('writes going', async () => w.acks.length > 50);
    const at = Date.now();
    const restore = disrupt(mode, old);
    let measured;
    try {
      measured = await measureFailover(ctx, old.instanceId, w, at);
    } finally {
      restore();
    }
    const healedAt = Date.now();
    const lost = await missing(measured.primary, ctx.cred, table, w.acks.map((a) => a.id));
    // Exactly this run's failover: an unacknowledged one would hold the next run's back.
    const ack = await ctx.portal.acknowledgeFailover({ cluster: ctx.name });
    if (ack.historyId !== measured.hist.id) throw new Error(`acknowledged history row ${ack.historyId} (${ack.message}), not this run's ${measured.hist.id}`);
    ctx.handled.add(measured.hist.id);
    // Back to 1+2: the fenced old primary is rebuilt from a copy of the new primary by the manager
    // (after a partition, once its host answers again).
    const from = mode === 'kill' ? Date.parse(measured.hist.finishedAt) : healedAt;
    await until('the old primary rebuilt', async () => {
      const i = await ctx.portal.getInstance({ instance: old.instanceId }, 2000);
      return !i.fenced && i.state === 'running' && i.clusterRole === 'replica';
    }, 300_000, 250);
    const r = { run, recoveryMs: measured.firstWriteAt - at, detectionMs: Date.parse(measured.hist.startedAt) - at, promotedMs: measured.hist.blockedMs, acknowledged: w.acks.length, lost, rebuildMs: Date.now() - from };
    console.log(`${mode} ${run}: ${JSON.stringify(r)}`);
    return r;
  } finally {
    await w.stop();
  }
}

// Loses the primary; returns what undoes the loss (nothing for a kill: the rebuild replaces it).
function disrupt(mode: Mode, primary: { instanceId: string; host: string }): () => void {
  if (mode === 'kill') {
    const [c] = execFileSync('docker', ['ps', '-q', '--filter', `label=berth.instance=${primary.instanceId}`, '--filter', 'label=berth.role=mysqld'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (!c) throw new Error(`no running container for the primary ${primary.instanceId}`);
    execFileSync('docker', ['kill', c], { stdio: 'ignore' });
    return () => undefined;
  }
  const cut = isolate(primary.host);
  // Healed however the benchmark ends.
  return atExit(() => cut.heal());
}

async function measureFailover(ctx: Ctx, oldId: string, w: ReturnType<typeof writer>, at: number) {
  const after = await until('a new primary', async () => {
    const ep = await ctx.portal.getClusterEndpoints({ name: ctx.name }, 2000);
    return ep.primary && ep.primary.instanceId !== oldId ? ep.primary : undefined;
  });
  const first = await until('a write on the new primary', async () => w.acks.find((a) => a.port === after.port && a.at > at), 60_000, 10);
  await w.stop();
  // Recorded by the failover's last step, after the writer may already be on the new primary.
  // This run's only: the same instance may have been failed over from in an earlier run, whose
  // row would give a negative detection time and have the wrong failover acknowledged.
  const hist = await until('the failover recorded', async () =>
    (await ctx.portal.listClusterHistory({ cluster: ctx.name })).entries.find((e) => e.kind === 'failover' && e.outcome === 'done' && e.fromInstance === oldId && !ctx.handled.has(e.id) && Date.parse(e.startedAt) >= at),
  60_000, 100);
  return { primary: { host: after.host, port: after.port }, firstWriteAt: first.at, hist };
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
      console.error(`[${f}] ${describeError(err)}\n(logs kept in ${path.join(dir, f)})`);
      results.push({ flavor: f, errors: [describeError(err)] } as unknown as Awaited<ReturnType<typeof benchFlavor>>);
    }
  }
  const out = {
    when: new Date().toISOString(),
    setup: `1 primary + 2 semi-sync replicas, three agents on ${HOSTS.join(', ')}, instances ${shape.cpuMillis}m CPU / 1G; manager ${DETECTION.join(' ')}; agents probe replication every 1 s; modes ${MODES.join(', ')}`,
    bounds: 'recovery = detection + failover steps (stop IO, wait relay log, promote, re-point) + the writer noticing (its reconnect asks GetClusterEndpoints every 20 ms; a query unanswered for 1 s is given up). kill: detection = the agent probe (every 1 s) + a heartbeat sent at once. partition: detection = the agent silent (--failover-agent-silent), the manager probe failing (--failover-probe-fail) and every replica reporting its IO thread lost (net timeout, then its agent probe and heartbeat)',
    results,
  };
  writeResult('failover', out);
  const line = (s?: { recoveryMs: unknown; detectionMs: unknown; acknowledgedLost: number }) => s && { recovery: s.recoveryMs, detection: s.detectionMs, lost: s.acknowledgedLost };
  console.log(JSON.stringify(out.results.map((r) => ({ flavor: r.flavor, errors: r.errors.length, kill: line(r.failover), partition: line(r.partition), switchoverGap: r.switchover?.writerGapMs })), null, 2));
  const failed = out.results.filter((r) => r.errors.length > 0);
  if (failed.length) throw new Error(`${failed.map((r) => `${r.flavor}: ${r.errors.length} error(s)`).join('; ')} (see above and bench-results/failover.json)`);
  fs.rmSync(dir, { recursive: true, force: true });
}

runBench(main);

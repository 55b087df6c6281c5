// Benchmark: how fast a cluster replica's applier runs against the primary's commit rate, per
// flavor, under the replica settings of the Dialect and a few alternatives (issue 10: a MySQL
// switchover aborted because its candidate applied ~646 trx/s against ~810 commits/s).
//
// A 1+2 semi-sync cluster of bench:failover's shape (0.5 CPU, 1G each); a client commits one
// row at a time in a tight loop on the primary (as bench:failover's writer). For each variant,
// on one replica: replication stopped, the variant's settings set, the IO thread started again
// at once (the manager restarts a replica with both threads stopped), the applier held for a
// few seconds so a backlog builds, then started; the applier rate is the growth of its executed
// set while the backlog lasts, the commit rate the primary's in the same window.
//
//   npm run bench:applier [-- --flavor mariadb|mysql --hold 6 --window 8]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type mysql from 'mysql2/promise';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { connectSocket, connectTcp } from '../src/mysql/connect';
import { dialectFor, type Flavor } from '../src/mysql/dialect';
import { count, parseGtidSet } from '../src/mysql/gtid';
import { portalProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { argOf, benchFleet, freePort, managerArgs, runBench, writeResult } from './proc';

const arg = argOf;
const FLAVORS = arg('flavor', 'mysql,mariadb').split(',') as Flavor[];
const HOLD_S = Number(arg('hold', '6'));
const WINDOW_S = Number(arg('window', '8'));
const IMAGES = { mariadb: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', mysql: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7' };
const HOSTS = ['127.0.0.31', '127.0.0.32', '127.0.0.33'];
const M = 1024 ** 2;
const shape = { cpuMillis: 500, memoryBytes: 1024 * M, diskBytes: 1024 * M };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Settings tried on the replica (SET GLOBAL while its applier is stopped); `cpus` lifts the
// container's CPU quota instead, to see whether CPU bounds the applier.
interface Variant {
  name: string;
  set?: Record<string, string | number>;
  cpus?: number;
}
const BOUNDS = (workers: Record<string, string | number>): Variant[] => [
  { name: 'bound only: no fsync per transaction on the replica', set: { ...workers, sync_binlog: 0, innodb_flush_log_at_trx_commit: 2 } },
  { name: 'bound only: CPU quota 2 cores', set: { sync_binlog: 1, innodb_flush_log_at_trx_commit: 1 }, cpus: 2 },
];
const VARIANTS: Record<Flavor, Variant[]> = {
  mysql: [
    { name: 'as rendered' },
    { name: "4 workers (MySQL's default, rendered before)", set: { replica_parallel_workers: 4 } },
    { name: 'as rendered again', set: dialectFor('mysql').applierSettings() },
    { name: '32 workers', set: { replica_parallel_workers: 32 } },
    ...BOUNDS(dialectFor('mysql').applierSettings()),
  ],
  mariadb: [
    { name: 'as rendered (one applier thread)' },
    { name: '4 threads, optimistic', set: { slave_parallel_threads: 4, slave_parallel_mode: 'optimistic' } },
    { name: '4 threads, conservative', set: { slave_parallel_threads: 4, slave_parallel_mode: 'conservative' } },
    ...BOUNDS({ slave_parallel_threads: 0 }),
  ],
};

async function executed(flavor: Flavor, c: mysql.Connection): Promise<number> {
  const st = dialectFor(flavor).executedGtid();
  const [rows] = (await c.query(st.sql, st.params)) as unknown as [{ gtid: string | null }[]];
  return count(parseGtidSet(flavor, rows[0]?.gtid ?? ''));
}

async function variables(c: mysql.Connection, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const [rows] = (await c.query(`SHOW GLOBAL VARIABLES LIKE ?`, [n])) as unknown as [{ Value: string }[]];
    if (rows[0]) out[n] = rows[0].Value;
  }
  return out;
}

// Over TCP with the DBA's credentials, as bench:failover's writer.
function writer(addr: { host: string; port: number; user: string; password: string }) {
  let stop = false;
  let n = 0;
  const done = (async () => {
    const c = await connectTcp(addr);
    await c.query('CREATE DATABASE IF NOT EXISTS b');
    await c.query('CREATE TABLE IF NOT EXISTS b.apply (id INT PRIMARY KEY)');
    while (!stop) await c.query('INSERT INTO b.apply VALUES (?)', [++n]);
    c.destroy();
  })();
  return { stop: async () => ((stop = true), await done) };
}

async function measure(flavor: Flavor, v: Variant, primary: mysql.Connection, replica: mysql.Connection, containerId: string) {
  const stopSql = flavor === 'mysql' ? 'STOP REPLICA' : 'STOP SLAVE';
  const startIo = flavor === 'mysql' ? 'START REPLICA IO_THREAD' : 'START SLAVE IO_THREAD';
  const startSql = flavor === 'mysql' ? 'START REPLICA SQL_THREAD' : 'START SLAVE SQL_THREAD';
  await replica.query(stopSql);
  for (const [k, val] of Object.entries(v.set ?? {})) await replica.query(`SET GLOBAL ${k} = ${typeof val === 'number' ? val : `'${val}'`}`);
  await replica.query(startIo);
  execFileSync('docker', ['update', '--cpus', String(v.cpus ?? shape.cpuMillis / 1000), containerId], { stdio: 'ignore' });
  await sleep(HOLD_S * 1000);
  const p0 = await executed(flavor, primary);
  const r0 = await executed(flavor, replica);
  const t0 = Date.now();
  await replica.query(startSql);
  // While the backlog lasts (or the window ends): the applier's own pace.
  let p1 = p0;
  let r1 = r0;
  while (Date.now() - t0 < WINDOW_S * 1000) {
    await sleep(500);
    [p1, r1] = [await executed(flavor, primary), await executed(flavor, replica)];
    if (p1 - r1 < 100) break;
  }
  const s = (Date.now() - t0) / 1000;
  const r = { variant: v.name, backlogAtStart: p0 - r0, seconds: Number(s.toFixed(1)), commitsPerSec: Math.round((p1 - p0) / s), appliedPerSec: Math.round((r1 - r0) / s), backlogAtEnd: p1 - r1 };
  console.log(`[${flavor}] ${JSON.stringify(r)}`);
  // Caught up again before the next variant.
  for (let i = 0; i < 40 && (await executed(flavor, primary)) - (await executed(flavor, replica)) > 100; i++) await sleep(500);
  return r;
}

async function benchFlavor(flavor: Flavor, dir: string) {
  for (const d of ['manager', 'd0', 'd1', 'd2']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const m = await managerArgs(path.join(dir, 'manager'), ['--image', IMAGES[flavor], '--mariadb-image', IMAGES.mariadb, '--mysql-image', IMAGES.mysql]);
  const fleet = benchFleet(HOSTS.map((_, i) => `applier-${flavor}-${i + 1}`));
  fleet.start(m.args, path.join(dir, 'manager.log'));
  for (const [i, host] of HOSTS.entries()) {
    const listen = `${host}:${await freePort(host)}`;
    fleet.start(['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', listen, '--node', `applier-${flavor}-${i + 1}`, '--ports', `${4201 + i * 33}-${4233 + i * 33}`, '--disk', path.join(dir, `d${i}`), '--cpus', '8', '--memory', '8G'], path.join(dir, `agent${i}.log`));
  }
  const Portal = portalProto().berth.v1.Portal;
  const portal: AsyncClient<PortalClient> = asyncClient(new Portal(m.portal, grpc.credentials.createInsecure()) as unknown as PortalClient);
  const conns: mysql.Connection[] = [];
  try {
    for (let i = 0; (await portal.listNodes({}).catch(() => ({ nodes: [] as { state: string }[] }))).nodes.filter((n) => n.state === 'ready').length < 3; i++) {
      if (i > 300) throw new Error('three ready nodes: timed out');
      await sleep(200);
    }
    const res = await portal.createCluster({ name: `applier${flavor}`, resources: shape, replicas: 2, replication: 'semi-sync', flavor }, 30_000);
    const op = await portal.waitOperation({ id: res.operation!.id, timeoutMs: 300_000 }, 310_000);
    if (op.state !== 'succeeded') throw new Error(`create: ${op.error}`);
    const ep = await portal.getClusterEndpoints({ name: `applier${flavor}` });
    const socketOf = async (id: string) => {
      const i = await portal.getInstance({ instance: id });
      return path.join(i.diskPath, 'berth', i.id, 'run', 'mysqld.sock');
    };
    const rid = ep.replicas[0]!.instanceId;
    const [pc, rc] = [await connectSocket(await socketOf(ep.primary!.instanceId)), await connectSocket(await socketOf(rid))];
    conns.push(pc, rc);
    const settings = await variables(rc, flavor === 'mysql'
      ? ['replica_parallel_workers', 'replica_preserve_commit_order', 'replica_parallel_type', 'replica_pending_jobs_size_max', 'binlog_transaction_dependency_tracking', 'sync_binlog', 'innodb_flush_log_at_trx_commit', 'sync_relay_log', 'relay_log_recovery']
      : ['slave_parallel_threads', 'slave_parallel_mode', 'slave_parallel_max_queued', 'binlog_commit_wait_count', 'sync_binlog', 'innodb_flush_log_at_trx_commit', 'sync_relay_log']);
    console.log(`[${flavor}] replica settings as rendered: ${JSON.stringify(settings)}`);
    const [container] = execFileSync('docker', ['ps', '-q', '--filter', `label=berth.instance=${rid}`, '--filter', 'label=berth.role=mysqld'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const w = writer({ host: ep.primary!.host, port: ep.primary!.port, user: res.credentials!.user, password: res.credentials!.password });
    try {
      await sleep(3000);
      const runs = [];
      for (const v of VARIANTS[flavor]) runs.push(await measure(flavor, v, pc, rc, container!));
      return { flavor, settings, runs };
    } finally {
      await w.stop();
    }
  } finally {
    for (const c of conns) c.destroy();
    portal.close();
    fleet.end();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-applier-'));
  const results = [];
  for (const f of FLAVORS) {
    try {
      results.push(await benchFlavor(f, path.join(dir, f)));
    } catch (err) {
      results.push({ flavor: f, error: (err as Error).message });
    }
  }
  const out = { when: new Date().toISOString(), setup: `1 primary + 2 semi-sync replicas, ${shape.cpuMillis}m CPU / 1G each, one client committing one row at a time on the primary; per variant the replica's applier held ${HOLD_S} s, then measured for up to ${WINDOW_S} s`, results };
  writeResult('applier', out);
  fs.rmSync(dir, { recursive: true, force: true });
}

runBench(main);

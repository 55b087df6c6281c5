// Benchmark: sysbench `oltp_read_write` (8 threads) on a berth instance against hand-made
// containers of the same image with the same CPU and memory limits (issue 24, last row):
//  - "durable": the image's defaults plus the durability berth keeps (binary log on,
//    sync_binlog=1, innodb_flush_log_at_trx_commit=1) — what a DBA's `docker run` of an
//    equally safe server gives;
//  - "no binlog": the image's defaults without a binary log (less durable: no point-in-time
//    recovery, no replica can follow it) — the gap the binary log costs;
//  - "durable-row" (MariaDB): "durable" with row-based logging, berth's format.
// Each target gets the same tables; the runs alternate between targets round by round, so a
// slow minute of the machine falls on every target alike; each figure is a median of rounds.
// Every target's durability settings are read back from the server and written to the result.
//
//   npm run bench:sysbench [-- --flavor mysql,mariadb --time 30 --rounds 3 --threads 8]
// Writes bench-results/sysbench.json. sysbench is Debian's (installed here if missing).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import { initCommand } from '../agent/instance/datadir';
import { binds, DIRS, layoutAt } from '../agent/instance/layout';
import type { Flavor } from '../src/mysql/dialect';
import { connectSocket, connectTcp } from '../src/mysql/connect';
import { portalProto } from '../src/proto';
import { asyncClient, type AsyncClient } from '../src/rpc';
import { waitFor } from '../src/wait';
import { argOf, atExit, benchFleet, freePort, managerArgs, runBench, writeResult } from './proc';

const arg = argOf;
const FLAVORS = arg('flavor', 'mysql,mariadb').split(',') as Flavor[];
const TIME_S = Number(arg('time', '30'));
const ROUNDS = Number(arg('rounds', '3'));
const THREADS = Number(arg('threads', '8'));
const TABLES = 4;
const TABLE_SIZE = 20_000;
const IMAGES = { mariadb: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', mysql: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7' };
const M = 1024 ** 2;
const shape = { cpuMillis: 1000, memoryBytes: 2048 * M, diskBytes: 10 * 1024 * M };
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const LABEL = { 'berth.bench': 'sysbench' };
const DURABILITY = ['log_bin', 'sync_binlog', 'innodb_flush_log_at_trx_commit', 'innodb_doublewrite', 'innodb_buffer_pool_size', 'binlog_format'];

interface Target {
  name: string;
  port: number;
  user: string;
  password: string;
}

// A DBA's hand-made server: the image's defaults, the instance's limits, and only what the
// comparison needs on top (where its files are, its port, and the durability of the variant).
function handMadeCnf(flavor: Flavor, port: number, binlog: boolean, extra: string[]): string {
  const lines = ['[mysqld]', 'user = mysql', 'datadir = /var/lib/mysql', 'socket = /run/berth/mysqld.sock', 'pid-file = /run/berth/mysqld.pid', 'tmpdir = /var/tmp/berth', 'log-error = /var/log/berth/error.log', `port = ${port}`, 'bind-address = 127.0.0.1', 'server-id = 1'];
  if (binlog) lines.push('log-bin = binlog', 'sync_binlog = 1', 'innodb_flush_log_at_trx_commit = 1');
  else lines.push(flavor === 'mysql' ? 'disable-log-bin' : 'skip-log-bin', 'innodb_flush_log_at_trx_commit = 1');
  return [...lines, ...extra].join('\n') + '\n';
}

async function handMade(flavor: Flavor, dir: string, name: string, binlog: boolean, extra: string[] = []): Promise<Target> {
  const layout = layoutAt(path.join(dir, name));
  for (const d of DIRS) fs.mkdirSync(layout.dirs[d], { recursive: true });
  const port = await freePort();
  fs.writeFileSync(layout.mycnf, handMadeCnf(flavor, port, binlog, extra));
  const init = await docker.createContainer({ Image: IMAGES[flavor], Cmd: initCommand(flavor), Labels: LABEL, HostConfig: { NetworkMode: 'none', Binds: binds(layout) } });
  await init.start();
  const { StatusCode } = (await init.wait()) as { StatusCode: number };
  await init.remove();
  if (StatusCode !== 0) throw new Error(`initializing ${name} exited ${StatusCode}`);
  const c = await docker.createContainer({
    Image: IMAGES[flavor],
    Cmd: ['mysqld', '--defaults-file=/etc/berth/my.cnf'],
    Labels: LABEL,
    HostConfig: { NetworkMode: 'host', Binds: binds(layout), NanoCpus: shape.cpuMillis * 1e6, Memory: shape.memoryBytes, MemorySwap: shape.memoryBytes },
  });
  await c.start();
  await waitFor(`${name} mysqld`, async () => (await connectSocket(layout.socket, 2000)).end(), { timeoutMs: 120_000, intervalMs: 200 });
  // The benchmark's account, as a DBA would make it for sysbench.
  const root = await connectSocket(layout.socket);
  const password = `sb-${process.pid}`;
  await root.query(`CREATE USER 'sb'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  await root.query(`GRANT ALL ON *.* TO 'sb'@'127.0.0.1'`);
  await root.end();
  return { name, port, user: 'sb', password };
}

function sysbench(t: Target, command: 'prepare' | 'run', extra: string[] = []): string {
  // Plaintext, as sysbench 1.0 reads TLS files from its working directory. MySQL 9.7's
  // caching_sha2_password then needs the account's hash cached by the server: prepare() logs in
  // once first with mysql2 (full authentication), after which the fast path needs no TLS.
  const args = ['oltp_read_write', `--mysql-host=127.0.0.1`, `--mysql-port=${t.port}`, `--mysql-user=${t.user}`, `--mysql-password=${t.password}`, '--mysql-db=sbtest', `--tables=${TABLES}`, `--table-size=${TABLE_SIZE}`, '--mysql-ssl=off', ...extra, command];
  try {
    return execFileSync('sysbench', args, { encoding: 'utf8', maxBuffer: 16 * M, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // Its own words, never the command line (it holds the password).
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`sysbench ${command} on ${t.name} failed: ${`${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ')}`);
  }
}

async function settings(t: Target): Promise<Record<string, string>> {
  const c = await connectTcp({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password });
  try {
    const [rows] = (await c.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${DURABILITY.map(() => '?').join(',')})`, DURABILITY)) as unknown as [{ Variable_name: string; Value: string }[]];
    return Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
  } finally {
    c.destroy();
  }
}

async function prepare(t: Target): Promise<void> {
  const c = await connectTcp({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password });
  await c.query('CREATE DATABASE IF NOT EXISTS sbtest');
  c.destroy();
  sysbench(t, 'prepare');
}

function tps(out: string): number {
  const m = /transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(out);
  if (!m) throw new Error(`no transactions line in sysbench's output:\n${out.slice(-2000)}`);
  return Number(m[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function berthInstance(flavor: Flavor, dir: string): Promise<{ target: Target; end: () => void }> {
  const node = `sysbench-${flavor}-${process.pid}`;
  fs.mkdirSync(path.join(dir, 'manager'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'disk'), { recursive: true });
  const m = await managerArgs(path.join(dir, 'manager'), ['--image', IMAGES[flavor], '--mariadb-image', IMAGES.mariadb, '--mysql-image', IMAGES.mysql]);
  const fleet = benchFleet([node]);
  fleet.start(m.args, path.join(dir, 'manager.log'));
  fleet.start(['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', `127.0.0.1:${await freePort()}`, '--node', node, '--ports', '4401-4420', '--disk', path.join(dir, 'disk'), '--cpus', '2', '--memory', '8G'], path.join(dir, 'agent.log'));
  const Portal = portalProto().berth.v1.Portal;
  const portal: AsyncClient<PortalClient> = asyncClient(new Portal(m.portal, grpc.credentials.createInsecure()) as unknown as PortalClient);
  try {
    await waitFor('the node ready', async () => {
      if (!(await portal.listNodes({})).nodes.some((n) => n.state === 'ready')) throw new Error('not ready yet');
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const res = await portal.createInstance({ name: `sb${flavor}`, resources: shape, flavor }, 30_000);
    const op = await portal.waitOperation({ id: res.operation!.id, timeoutMs: 300_000 }, 310_000);
    if (op.state !== 'succeeded') throw new Error(`create: ${op.error}`);
    const cr = res.credentials!;
    return { target: { name: 'berth', port: cr.port, user: cr.user, password: cr.password }, end: () => (portal.close(), fleet.end()) };
  } catch (err) {
    portal.close();
    fleet.end();
    throw err;
  }
}

async function benchFlavor(flavor: Flavor, dir: string) {
  const b = await berthInstance(flavor, path.join(dir, 'berth'));
  try {
    const targets = [b.target, await handMade(flavor, dir, 'durable', true), await handMade(flavor, dir, 'no-binlog', false)];
    // MariaDB's default binary log format is MIXED (statements where safe); berth logs rows,
    // which replication and point-in-time recovery rely on. This target tells that cost apart.
    if (flavor === 'mariadb') targets.push(await handMade(flavor, dir, 'durable-row', true, ['binlog_format = ROW']));
    const config: Record<string, Record<string, string>> = {};
    for (const t of targets) {
      await prepare(t);
      config[t.name] = await settings(t);
    }
    const runs: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of targets) {
        runs[t.name]!.push(tps(sysbench(t, 'run', [`--threads=${THREADS}`, `--time=${TIME_S}`, '--report-interval=0'])));
        console.log(`[${flavor}] round ${r + 1} ${t.name}: ${runs[t.name]!.at(-1)} tps`);
      }
    }
    const med = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
    return { flavor, tps: med, runs, settings: config, ...(med['durable-row'] ? { ratioVsDurableRow: Number((med.berth! / med['durable-row']).toFixed(3)) } : {}), ratioVsDurable: Number((med.berth! / med.durable!).toFixed(3)), ratioVsNoBinlog: Number((med.berth! / med['no-binlog']!).toFixed(3)) };
  } finally {
    b.end();
  }
}

async function main(): Promise<void> {
  try {
    execFileSync('sysbench', ['--version'], { stdio: 'ignore' });
  } catch {
    execFileSync('apt-get', ['install', '-y', '-q', 'sysbench'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-sysbench-'));
  // The hand-made containers, however the run ends.
  atExit(() => {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', 'label=berth.bench=sysbench'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const results = [];
  for (const f of FLAVORS) {
    try {
      results.push(await benchFlavor(f, path.join(dir, f)));
    } catch (err) {
      results.push({ flavor: f, error: (err as Error).message });
    }
    for (const id of execFileSync('docker', ['ps', '-aq', '--filter', 'label=berth.bench=sysbench'], { encoding: 'utf8' }).split('\n').filter(Boolean)) execFileSync('docker', ['rm', '-f', '-v', id], { stdio: 'ignore' });
  }
  const out = {
    when: new Date().toISOString(),
    setup: `sysbench oltp_read_write, ${THREADS} threads, ${TABLES} tables x ${TABLE_SIZE} rows, ${ROUNDS} rounds of ${TIME_S} s alternating between targets; every server ${shape.cpuMillis}m CPU and ${shape.memoryBytes / M} MiB memory (container limits), sysbench on the same 2-core machine`,
    results,
  };
  writeResult('sysbench', out);
  for (const r of results) console.log('error' in r ? `sysbench ${r.flavor}: failed: ${r.error.split('\n')[0]}` : `sysbench ${r.flavor}: berth ${r.tps.berth} tps, durable hand-made ${r.tps.durable} (ratio ${r.ratioVsDurable}), no-binlog ${r.tps['no-binlog']} (ratio ${r.ratioVsNoBinlog})`);
}

runBench(main);

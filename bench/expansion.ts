// Benchmark: data movement for expansion (issue 9).
//  - Copy throughput: berth's hot copy (mariabackup streamed agent to agent, unpacked and
//    prepared on the target) against a plain `tar -C src -c . | tar -C dst -x` of the same data
//    directory between the same two disks, alternating in this run, data of at least 1 GB.
//  - Cut-over: the write-blocked window while a writer commits in a tight loop, as the library
//    measures it and as the writer sees it (longest gap between two acknowledged commits).
//
//   npm run bench:expansion [-- --gb 1.1 --runs 3 --cutovers 5 --cpu 1 --flavor mariadb|mysql --copy-only --insecure]
// Every process talks mutual TLS as in production (the copy's direct socket too), unless
// --insecure.
// MySQL copies with CLONE (the target is created empty first, then cloned into; its mysqld
// restarts on the copy). --copy-only skips the resize and cut-over rows and writes
// bench-results/expansion-copy-<flavor>.json.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import type { AgentClient } from '../src/gen/berth/v1/Agent';
import { agentProto, portalProto } from '../src/proto';
import { asyncClient, CHANNEL_OPTIONS, EPOCH_METADATA, metadataInterceptor } from '../src/rpc';
import { orderedAgent } from '../manager/agents/pool';
import { argOf, benchFleet, freePort, managerArgs, runBench, writeResult } from './proc';
import { resizeLatency } from './resize-latency';
import type { Flavor } from '../src/mysql/dialect';
import { initCa, issueCert, type CertKind } from '../src/tls/ca';
import { channelCredentials, filesIn } from '../src/tls/credentials';
import { GrantSigner, setBackupGrantIssuer } from '../src/tls/grant';
import { catchUp, copy, cutOver, makeReplica, type Endpoint, type TargetEndpoint } from '../manager/movement/index';

const arg = (name: string, dflt: number) => Number(argOf(name, String(dflt)));
const FLAVOR: Flavor = process.argv.includes('mysql') ? 'mysql' : 'mariadb';
const IMAGE = FLAVOR === 'mysql' ? (process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7') : (process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11');
const COPY_ONLY = process.argv.includes('--copy-only');
const INSECURE = process.argv.includes('--insecure');
// BERTH_BENCH_PROFILE=DIR: the agents write V8 CPU profiles there when they stop.
const PROFILE = process.env.BERTH_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BERTH_BENCH_PROFILE}`] : [];
const GB = arg('gb', 1.1);
const RUNS = arg('runs', 3);
const CUTOVERS = arg('cutovers', 5);
const M = 1024 ** 2;
// The instances' CPU limit also caps mariabackup, which runs inside the source's container.
const shape = { cpuMillis: arg('cpu', 1) * 1000, memoryBytes: 1024 * M, diskBytes: 8 * 1024 * M };


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

// utime + stime of a process, from /proc (clock ticks of 1/100 s on Linux).
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// The baseline: what any operator would type, without binary logs (which a physical copy
// does not carry either), same source directory and destination disk as berth's copy.
function tarCopy(src: string, dst: string): { seconds: number; bytes: number } {
  fs.rmSync(dst, { recursive: true, force: true });
  fs.mkdirSync(dst, { recursive: true });
  const t0 = process.hrtime.bigint();
  try {
    execFileSync('bash', ['-c', `tar -C '${src}' --exclude='binlog.*' -cf - . | tar -C '${dst}' -xf -`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // Exit 1 is tar's "file changed as we read it" on a live server: the copy is there.
    if ((err as { status?: number }).status !== 1) throw err;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, bytes: dirBytes(dst) };
}

// Commits one row at a time as fast as it can, following the primary when told.
class Writer {
  acks: number[] = [];
  private stop = false;
  private done?: Promise<void>;
  constructor(
    private cred: { user: string; password: string },
    public endpoint: { host: string; port: number },
  ) {}
  run(): this {
    this.done = (async () => {
      let conn: mysql.Connection | undefined;
      let id = 0;
      while (!this.stop) {
        try {
          conn ??= await mysql.createConnection({ ...this.cred, ...this.endpoint, connectTimeout: 2000 });
          await conn.query('INSERT INTO app.w (at) VALUES (?)', [++id]);
          this.acks.push(Date.now());
        } catch {
          conn?.destroy();
          conn = undefined;
          await sleep(1);
        }
      }
      conn?.destroy();
    })();
    return this;
  }
  async finish(): Promise<void> {
    this.stop = true;
    await this.done;
  }
  // The longest gap between acknowledged commits in [t, t + windowMs]: one cut-over's window.
  gapAround(t: number, windowMs = 2_000): number {
    const xs = this.acks.filter((x) => x >= t && x <= t + windowMs);
    let gap = 0;
    for (let i = 1; i < xs.length; i++) gap = Math.max(gap, xs[i]! - xs[i - 1]!);
    return gap;
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-exp-'));
  const tlsDir = INSECURE ? undefined : path.join(dir, 'tls');
  const m = await managerArgs(path.join(dir, 'state'), ['--image', IMAGE], tlsDir);
  const nodes = ['a', 'b'].map((n, i) => ({ name: `bexp-${process.pid}-${n}`, host: `127.0.0.${i + 1}`, disk: path.join(dir, `disk-${n}`), ports: i === 0 ? '3761-3770' : '3771-3780', address: '' }));
  const fleet = benchFleet(nodes.map((n) => n.name));
  const procs = fleet.procs;
  if (tlsDir) {
    initCa(tlsDir);
    for (const [kind, name] of [['manager', 'manager'], ['admin', 'admin'], ...nodes.map((n) => ['node', n.name])] as [CertKind, string][]) issueCert(tlsDir, kind, name);
    // What the manager does for every hot copy it starts: a grant for the target's node.
    const signer = new GrantSigner(filesIn(tlsDir, 'manager', 'manager'));
    setBackupGrantIssuer((instance, t) => signer.sign(instance, t.node ?? nodes.find((n) => n.address === t.agentAddress)!.name));
  }
  fleet.start(m.args, path.join(dir, 'manager.log'));
  for (const n of nodes) {
    n.address = `${n.host}:${await freePort(n.host)}`;
    fleet.start([...PROFILE, 'dist/agent/main.js', ...(tlsDir ? ['--tls-dir', tlsDir] : ['--insecure']), '--manager', m.registry, '--listen', n.address, '--node', n.name, '--disk', n.disk, '--ports', n.ports, '--cpus', '16'], path.join(dir, `${n.name}.log`));
  }
  const creds = (kind: 'admin' | 'manager', expect: 'manager' | 'node') => (tlsDir ? channelCredentials(filesIn(tlsDir, kind, kind), { kind: expect }) : grpc.credentials.createInsecure());
  const portal = asyncClient(new (portalProto().berth.v1.Portal)(m.portal, creds('admin', 'manager')));
  const Agent = agentProto().berth.v1.Agent;
  // It sends the leader epoch the agent last saw (its file), as the leader would (agent/epoch.ts).
  const epochOf = (i: number) => () => fs.readFileSync(path.join(nodes[i]!.disk, 'berth', '.leader-epoch'), 'utf8').trim() || undefined;
  const epochOpts = (i: number) => ({ ...CHANNEL_OPTIONS, interceptors: [metadataInterceptor(EPOCH_METADATA, () => { try { return epochOf(i)(); } catch { return undefined; } })] });
  const rawAgent = (i: number) => new Agent(nodes[i]!.address, creds('manager', 'node'), epochOpts(i)) as AgentClient;
  // The bench plays the manager on the agents' machine: its write grants are based on now.
  const agentOf = (i: number) => orderedAgent(asyncClient(rawAgent(i)), () => ({ baseMs: Date.now(), grantMs: 4000 }));
  const out: Record<string, unknown> = { tls: !INSECURE, image: IMAGE, instanceCpus: shape.cpuMillis / 1000, machine: { cpus: os.cpus().length, memoryBytes: os.totalmem() }, disks: 'both agent disks are directories on the same host filesystem' };
  try {
    await until('both nodes ready', async () => ((await portal.listNodes({})).nodes.filter((n) => n.state === 'ready').length === 2 ? true : undefined));
    const res = await portal.createInstance({ name: 'bexp-src', resources: shape, node: nodes[0]!.name });
    const op = await portal.waitOperation({ id: res.operation!.id, timeoutMs: 170_000 }, 175_000);
    if (op.state !== 'succeeded') throw new Error(`create failed: ${op.error}`);
    const cred = res.credentials!;
    if (!COPY_ONLY) {
      // In-place resize: call to limits and buffer pool applied (read back by the agent), median of 5.
      out.resizeInPlace = await resizeLatency(portal, 'bexp-src', [768 * M, 1024 * M], 5);
      console.log(`in-place resize: median ${(out.resizeInPlace as { medianMs: number }).medianMs} ms (agent ${(out.resizeInPlace as { agentMedianMs: number }).agentMedianMs} ms)`);
      await resizeLatency(portal, 'bexp-src', [1024 * M, 1024 * M], 1);
    }
    if (process.argv.includes('--resize-only')) {
      writeResult('expansion-resize', out);
      return;
    }
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE app');
    await conn.query('CREATE TABLE app.w (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT NOT NULL)');
    await conn.query('CREATE TABLE app.fill (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1100) NOT NULL)');
    const rows = Math.ceil(GB * 1024 * 1024);
    const t0 = Date.now();
    // MariaDB's sequence engine; MySQL a recursive CTE of the same numbers.
    if (FLAVOR === 'mysql') await conn.query('SET SESSION cte_max_recursion_depth = 30000');
    for (let done = 0; done < rows; done += 20_000) {
      const n = Math.min(20_000, rows - done);
      const from = FLAVOR === 'mysql' ? `(WITH RECURSIVE s (seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < ${n}) SELECT seq FROM s) AS q` : `app.seq_1_to_${n}`;
      await conn.query(`INSERT INTO app.fill (pad) SELECT REPEAT(SHA2(seq + ${done}, 256), 16) FROM ${from}`);
    }
    await conn.end();
    const srcData = path.join(nodes[0]!.disk, 'berth', res.instance!.id, 'data');
    console.log(`filled ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(0)} s; data dir ${(dirBytes(srcData) / 1e9).toFixed(2)} GB`);

    const source: Endpoint = { id: res.instance!.id, flavor: FLAVOR, agent: agentOf(0), agentAddress: nodes[0]!.address, host: cred.host, port: cred.port };
    const newTarget = (port: number): TargetEndpoint => {
      const id = `i-${randomBytes(6).toString('hex')}`;
      return {
        id,
        flavor: FLAVOR,
        agent: agentOf(1),
        streams: rawAgent(1),
        agentAddress: nodes[1]!.address,
        host: nodes[1]!.host,
        port,
        create: { id, name: `bexp-dst-${id.slice(2, 6)}`, image: IMAGE, resources: shape, port, diskPath: nodes[1]!.disk, serverId: 900_000 + port, adminUser: cred.user, adminPassword: cred.password },
      };
    };

    // Copy throughput, alternating with the baseline.
    const copyRuns: { ratio: number; copyBytes: number }[] = [];
    let keep: { target: TargetEndpoint; gtid: string; applied: boolean } | undefined;
    for (let r = 0; r < RUNS; r++) {
      const tar = tarCopy(srcData, path.join(nodes[1]!.disk, 'tar-baseline'));
      fs.rmSync(path.join(nodes[1]!.disk, 'tar-baseline'), { recursive: true, force: true });
      const target = newTarget(3771 + r);
      // mariabackup: the seed (stream, then prepare) starts at once. CLONE: the target is
      // created empty first ("clone" marks the start of the copy), the data is there at
      // "restart", and mysqld runs on it at "done".
      let seeded = 0;
      let transport = '';
      const cpu0 = nodes.map((_, i) => cpuSeconds(procs[i + 1]!.pid!));
      let seedSeconds = 0;
      let streamSeconds = 0;
      let restartSeconds = 0;
      let c0 = Date.now();
      const result = await copy(source, target, {
        onProgress: (p) => {
          const t = (Date.now() - c0) / 1000;
          if (p.phase === 'clone') c0 = Date.now();
          if ((p.phase === 'prepare' || p.phase === 'restart') && !streamSeconds) streamSeconds = t;
          if (p.phase === 'done') [seeded, seedSeconds] = [p.bytesDone ?? 0, t];
          if (p.transport) transport = p.transport;
        },
      });
      if (FLAVOR === 'mysql') [restartSeconds, seedSeconds] = [seedSeconds - streamSeconds, streamSeconds];
      const [srcCpu, dstCpu] = nodes.map((_, i) => cpuSeconds(procs[i + 1]!.pid!) - cpu0[i]!);
      const row = {
        transport,
        // CPU seconds of the source's and the target's agent process during the copy.
        sourceAgentCpuSeconds: srcCpu,
        targetAgentCpuSeconds: dstCpu,
        tarBytes: tar.bytes,
        tarSeconds: tar.seconds,
        tarMBps: tar.bytes / M / tar.seconds,
        copyBytes: seeded,
        copySeconds: seedSeconds,
        copyMBps: seeded / M / seedSeconds,
        // The stream alone (mariabackup -> agents -> mbstream; CLONE's transfer), then --prepare.
        streamSeconds,
        streamMBps: seeded / M / streamSeconds,
        prepareSeconds: seedSeconds - streamSeconds,
        // CLONE: mysqld restarting on the cloned data (not in copySeconds).
        restartSeconds,
        startSeconds: result.seconds - seedSeconds - restartSeconds,
        ratio: seeded / seedSeconds / (tar.bytes / tar.seconds),
      };
      copyRuns.push(row);
      console.log(
        `copy run ${r + 1}: tar ${row.tarMBps.toFixed(0)} MB/s (${tar.seconds.toFixed(1)} s), berth ${row.copyMBps.toFixed(0)} MB/s (${seedSeconds.toFixed(1)} s: stream ${streamSeconds.toFixed(1)} s, prepare ${row.prepareSeconds.toFixed(1)} s; then restart ${restartSeconds.toFixed(1)} s, start ${row.startSeconds.toFixed(1)} s): ${row.ratio.toFixed(2)}x [${transport}; agent CPU source ${srcCpu!.toFixed(1)} s, target ${dstCpu!.toFixed(1)} s]`,
      );
      if (r === RUNS - 1) keep = { target, gtid: result.gtidPosition, applied: result.positionApplied };
      else await target.agent.removeInstance({ id: target.id }, 120_000);
    }
    out.copy = { method: FLAVOR === 'mysql' ? 'clone' : 'mariabackup', dataBytes: copyRuns[0]!.copyBytes, runs: copyRuns, medianRatio: median(copyRuns.map((r) => r.ratio!)) };
    if (COPY_ONLY) {
      await keep!.target.agent.removeInstance({ id: keep!.target.id }, 120_000);
      writeResult(`expansion-copy-${FLAVOR}`, out);
      console.log(JSON.stringify(out.copy, null, 2));
      return;
    }

    // Cut-over windows: ping-pong between the two copies under one tight-loop writer.
    const target = keep!.target;
    const writer = new Writer({ user: cred.user, password: cred.password }, { host: source.host, port: source.port }).run();
    let [from, to]: [Endpoint, Endpoint] = [source, target];
    let link = await makeReplica(to, from, { gtidPosition: keep!.gtid, positionApplied: keep!.applied });
    const cuts: { blockedMs: number; writerGapMs: number; killed: number }[] = [];
    for (let i = 0; i < CUTOVERS; i++) {
      await catchUp(to, from, { maxSeconds: 1, maxTransactions: 20 }, { deadlineMs: 60_000 });
      await sleep(1000);
      const at = Date.now();
      const r = await cutOver(from, to, { graceMs: 100, deadlineMs: 5_000 });
      writer.endpoint = { host: to.host, port: to.port };
      if (!r.ok) throw new Error(`cut-over ${i + 1} aborted: ${r.reason}`);
      await sleep(1000);
      cuts.push({ blockedMs: r.blockedMs, writerGapMs: writer.gapAround(at), killed: r.killed });
      console.log(`cut-over ${i + 1}: blocked ${r.blockedMs} ms, writer's longest gap ${writer.gapAround(at)} ms`);
      // The account stays on the old source: dropping it there would lift MySQL's
      // super_read_only (the agent refuses); it is made again, with a new password, when that
      // server is the source once more, and goes with the instances at the end.
      // The old source follows the new one from its own executed set (switchover's re-point).
      const st = await from.agent.getReplicaStatus({ id: from.id });
      [from, to] = [to, from];
      link = await makeReplica(to, from, { gtidPosition: st.executedGtids, positionApplied: false });
    }
    await writer.finish();
    out.cutover = {
      graceMs: 100,
      runs: cuts,
      medianBlockedMs: median(cuts.map((c) => c.blockedMs)),
      maxBlockedMs: Math.max(...cuts.map((c) => c.blockedMs)),
      medianWriterGapMs: median(cuts.map((c) => c.writerGapMs)),
      maxWriterGapMs: Math.max(...cuts.map((c) => c.writerGapMs)),
      commitsPerSecond: writer.acks.length / ((writer.acks.at(-1)! - writer.acks[0]!) / 1000),
    };
    await target.agent.removeInstance({ id: target.id }, 120_000);
    writeResult('expansion', out);
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await portal.deleteInstance({ instance: 'bexp-src' }).catch(() => undefined);
    fleet.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);

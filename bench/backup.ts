// Benchmark: full backup and restore (issue 20, first slice), one flavor per run.
//  - Backup: berth's backup (the tool's stream, gzip -1, rate limit off, AES-256-GCM, SHA-256,
//    into a directory repository, manifest) against `tar --exclude=binlog.* -c | gzip -1` of the
//    same data directory into the same repository directory.
//  - Restore: berth's restore to a new instance (verify, decrypt, unpack, prepare, start, open)
//    against `gzip -dc | tar -x` of that baseline archive (unpacking only: a lower bound of a
//    restore by hand, which also has to prepare and start a server).
//
//   npm run bench:backup [-- --gb 0.5 --flavor mariadb|mysql] [--s3]
// --s3: the repository is a bucket on the radosgw of scripts/s3-server.sh (started if needed),
// and the baselines upload to / download from the same bucket (no encryption, no checksum).
// Writes bench-results/backup-<flavor>[-s3].json. Plaintext gRPC (a benchmark on one machine).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { openRepository } from '../src/backup/open-repository';
import { newBackupId, type Repository } from '../src/backup/repository';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { portalProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import * as grpc from '@grpc/grpc-js';
import { argOf, freePort, managerArgs, runBench, start, writeResult } from './proc';

const arg = (name: string, dflt: number) => Number(argOf(name, String(dflt)));
const FLAVOR = process.argv.includes('mysql') ? 'mysql' : 'mariadb';
const IMAGE = FLAVOR === 'mysql' ? (process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7') : (process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11');
const GB = arg('gb', 0.5);
const S3 = process.argv.includes('--s3');
const M = 1024 ** 2;
const shape = { cpuMillis: 1000, memoryBytes: 1024 * M, diskBytes: 8 * 1024 * M };

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

function timed(script: string): number {
  const t0 = process.hrtime.bigint();
  try {
    execFileSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // tar's exit 1: "file changed as we read it" on a live server.
    if ((err as { status?: number }).status !== 1) throw err;
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// A bucket on the test radosgw: its spec, a 0600 credentials file and a client for the baselines.
function s3Repository(dir: string): { spec: string; args: string[]; repo: Repository } {
  const env = Object.fromEntries(execFileSync('bash', ['scripts/s3-server.sh', 'start'], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  const spec = `s3://bench-${process.pid}?endpoint=${encodeURIComponent(env.BERTH_S3_ENDPOINT!)}&region=${env.BERTH_S3_REGION}`;
  const creds = path.join(dir, 's3-credentials');
  fs.writeFileSync(creds, `BERTH_S3_ACCESS_KEY=${env.BERTH_S3_ACCESS_KEY}\nBERTH_S3_SECRET_KEY=${env.BERTH_S3_SECRET_KEY}\n`, { mode: 0o600 });
  return { spec, args: ['--backup-s3-credentials-file', creds], repo: openRepository(spec, { accessKeyId: env.BERTH_S3_ACCESS_KEY!, secretAccessKey: env.BERTH_S3_SECRET_KEY! }) };
}

// The baselines against S3: the shell pipeline's output uploaded (or the object downloaded into
// its input) by the same client berth uses.
async function timedS3(repo: Repository, id: string, script: string, upload: boolean): Promise<number> {
  const t0 = process.hrtime.bigint();
  const p = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: [upload ? 'ignore' : 'pipe', upload ? 'pipe' : 'ignore', 'ignore'] });
  const exited = new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
  if (upload) {
    const w = await repo.createObject(id, 'baseline.tar.gz');
    await pipeline(p.stdout!, w.stream);
    await w.commit();
  } else await pipeline(await repo.readObject(id, 'baseline.tar.gz'), p.stdin!);
  const code = await exited;
  if (code !== 0 && code !== 1) throw new Error(`${script} exited ${code}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-backup-'));
  const repo = path.join(dir, 'repository');
  fs.mkdirSync(repo);
  const s3 = S3 ? s3Repository(dir) : undefined;
  const m = await managerArgs(path.join(dir, 'state'), ['--image', IMAGE, '--mariadb-image', 'berth/mariadb:10.11', '--mysql-image', 'berth/mysql:9.7', '--backup-repository', s3?.spec ?? `dir:${repo}`, ...(s3?.args ?? [])]);
  const procs: ChildProcess[] = [];
  const node = { name: `bbk-${process.pid}`, host: '127.0.0.43', disk: path.join(dir, 'disk'), ports: '3781-3790' };
  procs.push(start(m.args, path.join(dir, 'manager.log')));
  const address = `${node.host}:${await freePort(node.host)}`;
  procs.push(start(['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', address, '--node', node.name, '--disk', node.disk, '--ports', node.ports, '--cpus', '16', '--templates', 'off'], path.join(dir, 'agent.log')));
  const portal = asyncClient(new (portalProto().berth.v1.Portal)(m.portal, grpc.credentials.createInsecure()));
  const wait = async (id: string) => {
    const op = await portal.waitOperation({ id, timeoutMs: 1_800_000 }, 1_810_000);
    if (op.state !== 'succeeded') throw new Error(`${op.type} ${op.state}: ${op.error}`);
    return op;
  };
  const out: Record<string, unknown> = { flavor: FLAVOR, image: IMAGE, machine: { cpus: os.cpus().length, memoryBytes: os.totalmem() }, repository: s3 ? 'a bucket on radosgw (one memstore OSD) on this machine' : 'a directory on the same filesystem as the data disk' };
  try {
    for (let i = 0; ; i++) {
      if ((await portal.listNodes({}).catch(() => ({ nodes: [] }))).nodes.some((n) => n.state === 'ready')) break;
      if (i > 300) throw new Error('the agent did not register');
      await new Promise((r) => setTimeout(r, 200));
    }
    const res = await portal.createInstance({ name: 'bbk-src', resources: shape });
    await wait(res.operation!.id);
    const cred = res.credentials!;
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE app');
    await conn.query('CREATE TABLE app.fill (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1100) NOT NULL)');
    const rows = Math.ceil(GB * 1024 * 1024);
    if (FLAVOR === 'mysql') await conn.query('SET SESSION cte_max_recursion_depth = 30000');
    // Half random-looking (SHA2), half repetitive: neither all compressible nor none.
    for (let done = 0; done < rows; done += 20_000) {
      const n = Math.min(20_000, rows - done);
      const from = FLAVOR === 'mysql' ? `(WITH RECURSIVE s (seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < ${n}) SELECT seq FROM s) AS q` : `app.seq_1_to_${n}`;
      await conn.query(`INSERT INTO app.fill (pad) SELECT CONCAT(REPEAT(SHA2(seq + ${done}, 256), 8), REPEAT('x', 512)) FROM ${from}`);
    }
    await conn.end();
    const data = path.join(node.disk, 'berth', res.instance!.id, 'data');
    out.dataBytes = dirBytes(data);
    console.log(`filled ${rows} rows; data dir ${((out.dataBytes as number) / 1e9).toFixed(2)} GB`);

    const b0 = Date.now();
    const b = await portal.createBackup({ instance: 'bbk-src', rateBytesPerSecond: 0, allowPrimary: false });
    await wait(b.operation!.id);
    const backupSeconds = (Date.now() - b0) / 1000;
    const row = await portal.getBackup({ id: b.backup!.id });
    const baseline = path.join(repo, 'baseline.tar.gz');
    const baselineId = newBackupId();
    const tar = `tar -C '${data}' --exclude='binlog.*' -cf - . | gzip -1`;
    const tarSeconds = s3 ? await timedS3(s3.repo, baselineId, tar, true) : timed(`${tar} > '${baseline}'`);
    const tarBytes = s3 ? (await s3.repo.checksum(baselineId, 'baseline.tar.gz')).bytes : fs.statSync(baseline).size;
    out.backup = { seconds: backupSeconds, storedBytes: row.storedBytes, tarGzipSeconds: tarSeconds, tarGzipBytes: tarBytes, ratio: tarSeconds / backupSeconds };
    console.log(`backup ${backupSeconds.toFixed(1)} s (${(row.storedBytes / 1e6).toFixed(0)} MB); tar | gzip -1 ${tarSeconds.toFixed(1)} s: ${(tarSeconds / backupSeconds).toFixed(2)}x the baseline's speed`);

    const r0 = Date.now();
    const r = await portal.restoreBackup({ backup: b.backup!.id, name: 'bbk-restored', resources: null, node: '', constraints: [] });
    await wait(r.operation!.id);
    const restoreSeconds = (Date.now() - r0) / 1000;
    const unpackDir = path.join(node.disk, 'baseline-unpack');
    fs.mkdirSync(unpackDir);
    const unpackSeconds = s3 ? await timedS3(s3.repo, baselineId, `gzip -dc | tar -C '${unpackDir}' -xf -`, false) : timed(`gzip -dc '${baseline}' | tar -C '${unpackDir}' -xf -`);
    out.restore = { seconds: restoreSeconds, unpackOnlySeconds: unpackSeconds, ratio: restoreSeconds / unpackSeconds };
    console.log(`restore ${restoreSeconds.toFixed(1)} s; gzip -dc | tar -x alone ${unpackSeconds.toFixed(1)} s (${(restoreSeconds / unpackSeconds).toFixed(2)}x)`);
    writeResult(`backup-${FLAVOR}${s3 ? '-s3' : ''}`, out);
    if (s3) await s3.repo.remove(baselineId);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    execFileSync('bash', ['-c', `docker ps -aq --filter label=berth.node=${node.name} | xargs -r docker rm -f >/dev/null`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirRepository, loadRepositoryKey, parseRepository } from '../src/backup/repository';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { expectStatus, FLAVORS, flavorArgs } from './harness/flavors';
import { expectOp } from './harness/ops';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import type { Address } from './harness/writer';
import * as grpc from '@grpc/grpc-js';

const run = promisify(execFile);
const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };

// Backups into a directory repository and restores out of it, end to end on real containers:
// a 1+1 cluster on two simulated hosts (127.0.0.41, .42), backed up from its replica while an
// acknowledged writer commits on the primary.
describe.each(FLAVORS)('backups ($flavor)', (f) => {
  let tc: TestCluster;
  let repoDir: string;
  let repo: DirRepository;
  const ctl = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT });
  const keys = () => [loadRepositoryKey(path.join(tc.dir, 'manager', 'backup.key'), false)];

  const credentialsOf = async (instance: string): Promise<Address> => {
    const c = await tc.portal.getCredentials({ instance });
    return { host: c.host, port: c.port, user: c.user, password: c.password };
  };
  const primaryAddress = async (): Promise<Address> => credentialsOf((await tc.portal.getClusterEndpoints({ name: 'shop' })).primary!.instanceId);

  beforeAll(async () => {
    // Every simulated host sees this directory at the same path (the NFS-share model).
    repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-repo-'));
    repo = new DirRepository(parseRepository(`dir:${repoDir}`));
    tc = new TestCluster(['--node-timeout', '5', '--failover-mysqld-down', '120', '--backup-repository', `dir:${repoDir}`, ...flavorArgs(f)]);
    await tc.start([
      { name: 'b1', host: '127.0.0.41', ports: '3541-3550', cpus: '8', memory: '8G' },
      { name: 'b2', host: '127.0.0.42', ports: '3551-3560', cpus: '8', memory: '8G' },
    ]);
    const res = await tc.portal.createCluster({ name: 'shop', resources: shape, replicas: 1, replication: 'semi-sync', semiSyncTimeoutMs: 5000, constraints: [], spreadOver: '', strategy: '', image: '', flavor: '' });
    await expectOp(tc, res.operation!.id, 'succeeded', 180_000);
  });

  afterAll(async () => {
    await tc?.stop();
    fs.rmSync(repoDir, { recursive: true, force: true });
  });

  let backupId = '';

  it('takes a backup from the replica while writes go on, and restores it as a new instance with every row acknowledged before the backup began', async () => {
    const writer = startAckedWriter('orders', primaryAddress);
    await writer.started;
    await waitUntil('some acknowledged writes', async () => writer.acked.length >= 200, 60_000, 50);
    const ackedBefore = writer.acked.map((a) => a.id);
    const t0 = Date.now();
    const res = await tc.portal.createBackup({ instance: 'shop', rateBytesPerSecond: 0, allowPrimary: false });
    backupId = res.backup!.id;
    expect(res.backup!.status).toBe('running');
    await expectOp(tc, res.operation!.id, 'succeeded', 180_000);
    const backupSeconds = (Date.now() - t0) / 1000;
    const b = await tc.portal.getBackup({ id: backupId });
    const members = (await tc.portal.getCluster({ name: 'shop' })).members;
    const replica = members.find((m) => m.role === 'replica')!;
    expect(b).toMatchObject({ status: 'complete', instance: 'shop-1', cluster: 'shop', flavor: f.flavor, sourceInstance: replica.instance!.id, method: f.flavor === 'mariadb' ? 'mariabackup' : 'clone' });
    expect(b.storedBytes).toBeGreaterThan(0);
    // Writes go on after the backup, and are not in it (they may be: rows acknowledged during it).
    await waitUntil('writes after the backup', async () => writer.acked.length >= ackedBefore.length + 100, 60_000, 50);
    await writer.stop();

    // The repository alone: the manifest authenticates with the key file and the object matches it.
    const m = (await repo.readManifest(keys(), backupId))!;
    expect(m.source.instanceId).toBe(replica.instance!.id);
    await repo.verify(m);

    const t1 = Date.now();
    const { stdout } = await ctl('restore', backupId, '--as', 'shop-restored', '--wait', '--json');
    const restoreSeconds = (Date.now() - t1) / 1000;
    const out = JSON.parse(stdout) as { instance: { id: string; state: string }; operation: { state: string } };
    expect(out.operation.state).toBe('succeeded');
    expect(out.instance.state).toBe('running');
    const addr = await credentialsOf('shop-restored');
    // Its own admin password (the restore's), not the source's.
    expect(addr.password).not.toBe((await credentialsOf('shop-1')).password);
    expect(await missingRows(addr, 'orders', ackedBefore)).toEqual([]);
    // A standalone instance, open for writes.
    const conn = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
    try {
      await conn.query('INSERT INTO w.orders VALUES (?, ?)', [1_000_000, 'after restore']);
      const [rows] = (await conn.query('SELECT COUNT(*) AS n FROM w.orders')) as unknown as [{ n: number }[]];
      console.log(`[${f.flavor}] backup of ${ackedBefore.length}+ rows: ${backupSeconds.toFixed(1)} s, ${(b.storedBytes / M).toFixed(1)} MB stored of ${(b.dataBytes / M).toFixed(1)} MB data; restore ${restoreSeconds.toFixed(1)} s (${rows[0]!.n} rows)`);
    } finally {
      await conn.end();
    }
    // `backup list` shows it.
    const list = JSON.parse((await ctl('backup', 'list', 'shop-1', '--json')).stdout) as { id: string; status: string }[];
    expect(list.map((x) => [x.id, x.status])).toContainEqual([backupId, 'complete']);
  });

  it('restores to a point in time: a dropped table comes back with every acknowledged row, and nothing after that point', async () => {
    const writer = startAckedWriter('ledger', primaryAddress);
    await writer.started;
    await waitUntil('acknowledged writes to the ledger', async () => writer.acked.length >= 300, 60_000, 50);
    await writer.stop();
    // Every ledger write is in an earlier second than `to`; the drop and what follows in a later one.
    const to = new Date(Math.floor((Date.now() + 1100) / 1000) * 1000);
    await waitUntil('a second past the point in time', async () => Date.now() >= to.getTime() + 1100, 10_000, 50);
    const conn = await mysql.createConnection({ ...(await primaryAddress()), connectTimeout: 5000 });
    try {
      await conn.query('DROP TABLE w.ledger');
      await conn.query('INSERT INTO w.orders VALUES (?, ?)', [2_000_000, 'after the drop']);
    } finally {
      await conn.end();
    }
    const when = to.toISOString().replace('T', ' ').replace('.000Z', '');
    const t0 = Date.now();
    const { stdout } = await ctl('restore', backupId, '--as', 'shop-before-drop', '--to', when, '--wait', '--json');
    const seconds = (Date.now() - t0) / 1000;
    const out = JSON.parse(stdout) as { instance: { state: string }; operation: { state: string; steps: { name: string; output: string }[] } };
    expect(out.operation.state).toBe('succeeded');
    const addr = await credentialsOf('shop-before-drop');
    expect(await missingRows(addr, 'ledger', writer.acked.map((a) => a.id))).toEqual([]);
    const c2 = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
    try {
      const [after] = (await c2.query('SELECT COUNT(*) AS n FROM w.orders WHERE id = 2000000')) as unknown as [{ n: number }[]];
      expect(Number(after[0]!.n)).toBe(0);
      const [n] = (await c2.query('SELECT COUNT(*) AS n FROM w.ledger')) as unknown as [{ n: number }[]];
      expect(Number(n[0]!.n)).toBe(writer.acked.length);
    } finally {
      await c2.end();
    }
    console.log(`[${f.flavor}] point-in-time restore to ${when} (${writer.acked.length} ledger rows after the backup): ${seconds.toFixed(1)} s`);
  });

  it('backs up a standalone instance (berthctl backup create --wait) and restores it', async () => {
    const res = await tc.portal.createInstance({ name: 'solo', resources: shape, image: '', node: '', constraints: [], cluster: '', antiAffinityGroup: '', spreadOver: '', strategy: '', flavor: '' });
    await expectOp(tc, res.operation!.id, 'succeeded', 120_000);
    const solo = await credentialsOf('solo');
    const conn = await mysql.createConnection({ ...solo, connectTimeout: 5000 });
    try {
      await conn.query('CREATE DATABASE s');
      await conn.query('CREATE TABLE s.t (id INT PRIMARY KEY)');
      await conn.query('INSERT INTO s.t VALUES (1), (2), (3)');
    } finally {
      await conn.end();
    }
    const { stdout } = await ctl('backup', 'create', 'solo', '--rate', '50M', '--wait', '--json');
    const b = (JSON.parse(stdout) as { backup: { id: string; status: string; sourceInstance: string } }).backup;
    expect(b.status).toBe('complete');
    expect(b.sourceInstance).toBe(res.instance!.id);
    await ctl('restore', b.id, '--as', 'solo-copy', '--wait');
    const copy = await credentialsOf('solo-copy');
    const c2 = await mysql.createConnection({ ...copy, connectTimeout: 5000 });
    try {
      const [rows] = (await c2.query('SELECT id FROM s.t ORDER BY id')) as unknown as [{ id: number }[]];
      expect(rows.map((r) => Number(r.id))).toEqual([1, 2, 3]);
    } finally {
      await c2.end();
    }
  });

  it('refuses to restore an object with a flipped byte, saying so, and leaves no instance behind', async () => {
    const file = repo.objectPath(backupId, 'data.enc');
    const bytes = fs.readFileSync(file);
    const at = bytes.length >> 1;
    bytes[at]! ^= 0x01;
    fs.writeFileSync(file, bytes);
    try {
      const res = await tc.portal.restoreBackup({ backup: backupId, name: 'shop-damaged', resources: null, node: '', constraints: [] });
      const op = await expectOp(tc, res.operation!.id, 'failed', 120_000);
      expect(op.error).toMatch(/object data\.enc does not match its manifest.*refusing to restore it/);
      await waitUntil('the failed restore to be gone', async () => !(await tc.portal.listInstances({})).instances.some((i) => i.name === 'shop-damaged'), 30_000);
    } finally {
      bytes[at]! ^= 0x01;
      fs.writeFileSync(file, bytes);
    }
    await repo.verify((await repo.readManifest(keys(), backupId))!);
  });

  it('validates at the edge: unknown ids, bad names, a taken name', async () => {
    await expectStatus(tc.portal.getBackup({ id: '../etc' }), grpc.status.INVALID_ARGUMENT, /not a backup id/);
    await expectStatus(tc.portal.getBackup({ id: 'b-000000000000' }), grpc.status.NOT_FOUND);
    await expectStatus(tc.portal.createBackup({ instance: 'nope', rateBytesPerSecond: 0, allowPrimary: false }), grpc.status.NOT_FOUND);
    await expectStatus(tc.portal.restoreBackup({ backup: backupId, name: 'Bad Name!', resources: null, node: '', constraints: [] }), grpc.status.INVALID_ARGUMENT);
    await expectStatus(tc.portal.restoreBackup({ backup: backupId, name: 'shop-1', resources: null, node: '', constraints: [] }), grpc.status.ALREADY_EXISTS, /never over a live one/);
  });

  it('a backup whose agent is killed mid-stream never lists as complete, and leaves no object', async () => {
    const members = (await tc.portal.getCluster({ name: 'shop' })).members;
    const replica = members.find((m) => m.role === 'replica')!.instance!;
    const agent = tc.agents.find((a) => a.node === replica.node)!;
    // Slow enough to be caught in the middle.
    const res = await tc.portal.createBackup({ instance: 'shop', rateBytesPerSecond: 256 * 1024, allowPrimary: false });
    const id = res.backup!.id;
    await waitUntil('the backup stream to be under way', async () => {
      const op = await tc.portal.getOperation({ id: res.operation!.id });
      return op.steps.find((s) => s.name === 'stream')?.state === 'running' && (op.progress?.bytesDone ?? 0) > 0;
    }, 120_000, 100);
    expect(fs.existsSync(repo.objectPath(id, 'data.enc.partial'))).toBe(true);
    await tc.killAgent(agent);
    try {
      const op = await expectOp(tc, res.operation!.id, 'failed', 120_000);
      expect(op.error).toMatch(/backup stream .*broke/);
      const b = await tc.portal.getBackup({ id });
      expect(b.status).toBe('failed');
      expect((await tc.portal.listBackups({ instance: '', limit: 0 })).backups.filter((x) => x.status === 'complete').map((x) => x.id)).not.toContain(id);
      const scan = await repo.scan(keys());
      expect(scan.complete.map((x) => x.id)).not.toContain(id);
      expect(fs.existsSync(repo.backupDir(id))).toBe(false);
    } finally {
      tc.startAgent(agent);
      await tc.agentListening(agent);
    }
  });

  it('delete removes the repository objects and the catalog entry', async () => {
    expect(fs.existsSync(repo.backupDir(backupId))).toBe(true);
    await ctl('backup', 'delete', backupId);
    expect(fs.existsSync(repo.backupDir(backupId))).toBe(false);
    await expectStatus(tc.portal.getBackup({ id: backupId }), grpc.status.NOT_FOUND);
    await expectStatus(tc.portal.restoreBackup({ backup: backupId, name: 'shop-gone', resources: null, node: '', constraints: [] }), grpc.status.NOT_FOUND);
  });
});

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRepositoryKey, type Repository } from '../src/backup/repository';
import { openRepository } from '../src/backup/open-repository';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import { expectOp } from './harness/ops';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { s3Spec, startS3Server, writeCredentialsFile, type S3Server } from './harness/s3-server';
import type { Address } from './harness/writer';

const run = promisify(execFile);
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };

// test/backup.test.ts's main case with an s3: repository on a real S3 server (Ceph's radosgw,
// scripts/s3-server.sh): a standalone instance backed up while an acknowledged writer commits,
// restored as a new instance, then to a point in time (binary logs archived to and replayed
// from S3); then a second manager with nothing but the key file and the repository finds the
// backup (catalog sync) and restores it. One standalone instance per flavor (no cluster) keeps
// the CI time small: the cluster paths are backend-independent and covered by backup.test.ts.
describe.each(FLAVORS)('backups in S3 ($flavor)', (f) => {
  let s3: S3Server;
  let tc: TestCluster;
  let repo: Repository;
  let spec = '';
  let credsDir = '';
  let credsFile = '';
  let backupId = '';
  let ackedBefore: number[] = [];
  const ctl = (t: TestCluster, ...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', t.managerAddress, ...args], { cwd: ROOT });
  const keyFile = () => path.join(tc.dir, 'manager', 'backup.key');
  const credentialsOf = async (t: TestCluster, instance: string): Promise<Address> => {
    const c = await t.portal.getCredentials({ instance });
    return { host: c.host, port: c.port, user: c.user, password: c.password };
  };

  beforeAll(async () => {
    s3 = startS3Server();
    spec = s3Spec(s3, `berth-it-${f.flavor}-${randomBytes(3).toString('hex')}`, 'fleet');
    credsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-s3-creds-'));
    credsFile = writeCredentialsFile(credsDir, s3);
    tc = new TestCluster(['--node-timeout', '5', '--backup-repository', spec, '--backup-s3-credentials-file', credsFile, ...flavorArgs(f)]);
    await tc.start([{ name: 's1', host: '127.0.0.82', ports: '3881-3890', cpus: '8', memory: '8G' }]);
    repo = openRepository(spec, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  });

  afterAll(async () => {
    await tc?.stop();
    if (credsDir) fs.rmSync(credsDir, { recursive: true, force: true });
  });

  it('backs up a standalone instance into S3 while writes go on, and restores it with every row acknowledged before the backup began', async () => {
    const res = await tc.portal.createInstance({ name: 'solo', resources: shape, image: '', node: '', constraints: [], cluster: '', antiAffinityGroup: '', spreadOver: '', strategy: '', flavor: '' });
    await expectOp(tc, res.operation!.id, 'succeeded', 120_000);
    const writer = startAckedWriter('orders', () => credentialsOf(tc, 'solo'));
    await writer.started;
    await waitUntil('some acknowledged writes', async () => writer.acked.length >= 200, 60_000, 50);
    ackedBefore = writer.acked.map((a) => a.id);
    const t0 = Date.now();
    const { stdout } = await ctl(tc, 'backup', 'create', 'solo', '--wait', '--json');
    const backupSeconds = (Date.now() - t0) / 1000;
    const b = (JSON.parse(stdout) as { backup: { id: string; status: string; repository: string; storedBytes: number } }).backup;
    backupId = b.id;
    expect(b.status).toBe('complete');
    expect(b.repository).toMatch(/^s3:\/\/berth-it-/);
    await writer.stop();
    // The secret is nowhere in what berth keeps or says: the catalog, the store's files, the
    // manager's and the agent's logs.
    expect(b.repository).not.toContain(s3.secretAccessKey);
    expect(filesHolding(tc.dir, s3.secretAccessKey)).toEqual([]);

    // The bucket alone: the manifest authenticates with the key file and the object matches it.
    const m = (await repo.readManifest([loadRepositoryKey(keyFile(), false)], backupId))!;
    expect(m.objects[0]!.storedBytes).toBe(Number(b.storedBytes));
    await repo.verify(m);

    const t1 = Date.now();
    const out = JSON.parse((await ctl(tc, 'restore', backupId, '--as', 'solo-restored', '--wait', '--json')).stdout) as { operation: { state: string } };
    expect(out.operation.state).toBe('succeeded');
    expect(await missingRows(await credentialsOf(tc, 'solo-restored'), 'orders', ackedBefore)).toEqual([]);
    console.log(`[${f.flavor}/s3] backup ${backupSeconds.toFixed(1)} s (${(Number(b.storedBytes) / 1024 ** 2).toFixed(1)} MB stored), restore ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  });

  it('restores to a point in time from binary logs archived to S3', async () => {
    const writer = startAckedWriter('ledger', () => credentialsOf(tc, 'solo'));
    await writer.started;
    await waitUntil('acknowledged writes to the ledger', async () => writer.acked.length >= 200, 60_000, 50);
    await writer.stop();
    const to = new Date(Math.floor((Date.now() + 1100) / 1000) * 1000);
    await waitUntil('a second past the point in time', async () => Date.now() >= to.getTime() + 1100, 10_000, 50);
    const conn = await mysql.createConnection({ ...(await credentialsOf(tc, 'solo')), connectTimeout: 5000 });
    try {
      await conn.query('DROP TABLE w.ledger');
      await conn.query('INSERT INTO w.orders VALUES (?, ?)', [2_000_000, 'after the drop']);
    } finally {
      await conn.end();
    }
    const when = to.toISOString().replace('T', ' ').replace('.000Z', '');
    const out = JSON.parse((await ctl(tc, 'restore', backupId, '--as', 'solo-before-drop', '--to', when, '--wait', '--json')).stdout) as { operation: { state: string } };
    expect(out.operation.state).toBe('succeeded');
    const addr = await credentialsOf(tc, 'solo-before-drop');
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
  });

  it('a new manager with only the key file and the bucket lists the backup (catalog sync) and restores it', async () => {
    const key = path.join(tc.dir, 'copied-backup.key');
    fs.copyFileSync(keyFile(), key);
    const fresh = new TestCluster(['--node-timeout', '5', '--backup-repository', spec, '--backup-s3-credentials-file', credsFile, '--backup-key-file', key, ...flavorArgs(f)]);
    try {
      await fresh.start([{ name: 's2', host: '127.0.0.83', ports: '3891-3899', cpus: '8', memory: '8G' }]);
      expect((await fresh.portal.listBackups({ instance: '', limit: 0 })).backups).toEqual([]);
      const sync = await fresh.portal.syncBackupCatalog({});
      expect(sync.added).toContain(backupId);
      const list = JSON.parse((await ctl(fresh, 'backup', 'list', '--json')).stdout) as { id: string; status: string }[];
      expect(list.map((x) => [x.id, x.status])).toContainEqual([backupId, 'complete']);
      await ctl(fresh, 'restore', backupId, '--as', 'solo-elsewhere', '--wait');
      expect(await missingRows(await credentialsOf(fresh, 'solo-elsewhere'), 'orders', ackedBefore)).toEqual([]);
      // Delete through the new manager: the objects go from the bucket.
      await ctl(fresh, 'backup', 'delete', backupId);
      expect(await repo.readManifest([loadRepositoryKey(key, false)], backupId)).toBeUndefined();
      expect((await repo.scan([loadRepositoryKey(key, false)])).incomplete).not.toContain(backupId);
    } finally {
      await fresh.stop();
    }
  });
});

// Files of the manager's state directory and the processes' logs that hold `secret` (as bytes).
function filesHolding(dir: string, secret: string): string[] {
  const files = [...fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => path.join(dir, f)), ...fs.readdirSync(path.join(dir, 'manager')).map((f) => path.join(dir, 'manager', f))];
  const needle = Buffer.from(secret);
  return files.filter((f) => fs.statSync(f).isFile() && fs.readFileSync(f).includes(needle));
}

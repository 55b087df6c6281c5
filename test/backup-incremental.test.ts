import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirRepository, loadRepositoryKey, parseRepository } from '../src/backup/repository';
import type { Backup__Output } from '../src/gen/berth/v1/Backup';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { expectStatus, FLAVORS, flavorArgs } from './harness/flavors';
import { expectOp } from './harness/ops';
import type { Address } from './harness/writer';

const run = promisify(execFile);
const G = 1024 ** 3;
const M = 1024 ** 2;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };
const NEVER = '0 0 1 1 *';
const OFTEN = '*/2 * * * * *';

// One transaction per row into w.<table>, each row's GTID recorded from the server that gave it
// (MariaDB @@last_gtid; MySQL the end of the server's own interval in gtid_executed: the
// instance has no other writer meanwhile).
async function writeTracked(addr: Address, flavor: string, table: string, n: number): Promise<string[]> {
  const conn = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
  try {
    await conn.query(`CREATE TABLE w.${table} (id INT PRIMARY KEY)`);
    const [[u]] = flavor === 'mysql' ? ((await conn.query('SELECT @@server_uuid AS u')) as unknown as [{ u: string }[]]) : [[{ u: '' }]];
    const gtids: string[] = [];
    for (let id = 1; id <= n; id++) {
      await conn.query(`INSERT INTO w.${table} VALUES (?)`, [id]);
      if (flavor === 'mariadb') {
        const [[r]] = (await conn.query('SELECT @@last_gtid AS g')) as unknown as [{ g: string }[]];
        gtids.push(r!.g);
      } else {
        const [[r]] = (await conn.query('SELECT @@global.gtid_executed AS g')) as unknown as [{ g: string }[]];
        const own = r!.g.replace(/\s+/g, '').split(',').find((x) => x.startsWith(u!.u))!;
        gtids.push(`${u!.u}:${own.split(':').pop()!.split('-').pop()}`);
      }
    }
    return gtids;
  } finally {
    await conn.end();
  }
}

async function idsIn(addr: Address, table: string): Promise<number[]> {
  const conn = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
  try {
    const [rows] = (await conn.query(`SELECT id FROM w.${table} ORDER BY id`)) as unknown as [{ id: number }[]];
    return rows.map((r) => Number(r.id));
  } finally {
    await conn.end();
  }
}

// Incremental backups (MariaDB) and their chains on real containers, one manager and two
// simulated hosts (127.0.0.141 for MariaDB, .142 for MySQL), one standalone instance per flavor
// shared by every case: a full and two incrementals under an acknowledged writer, the chain
// restored with every row acknowledged before the last incremental began, a drill that verifies
// the chain, a damaged middle incremental refused, deletes that would break a chain refused,
// and MySQL refusing --incremental.
describe('incremental backups', () => {
  let tc: TestCluster;
  let repoDir: string;
  let repo: DirRepository;
  const chain: Backup__Output[] = [];
  let ackedBeforeLast: number[] = [];
  const ctl = async (...args: string[]) => (await run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT })).stdout;
  const credentialsOf = async (instance: string): Promise<Address> => {
    const c = await tc.portal.getCredentials({ instance });
    return { host: c.host, port: c.port, user: c.user, password: c.password };
  };
  const create = async (name: string, flavor: string, node: string) => {
    const res = await tc.portal.createInstance({ name, resources: shape, image: '', node, constraints: [], cluster: '', antiAffinityGroup: '', spreadOver: '', strategy: '', flavor });
    await expectOp(tc, res.operation!.id, 'succeeded', 180_000);
  };
  const backup = async (instance: string, incremental: boolean): Promise<Backup__Output> => {
    const out = JSON.parse(await ctl('backup', 'create', instance, '--wait', '--json', ...(incremental ? ['--incremental'] : []))) as { backup: Backup__Output };
    expect(out.backup.status).toBe('complete');
    return out.backup;
  };

  beforeAll(async () => {
    repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-incr-repo-'));
    repo = new DirRepository(parseRepository(`dir:${repoDir}`));
    tc = new TestCluster(['--node-timeout', '5', '--backup-repository', `dir:${repoDir}`, '--backup-scheduler-interval', '1', ...flavorArgs(FLAVORS[0]!)]);
    await tc.start([
      { name: 'm1', host: '127.0.0.141', ports: '5601-5620', cpus: '8', memory: '8G' },
      { name: 'm2', host: '127.0.0.142', ports: '5621-5640', cpus: '8', memory: '8G' },
    ]);
    await Promise.all([create('orders', 'mariadb', tc.nodeName('m1')), create('ledger', 'mysql', tc.nodeName('m2'))]);
  }, 300_000);

  afterAll(async () => {
    await tc?.stop();
    if (repoDir) fs.rmSync(repoDir, { recursive: true, force: true });
  });

  it('a full and two incrementals under writes; the chain restores every row acknowledged before the last incremental began', async () => {
    const writer = startAckedWriter('orders', () => credentialsOf('orders'));
    await writer.started;
    const more = async (n: number) => {
      const want = writer.acked.length + n;
      await waitUntil(`${want} acknowledged writes`, async () => writer.acked.length >= want, 60_000, 50);
    };
    try {
      await more(200);
      chain.push(await backup('orders', false));
      await more(150);
      chain.push(await backup('orders', true));
      await more(150);
      ackedBeforeLast = writer.acked.map((a) => a.id);
      const t0 = Date.now();
      chain.push(await backup('orders', true));
      console.log(`[mariadb] second incremental: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await more(100);
    } finally {
      await writer.stop();
    }
    const [full, inc1, inc2] = chain as [Backup__Output, Backup__Output, Backup__Output];
    // The chain in the catalog: parents, and LSN ranges that meet.
    expect(full).toMatchObject({ parent: '', fromLsn: '0', method: 'mariabackup' });
    expect(inc1).toMatchObject({ parent: full.id, fromLsn: full.toLsn });
    expect(inc2).toMatchObject({ parent: inc1.id, fromLsn: inc1.toLsn });
    expect(BigInt(inc2.toLsn)).toBeGreaterThanOrEqual(BigInt(full.toLsn));
    // The same chain in the manifests, from the repository alone.
    const keys = [loadRepositoryKey(path.join(tc.dir, 'manager', 'backup.key'), false)];
    const m2 = await repo.readManifest(keys, inc2.id);
    expect(m2).toMatchObject({ parent: inc1.id, lsn: { from: inc1.toLsn, to: inc2.toLsn } });
    // berthctl backup list shows the link.
    expect(await ctl('backup', 'list', 'orders')).toContain(`mariabackup+${inc1.id}`);
    console.log(`[mariadb] stored: full ${(full.storedBytes / M).toFixed(2)} MB, incrementals ${(inc1.storedBytes / M).toFixed(2)} MB and ${(inc2.storedBytes / M).toFixed(2)} MB`);

    const t0 = Date.now();
    const out = JSON.parse(await ctl('restore', inc2.id, '--as', 'orders-chain', '--wait', '--json')) as { operation: { state: string } };
    expect(out.operation.state).toBe('succeeded');
    console.log(`[mariadb] restore of full + 2 incrementals: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const addr = await credentialsOf('orders-chain');
    expect(await missingRows(addr, 'orders', ackedBeforeLast)).toEqual([]);
    // The restored position is the last incremental's (a roll-forward starts there).
    expect(inc2.gtid).toMatch(/^0-\d+-\d+$/);
    expect((await tc.portal.listInstances({})).instances.find((i) => i.name === 'orders-chain')?.state).toBe('running');
    await ctl('instance', 'delete', 'orders-chain', '--wait');
  }, 600_000);

  it('a restore drill restores and verifies the incremental chain', async () => {
    const inc2 = chain[2]!;
    await ctl('backup', 'policy', 'set', 'instance:orders', '--schedule', NEVER, '--spread', '0', '--drill-schedule', OFTEN);
    try {
      const s = await waitUntil('a verified drill', async () => {
        const x = (JSON.parse(await ctl('backup', 'status', '--json')) as { target: string; lastVerifiedAt: string; lastDrillOutcome: string; lastDrillMessage: string; lastDrillRestoreSeconds: number; lastBackupId: string }[]).find((t) => t.target === 'instance:orders');
        return x?.lastVerifiedAt ? x : x?.lastDrillOutcome === 'failed' ? x : undefined;
      }, 180_000, 500);
      expect(s.lastDrillOutcome, s.lastDrillMessage).not.toBe('failed');
      expect(s.lastBackupId).toBe(inc2.id);
      console.log(`[mariadb] drill of the chain ending in ${inc2.id}: restore ${s.lastDrillRestoreSeconds.toFixed(1)} s; ${s.lastDrillMessage}`);
    } finally {
      await ctl('backup', 'policy', 'delete', 'instance:orders');
    }
    await waitUntil('the drill copy removed', async () => (await tc.portal.listInstances({})).instances.every((i) => !i.name.startsWith('drill-')) || undefined, 120_000, 500);
  }, 300_000);

  // Both flavors: a backup, then 40 single-row transactions with their GTIDs; a restore to the
  // 25th GTID has exactly rows 1-25. MariaDB restores the incremental chain, then the binlogs.
  for (const flavor of ['mariadb', 'mysql'] as const) {
    it(`restore --until-gtid (${flavor}): exactly the rows up to and including that transaction`, async () => {
      const instance = flavor === 'mariadb' ? 'orders' : 'ledger';
      const src = await credentialsOf(instance);
      // MySQL: the database first, so the backup holds at least one of the server's transactions.
      if (flavor === 'mysql') await mysql.createConnection({ ...src, connectTimeout: 5000 }).then(async (c) => (await c.query('CREATE DATABASE IF NOT EXISTS w'), await c.end()));
      const base = flavor === 'mariadb' ? chain[2]! : await backup('ledger', false);
      const gtids = await writeTracked(src, flavor, 'g', 40);
      const stop = gtids[24]!;
      // Refused at the edge: a form of the other flavor, a time as well, a GTID the backup holds.
      await expectStatus(tc.portal.restoreBackup({ backup: base.id, name: 'x-bad', node: '', constraints: [], to: '', untilGtid: flavor === 'mysql' ? '0-1-5' : `${'a'.repeat(8)}-aaaa-aaaa-aaaa-${'a'.repeat(12)}:5` }), grpc.status.INVALID_ARGUMENT, /is not one .* GTID/);
      await expectStatus(tc.portal.restoreBackup({ backup: base.id, name: 'x-bad', node: '', constraints: [], to: '2026-01-01 00:00:00', untilGtid: stop }), grpc.status.INVALID_ARGUMENT, /not both/);
      // A GTID the backup holds: MariaDB's catalog has the backup's position, so the edge refuses;
      // MySQL's CLONE LOCAL reports no set, so the agent refuses it against the restored data's
      // gtid_executed before replaying anything, and the restore leaves no instance.
      if (flavor === 'mariadb') {
        await expectStatus(tc.portal.restoreBackup({ backup: base.id, name: 'x-bad', node: '', constraints: [], to: '', untilGtid: base.gtid.replace(/-\d+$/, '-1') }), grpc.status.FAILED_PRECONDITION, /already holds/);
      } else {
        const res = await tc.portal.restoreBackup({ backup: base.id, name: 'x-bad', node: '', constraints: [], to: '', untilGtid: `${stop.split(':')[0]}:1` });
        const op = await expectOp(tc, res.operation!.id, 'failed', 180_000);
        expect(op.error).toMatch(/already holds GTID/);
        expect((await tc.portal.listInstances({})).instances.map((i) => i.name)).not.toContain('x-bad');
      }
      const t0 = Date.now();
      const out = JSON.parse(await ctl('restore', base.id, '--as', `${instance}-at-gtid`, '--until-gtid', stop, '--wait', '--json')) as { operation: { state: string } };
      expect(out.operation.state).toBe('succeeded');
      console.log(`[${flavor}] restore of ${base.id}${base.parent ? ' (an incremental chain)' : ''} to GTID ${stop}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const copy = await credentialsOf(`${instance}-at-gtid`);
      expect(await idsIn(copy, 'g')).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      if (flavor === 'mariadb') expect(await missingRows(copy, 'orders', ackedBeforeLast)).toEqual([]);
      await ctl('instance', 'delete', `${instance}-at-gtid`, '--wait');
    }, 300_000);
  }

  it('a damaged middle incremental: the restore of the chain is refused before anything is unpacked, and leaves no instance', async () => {
    const [, inc1, inc2] = chain as [Backup__Output, Backup__Output, Backup__Output];
    const file = repo.objectPath(inc1.id, 'data.enc');
    const original = fs.readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    fs.writeFileSync(file, flipped);
    try {
      const res = await tc.portal.restoreBackup({ backup: inc2.id, name: 'orders-bad', node: '', constraints: [], to: '' });
      const op = await expectOp(tc, res.operation!.id, 'failed', 120_000);
      expect(op.error).toMatch(new RegExp(`backup ${inc1.id}: object data.enc does not match its manifest .* refusing to restore it`));
      const names = (await tc.portal.listInstances({})).instances.map((i) => i.name);
      expect(names).not.toContain('orders-bad');
    } finally {
      fs.writeFileSync(file, original);
    }
  }, 180_000);

  it('refuses to delete a backup an incremental builds on; deleting the chain newest first works', async () => {
    const [full, inc1, inc2] = chain as [Backup__Output, Backup__Output, Backup__Output];
    await expectStatus(tc.portal.deleteBackup({ id: full.id }), grpc.status.FAILED_PRECONDITION, new RegExp(`parent of incremental backup ${inc1.id}`));
    await expectStatus(tc.portal.deleteBackup({ id: inc1.id }), grpc.status.FAILED_PRECONDITION, new RegExp(`parent of incremental backup ${inc2.id}`));
    // The chain is still whole and restorable in the catalog.
    expect((await tc.portal.getBackup({ id: full.id })).status).toBe('complete');
    // An incremental with no full backup to build on is refused at admission.
    await tc.portal.deleteBackup({ id: inc2.id });
    await tc.portal.deleteBackup({ id: inc1.id });
    await tc.portal.deleteBackup({ id: full.id });
    await expectStatus(tc.portal.createBackup({ instance: 'orders', incremental: true }), grpc.status.FAILED_PRECONDITION, /no complete backup to build an incremental on/);
    expect(fs.existsSync(path.join(repoDir, 'berth-backups', 'v1', full.id))).toBe(false);
  }, 120_000);

  it('MySQL refuses --incremental with INVALID_ARGUMENT', async () => {
    await expectStatus(tc.portal.createBackup({ instance: 'ledger', incremental: true }), grpc.status.INVALID_ARGUMENT, /only MariaDB backups can be incremental/);
    await expect(ctl('backup', 'create', 'ledger', '--incremental')).rejects.toThrow(/only MariaDB backups can be incremental/);
  });
});

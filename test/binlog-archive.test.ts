import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirRepository, loadRepositoryKey, parseRepository } from '../src/backup/repository';
import { contains, parseGtidSet } from '../src/mysql/gtid';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import { expectOp } from './harness/ops';
import { missingRows, startAckedWriter } from './harness/acked-writer';
import type { Address } from './harness/writer';

const run = promisify(execFile);
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };

// Continuous binlog archiving end to end on real containers (docs/backup.md): a 1+1 semi-sync
// cluster on a fleet of three simulated hosts (127.0.0.61-.63), its primary's binlogs streamed
// by an archiver on another host into a directory repository while an acknowledged writer
// commits; the primary is killed (docker kill), the cluster fails over, writes continue, and a
// restore to a point after the failover has every row acknowledged before that point.
describe.each(FLAVORS)('continuous binlog archiving ($flavor)', (f) => {
  let tc: TestCluster;
  let repoDir: string;
  let creds: { user: string; password: string };
  const ctl = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT });
  const primaryAddress = async (): Promise<Address> => {
    const ep = await tc.portal.getClusterEndpoints({ name: 'arch' });
    return { host: ep.primary!.host, port: ep.primary!.port, ...creds };
  };
  const status = () => tc.portal.getBinlogArchive({ cluster: 'arch' });
  const nodeOf = async (instanceId: string) => (await tc.portal.getCluster({ name: 'arch' })).members.find((m) => m.instance!.id === instanceId)!.instance!.node;

  beforeAll(async () => {
    repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-'));
    tc = new TestCluster(['--node-timeout', '5', '--failover-mysqld-down', '3', '--failover-probe-fail', '3', '--backup-repository', `dir:${repoDir}`, ...flavorArgs(f)]);
    await tc.start([
      { name: 'a1', host: '127.0.0.61', ports: '3661-3672', cpus: '8', memory: '8G' },
      { name: 'a2', host: '127.0.0.62', ports: '3673-3684', cpus: '8', memory: '8G' },
      { name: 'a3', host: '127.0.0.63', ports: '3685-3696', cpus: '8', memory: '8G' },
    ]);
    const res = await tc.portal.createCluster({ name: 'arch', resources: shape, replicas: 1, replication: 'semi-sync', semiSyncTimeoutMs: 5000, constraints: [], spreadOver: '', strategy: '', image: '', flavor: '' });
    creds = { user: res.credentials!.user, password: res.credentials!.password };
    await expectOp(tc, res.operation!.id, 'succeeded', 180_000);
  }, 240_000);

  afterAll(async () => {
    await tc?.stop();
    fs.rmSync(repoDir, { recursive: true, force: true });
  });

  it('archives off the primary host within seconds, follows a failover without a gap, and a restore past the failover has every acknowledged row', async () => {
    await ctl('backup', 'archive', 'enable', 'arch');
    const writer = startAckedWriter('t', primaryAddress);
    await writer.started;
    const first = await waitUntil('the archiver running with sealed pieces', async () => {
      const s = await status();
      return s.running && s.pieces > 0 ? s : undefined;
    }, 60_000, 200);
    const endpoints = await tc.portal.getClusterEndpoints({ name: 'arch' });
    const oldPrimary = endpoints.primary!;
    expect(first.node).not.toBe(await nodeOf(oldPrimary.instanceId));
    expect(first.sourceInstance).toBe(oldPrimary.instanceId);

    // A full backup (from the replica) the restore starts from.
    await waitUntil('writes before the backup', async () => writer.acked.length >= 100, 60_000, 50);
    const b = await tc.portal.createBackup({ instance: 'arch', rateBytesPerSecond: 0, allowPrimary: false });
    await expectOp(tc, b.operation!.id, 'succeeded', 180_000);

    // RPO: from a write's acknowledgement on the primary to its GTID received on the archiver's host.
    const rpo = await measureRpo(f.flavor, await primaryAddress(), async () => (await status()).receivedGtids);
    console.log(`[${f.flavor}] archive RPO over ${rpo.length} writes: max ${Math.max(...rpo).toFixed(2)} s, samples ${rpo.map((x) => x.toFixed(2)).join(' ')} (bounded by the 50 ms poll and the manager's 1 s poll of the agent)`);
    expect(Math.max(...rpo)).toBeLessThanOrEqual(5);

    // docker kill of the primary's container: the cluster fails over, the writer follows.
    const [c] = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.instance=${oldPrimary.instanceId}`, 'berth.role=mysqld'] }) });
    const killAt = Date.now();
    await docker.getContainer(c!.Id).kill();
    const ep = await waitUntil('a new primary', async () => {
      const e = await tc.portal.getClusterEndpoints({ name: 'arch' });
      return e.primary && e.primary.instanceId !== oldPrimary.instanceId ? e : undefined;
    }, 120_000, 250);
    await waitUntil('writes acknowledged by the new primary', async () => writer.acked.filter((a) => a.port === ep.primary!.port && a.at > killAt).length >= 100, 60_000, 100);
    const followed = await waitUntil('the archiver following the new primary', async () => {
      const s = await status();
      return s.sourceInstance === ep.primary!.instanceId && s.running ? s : undefined;
    }, 60_000, 250);
    expect(followed.node).not.toBe(await nodeOf(ep.primary!.instanceId));

    // The point in time: a whole second after the failover, with writes on both sides of it.
    const to = new Date(Math.floor((Date.now() + 1100) / 1000) * 1000);
    await waitUntil('writes past the point in time', async () => writer.acked.some((a) => a.at > to.getTime() + 1500), 30_000, 50);
    await writer.stop();
    const s = await status();
    expect(s.gap).toBe('');
    const when = to.toISOString().replace('T', ' ').replace('.000Z', '');
    const t0 = Date.now();
    const { stdout } = await ctl('restore', b.backup!.id, '--as', 'arch-pitr', '--to', when, '--wait', '--json');
    const seconds = (Date.now() - t0) / 1000;
    const out = JSON.parse(stdout) as { operation: { state: string; steps: { name: string; output: string }[] } };
    expect(out.operation.state).toBe('succeeded');
    const rolled = JSON.parse(out.operation.steps.find((x) => x.name === 'roll-forward')!.output) as { continuous: boolean; files: number };
    expect(rolled.continuous).toBe(true);
    const c2 = await tc.portal.getCredentials({ instance: 'arch-pitr' });
    const before = writer.acked.filter((a) => a.at < to.getTime());
    expect(before.some((a) => a.at > killAt && a.port === ep.primary!.port)).toBe(true);
    expect(await missingRows({ host: c2.host, port: c2.port, user: c2.user, password: c2.password }, 't', before.map((a) => a.id))).toEqual([]);
    console.log(`[${f.flavor}] restore to ${when} (${before.length} rows acknowledged before it, ${writer.acked.filter((a) => a.at > killAt && a.at < to.getTime()).length} after the failover) from ${rolled.files} archive pieces: ${seconds.toFixed(1)} s; archive: ${s.pieces} pieces, ${s.storedBytes} bytes`);

    // The archive is in the repository alone: a manifest per piece, authenticated, its chain recorded.
    const repo = new DirRepository(parseRepository(`dir:${repoDir}`));
    const scan = await repo.scan([loadRepositoryKey(path.join(tc.dir, 'manager', 'backup.key'), false)]);
    const pieces = scan.complete.filter((m) => m.binlog?.archive === 'arch');
    expect(pieces.length).toBeGreaterThanOrEqual(s.pieces);
    expect(new Set(pieces.map((m) => m.source.instanceId))).toEqual(new Set([oldPrimary.instanceId, ep.primary!.instanceId]));
  });
});

// Writes one row at a time on the primary, reads the GTID state its commit left, and waits for the
// archiver to have received it.
async function measureRpo(flavor: string, addr: Address, received: () => Promise<string>): Promise<number[]> {
  const conn = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
  const out: number[] = [];
  try {
    await conn.query('CREATE TABLE IF NOT EXISTS w.rpo (id INT PRIMARY KEY)');
    for (let i = 1; i <= 5; i++) {
      await conn.query('INSERT INTO w.rpo VALUES (?)', [i]);
      const acked = Date.now();
      const [rows] = (await conn.query(flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_executed AS g' : 'SELECT @@GLOBAL.gtid_binlog_pos AS g')) as unknown as [{ g: string }[]];
      const want = parseGtidSet(flavor as 'mysql', rows[0]!.g);
      await waitUntil('the write received by the archiver', async () => contains(parseGtidSet(flavor as 'mysql', await received()), want), 30_000, 50);
      out.push((Date.now() - acked) / 1000);
    }
  } finally {
    await conn.end();
  }
  return out;
}

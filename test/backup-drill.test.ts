import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import { expectOp } from './harness/ops';

const run = promisify(execFile);
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 1 * G, diskBytes: 4 * G };
const NEVER = '0 0 1 1 *';
const OFTEN = '*/2 * * * * *';

interface Notice {
  status: string;
  rule: string;
  subject: string;
  message: string;
}

// A webhook receiver on loopback: the alerts the manager sends.
class Receiver {
  notices: Notice[] = [];
  url = '';
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.notices.push((JSON.parse(body) as { alert: Notice }).alert);
      res.writeHead(200).end('ok');
    });
  });
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/alerts`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface Status {
  target: string;
  lastBackupId: string;
  completeBackups: number;
  lastDrillId: string;
  lastDrillOutcome: string;
  lastDrillMessage: string;
  lastDrillRestoreSeconds: number;
  lastVerifiedAt: string;
}

// Backup policies, the backup scheduler, retention and restore drills on real containers: one
// standalone instance per flavor (127.0.0.71 for MariaDB, .72 for MySQL) with a few tables; the
// scheduler takes its backups, a drill restores and verifies the latest, a flipped byte in the
// stored object makes the next drill fail and alert, retention keeps only what its rule allows.
describe.each(FLAVORS.map((f, i) => ({ ...f, host: `127.0.0.7${i + 1}`, ports: i === 0 ? '3771-3785' : '3786-3799' })))('backup policies and drills ($flavor)', (f) => {
  let tc: TestCluster;
  let repoDir: string;
  const receiver = new Receiver();
  const ctl = async (...args: string[]) => (await run(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), '--manager', tc.managerAddress, ...args], { cwd: ROOT })).stdout;
  const status = async (): Promise<Status> => (JSON.parse(await ctl('backup', 'status', '--json')) as Status[]).find((t) => t.target === 'instance:orders')!;
  const api = async (url: string) => (await (await fetch(`${tc.adminUrl}${url}`)).json()) as { items: any[] };
  const setPolicy = (schedule: string, drills: string, keepFull = 0, pitr = false) =>
    ctl('backup', 'policy', 'set', 'instance:orders', '--schedule', schedule, '--spread', '0', '--keep-full', String(keepFull), ...(drills ? ['--drill-schedule', drills] : []), ...(pitr ? ['--drill-point-in-time'] : []), '--json');
  const backups = async () => (await tc.portal.listBackups({ instance: 'orders', limit: 1000 })).backups;
  const noDrillCopies = async () => (await tc.portal.listInstances({})).instances.every((i) => !i.name.startsWith('drill-'));

  beforeAll(async () => {
    await receiver.start();
    repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-drill-repo-'));
    tc = new TestCluster(['--node-timeout', '5', '--backup-repository', `dir:${repoDir}`, '--backup-scheduler-interval', '1', '--alert-interval', '1', '--alert-webhook', receiver.url, ...flavorArgs(f)]);
    await tc.start([{ name: 'd1', host: f.host, ports: f.ports, cpus: '8', memory: '8G' }]);
    const res = await tc.portal.createInstance({ name: 'orders', resources: shape, image: '', node: '', constraints: [], cluster: '', antiAffinityGroup: '', spreadOver: '', strategy: '', flavor: '' });
    await expectOp(tc, res.operation!.id, 'succeeded', 180_000);
    const c = await tc.portal.getCredentials({ instance: 'orders' });
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 });
    try {
      await conn.query('CREATE DATABASE app');
      await conn.query('CREATE TABLE app.items (id INT PRIMARY KEY, v VARCHAR(64))');
      await conn.query('CREATE TABLE app.notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT)');
      await conn.query('CREATE TABLE app.empty_one (id INT PRIMARY KEY)');
      for (let i = 0; i < 200; i += 50) await conn.query('INSERT INTO app.items VALUES ?', [Array.from({ length: 50 }, (_, j) => [i + j, `item ${i + j}`])]);
      await conn.query('INSERT INTO app.notes (body) VALUES ?', [Array.from({ length: 30 }, (_, j) => [`note ${j} `.repeat(20)])]);
    } finally {
      await conn.end();
    }
  }, 240_000);

  afterAll(async () => {
    await tc?.stop();
    await receiver.stop();
    if (repoDir) fs.rmSync(repoDir, { recursive: true, force: true });
  });

  it('a policy due now: the scheduler takes a backup, a drill restores and verifies it, status shows it verified with its restore time', async () => {
    const policy = JSON.parse(await setPolicy(OFTEN, '')) as { scope: string; name: string; schedule: string };
    expect(policy).toMatchObject({ scope: 'instance', name: 'orders', schedule: OFTEN });
    const first = await waitUntil('a backup taken by the scheduler', async () => (await backups()).find((b) => b.status === 'complete'), 120_000, 500);
    // Backups stop; drills start.
    await setPolicy(NEVER, OFTEN);
    const s = await waitUntil('a verified drill', async () => {
      const x = await status();
      return x.lastVerifiedAt ? x : undefined;
    }, 180_000, 500);
    console.log(`[${f.flavor}] drill of ${s.lastBackupId}: restore ${s.lastDrillRestoreSeconds.toFixed(1)} s; ${s.lastDrillMessage}`);
    expect(s.lastDrillOutcome === 'verified' || s.lastDrillOutcome === 'running').toBe(true);
    expect(s.lastDrillRestoreSeconds).toBeGreaterThan(0);
    expect(s.completeBackups).toBeGreaterThanOrEqual(1);
    expect(first.id).toMatch(/^b-/);
    // Four tables opened (app's three), the sample equals the source at the backup's GTID set.
    expect(s.lastDrillMessage).toMatch(/^3 tables passed CHECK TABLE; 3 sampled tables equal to the source/);
    // The drill's copy is gone; the HTTP view and the metrics say the same.
    await setPolicy(NEVER, '');
    await waitUntil('no drill running, its copy deleted', async () => (await status()).lastDrillOutcome !== 'running' && (await noDrillCopies()), 120_000, 500);
    const http = (await api('/v1/backups/status')).items.find((t) => t.target === 'instance:orders');
    expect(http.lastVerifiedAt).toBeTruthy();
    expect((await api('/v1/backup-policies')).items).toEqual([expect.objectContaining({ scope: 'instance', name: 'orders', schedule: NEVER })]);
    const metrics = await (await fetch(`${tc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/berth_backup_drill_ok\{target="instance:orders"\} 1/);
    expect(metrics).toMatch(/berth_backup_last_verified_timestamp_seconds\{target="instance:orders"\} [1-9]/);
  }, 420_000);

  it('a flipped byte in the stored object: the next drill fails and backup_drill_failed fires at the webhook', async () => {
    const latest = (await backups()).find((b) => b.status === 'complete')!;
    const object = path.join(repoDir, 'berth-backups', 'v1', latest.id, 'data.enc');
    const fd = fs.openSync(object, 'r+');
    try {
      const at = Math.floor(fs.fstatSync(fd).size / 2);
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0x01;
      fs.writeSync(fd, b, 0, 1, at);
    } finally {
      fs.closeSync(fd);
    }
    const before = (await status()).lastDrillId;
    await setPolicy(NEVER, OFTEN);
    const s = await waitUntil('a failed drill', async () => {
      const x = await status();
      return x.lastDrillId !== before && x.lastDrillOutcome === 'failed' ? x : undefined;
    }, 180_000, 500);
    await setPolicy(NEVER, '');
    expect(s.lastDrillMessage).toMatch(/does not match its manifest/);
    await waitUntil('backup_drill_failed at the webhook', async () => receiver.notices.some((n) => n.rule === 'backup_drill_failed' && n.subject === 'instance:orders' && n.status === 'firing'), 30_000);
    expect((await api('/v1/alerts?rule=backup_drill_failed')).items.map((a) => a.subject)).toContain('instance:orders');
    await waitUntil('no drill copy left', noDrillCopies, 60_000);
  }, 300_000);

  it('retention deletes only what its rule allows: the newest two complete backups stay, the others go from the catalog and the repository', async () => {
    const seen = new Map<string, string>();
    const note = async () => {
      for (const b of await backups()) if (b.status === 'complete') seen.set(b.id, b.completedAt);
      return seen.size;
    };
    await setPolicy(OFTEN, '', 2);
    await waitUntil('four complete backups seen', async () => (await note()) >= 4, 180_000, 300);
    await setPolicy(NEVER, '', 2);
    await waitUntil('no backup running', async () => (await backups()).every((b) => b.status !== 'running'), 60_000, 300);
    await note();
    const newestTwo = [...seen.entries()].sort((a, b) => b[1].localeCompare(a[1])).slice(0, 2).map(([id]) => id);
    // Converged: the two newest complete, every other row gone (a delete in progress shows as
    // `deleting` until its objects are removed).
    await waitUntil('retention converged', async () => {
      const rows = (await backups()).filter((b) => b.status !== 'failed');
      return rows.length === 2 && rows.every((b) => b.status === 'complete' && newestTwo.includes(b.id));
    }, 60_000, 300);
    for (const id of seen.keys()) {
      const kept = newestTwo.includes(id);
      expect(fs.existsSync(path.join(repoDir, 'berth-backups', 'v1', id, 'manifest.json')), `${id} kept=${kept}`).toBe(kept);
    }
  }, 300_000);

  it('a drill rolled forward to a random point after the backup: the binary logs replayed, the copy verified and removed', async () => {
    const c = await tc.portal.getCredentials({ instance: 'orders' });
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 });
    try {
      await conn.query('INSERT INTO app.items VALUES ?', [Array.from({ length: 50 }, (_, j) => [1000 + j, `after ${j}`])]);
    } finally {
      await conn.end();
    }
    // A second exists between the latest backup's completion and now.
    const latest = (await backups()).find((b) => b.status === 'complete')!;
    await waitUntil('3 s after the backup', async () => Date.now() > Date.parse(latest.completedAt) + 3500, 10_000, 200);
    const before = (await status()).lastDrillId;
    const p = JSON.parse(await setPolicy(NEVER, OFTEN, 2, true)) as { drillPointInTime: boolean };
    expect(p.drillPointInTime).toBe(true);
    const s = await waitUntil('a point-in-time drill ended', async () => {
      const x = await status();
      return x.lastDrillId !== before && x.lastDrillOutcome !== 'running' && x.lastDrillOutcome ? x : undefined;
    }, 180_000, 500);
    await setPolicy(NEVER, '', 2);
    console.log(`[${f.flavor}] point-in-time drill: restore ${s.lastDrillRestoreSeconds.toFixed(1)} s; ${s.lastDrillMessage}`);
    expect(s.lastDrillOutcome).toBe('verified');
    expect(s.lastDrillMessage).toMatch(/rolled forward to \d{4}-\d{2}-\d{2}T/);
    await waitUntil('no drill copy left', noDrillCopies, 60_000);
  }, 300_000);
});

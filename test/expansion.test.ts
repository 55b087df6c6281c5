import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitUntil } from './harness/cluster';

const M = 1024 ** 2;
const IMAGE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';

interface Expansion {
  instanceId: string;
  trigger: string;
  outcome: string;
  reason: string;
  detail: string;
  operationId: string;
  change: { diskBytes?: number };
}

// Real small filesystems: node a's data disk is a 512M ext4 loop mount, b's a 2G one.
describe('automatic expansion on loop-mounted disks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-expand-'));
  const mounts: string[] = [];
  let cluster: TestCluster;

  const loopDisk = (name: string, size: string) => {
    const img = path.join(dir, `${name}.img`);
    const mnt = path.join(dir, name);
    fs.mkdirSync(mnt);
    execFileSync('truncate', ['-s', size, img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img]);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
    mounts.push(mnt);
    return mnt;
  };

  beforeAll(async () => {
    const a = loopDisk('a', '512M');
    const b = loopDisk('b', '2G');
    cluster = new TestCluster(['--node-timeout', '5', '--image', IMAGE, '--auto-expand', 'on', '--auto-expand-interval', '1', '--expand-cooldown', '1', '--expand-disk-pct', '80', '--disk-pressure-free-pct', '5']);
    const fast = ['--usage-interval', '1', '--disk-usage-interval', '1'];
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: '3891-3895', cpus: '2', memory: '2G', diskPaths: [a], args: fast },
      { name: 'b', host: '127.0.0.2', ports: '3896-3899', cpus: '2', memory: '2G', diskPaths: [b], args: fast },
    ]);
  });

  afterAll(async () => {
    await cluster?.stop();
    for (const m of mounts) {
      try {
        execFileSync('umount', [m]);
      } catch {
        // not mounted
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const expansions = async (): Promise<Expansion[]> => ((await (await fetch(`${cluster.adminUrl}/v1/expansions`)).json()) as { items: Expansion[] }).items;

  it('grows the disk reservation in place while the disk has room, migrates when it has not; no data lost, mysqld never crashed', async () => {
    const c = await cluster.portal.createInstance({ name: 'grower', resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 256 * M }, node: cluster.nodeName('a') });
    expect((await cluster.portal.waitOperation({ id: c.operation!.id, timeoutMs: 150_000 }, 160_000)).state).toBe('succeeded');
    const id = c.instance!.id;
    const cred = await cluster.portal.getCredentials({ instance: 'grower' });
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE fill');
    await conn.query('CREATE TABLE fill.t (id INT AUTO_INCREMENT PRIMARY KEY, pad LONGTEXT)');
    let rows = 0;
    // Fill until `done` says the expansion happened.
    const fillUntil = async (what: string, done: () => Promise<boolean>) => {
      await waitUntil(what, async () => {
        if (await done()) return true;
        // 512K a row (and as much binlog), paced: usage is measured every second and reported
        // with the next heartbeat, so a faster fill would run ahead of every decision.
        await conn.query("INSERT INTO fill.t (pad) VALUES (REPEAT(MD5(RAND()), 16384))");
        rows++;
        return false;
      }, 300_000, 100);
    };

    await fillUntil('an in-place disk expansion', async () => (await expansions()).some((e) => e.instanceId === id && e.outcome === 'acted'));
    const first = (await expansions()).find((e) => e.instanceId === id && e.outcome === 'acted')!;
    expect(first.trigger).toBe('disk');
    expect(first.reason).toMatch(/over 80%/);
    expect(first.change.diskBytes).toBe(384 * M);
    await waitUntil('the resize to finish', async () => (await cluster.portal.getOperation({ id: first.operationId })).state === 'succeeded', 60_000);
    let i = await cluster.portal.getInstance({ instance: 'grower' });
    expect(i.node).toBe(cluster.nodeName('a'));
    expect(i.resources!.diskBytes).toBe(384 * M);
    expect((await cluster.portal.getOperation({ id: first.operationId })).type).toBe('resize');

    // 576M does not fit on a 512M disk: the next expansion migrates to b.
    await fillUntil('a migrating expansion', async () => (await expansions()).some((e) => e.instanceId === id && e.outcome === 'acted' && e.operationId !== first.operationId));
    await conn.end().catch(() => undefined);
    const second = (await expansions()).find((e) => e.instanceId === id && e.outcome === 'acted' && e.operationId !== first.operationId)!;
    expect(second.change.diskBytes).toBe(576 * M);
    const op = await waitUntil('the migration to end', async () => {
      const o = await cluster.portal.getOperation({ id: second.operationId });
      return o.state === 'running' || o.state === 'rolling_back' ? undefined : o;
    }, 300_000, 500);
    expect(op.type).toBe('migrate');
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    i = await cluster.portal.getInstance({ instance: 'grower' });
    expect(i.node).toBe(cluster.nodeName('b'));
    expect(i.resources!.diskBytes).toBe(576 * M);

    const after = await cluster.portal.getCredentials({ instance: 'grower' });
    const c2 = await mysql.createConnection({ host: after.host, port: after.port, user: after.user, password: after.password });
    const [[{ n }]] = (await c2.query('SELECT COUNT(*) AS n FROM fill.t')) as unknown as [[{ n: number }]];
    await c2.end();
    expect(Number(n)).toBe(rows);
    // mysqld never crashed: the error logs of both sides have no crash or "disk full".
    for (const m of mounts) {
      const log = path.join(m, 'berth', id, 'log', 'error.log');
      if (fs.existsSync(log)) expect(fs.readFileSync(log, 'utf8')).not.toMatch(/got signal|disk full|No space left/i);
    }
  }, 600_000);

  it('disk pressure: a data disk whose real free space falls under the threshold has its instances moved off', async () => {
    const c = await cluster.portal.createInstance({ name: 'pressed', resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 128 * M }, node: cluster.nodeName('a') });
    expect((await cluster.portal.waitOperation({ id: c.operation!.id, timeoutMs: 150_000 }, 160_000)).state).toBe('succeeded');
    const id = c.instance!.id;
    const cred = await cluster.portal.getCredentials({ instance: 'pressed' });
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE keep');
    await conn.query('CREATE TABLE keep.t (v INT)');
    await conn.query('INSERT INTO keep.t VALUES (42)');
    await conn.end();
    // Something berth does not account for fills the disk to under 5% free.
    const st = fs.statfsSync(mounts[0]!);
    const filler = path.join(mounts[0]!, 'filler.bin');
    execFileSync('fallocate', ['-l', String(st.bavail * st.bsize - Math.floor(0.03 * st.blocks * st.bsize)), filler]);
    try {
      const d = await waitUntil('a disk-pressure decision', async () => (await expansions()).find((e) => e.instanceId === id && e.trigger === 'disk-pressure' && e.outcome === 'acted'), 60_000);
      expect(d.reason).toMatch(/under 5%/);
      const op = await waitUntil('the migration to end', async () => {
        const o = await cluster.portal.getOperation({ id: d.operationId });
        return o.state === 'running' || o.state === 'rolling_back' ? undefined : o;
      }, 300_000, 500);
      expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    } finally {
      fs.rmSync(filler, { force: true });
    }
    const i = await cluster.portal.getInstance({ instance: 'pressed' });
    expect(i.node).toBe(cluster.nodeName('b'));
    const after = await cluster.portal.getCredentials({ instance: 'pressed' });
    const c2 = await mysql.createConnection({ host: after.host, port: after.port, user: after.user, password: after.password });
    const [rows] = await c2.query('SELECT v FROM keep.t');
    await c2.end();
    expect(rows).toEqual([{ v: 42 }]);
  }, 600_000);
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trashDir } from '../agent/instance/datadir';
import { TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';

const M = 1024 ** 2;

interface Expansion {
  instanceId: string;
  trigger: string;
  outcome: string;
  reason: string;
  detail: string;
  operationId: string;
  change: { diskBytes?: number };
}

// Real small filesystems: node a's data disk is a small ext4 loop mount, b's a bigger one. Both
// flavors, one after the other on the same ports. MySQL 9.7 with berth's my.cnf needs about 560M
// of memory at rest (performance_schema alone ~280M; at 512M the kernel kills it under the fill),
// so its instances get 1G. The disks are the same for both: the redo log is at most an eighth of
// the disk reservation (it used to be half of MySQL's buffer pool, 256M at 1G, which filled a
// fresh 384M reservation past 80% before any row), so a fresh data directory takes about half
// of a 256M reservation or less on both (MySQL: ~105M beside its redo log once started). Growth
// is by half, rounded up to 64M: 256M -> 384M (fits a's 512M disk) -> 576M (does not: migrates
// to b). MySQL's "pressed" gets 192M: at 128M its fresh data directory (~120M with 16M of redo)
// would be over 80% already and grow in place before the test presses the disk.
const SIZES = {
  mariadb: { memory: 512 * M, diskA: '512M', diskB: '2G', grower: 256 * M, first: 384 * M, second: 576 * M, pressed: 128 * M },
  mysql: { memory: 1024 * M, diskA: '512M', diskB: '2G', grower: 256 * M, first: 384 * M, second: 576 * M, pressed: 192 * M },
};

describe.each(FLAVORS)('automatic expansion on loop-mounted disks ($flavor)', (f) => {
  const z = SIZES[f.flavor];
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
    const a = loopDisk('a', z.diskA);
    const b = loopDisk('b', z.diskB);
    cluster = new TestCluster(['--node-timeout', '5', ...flavorArgs(f), '--auto-expand', 'on', '--auto-expand-interval', '1', '--expand-cooldown', '1', '--expand-disk-pct', '80', '--disk-pressure-free-pct', '5']);
    const fast = ['--usage-interval', '1', '--disk-usage-interval', '1'];
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: '3891-3895', cpus: '2', memory: '4G', diskPaths: [a], args: fast },
      { name: 'b', host: '127.0.0.2', ports: '3896-3899', cpus: '2', memory: '4G', diskPaths: [b], args: fast },
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

  const trashedOn = (disk: string, id: string) => {
    const t = trashDir(disk);
    return fs.existsSync(t) ? fs.readdirSync(t).filter((e) => e.startsWith(`${id}-`)) : [];
  };

  const expansions = async (): Promise<Expansion[]> => ((await (await fetch(`${cluster.adminUrl}/v1/expansions`)).json()) as { items: Expansion[] }).items;

  it('grows the disk reservation in place while the disk has room, migrates when it has not; no data lost, mysqld never crashed', async () => {
    const c = await cluster.portal.createInstance({ name: 'grower', resources: { cpuMillis: 500, memoryBytes: z.memory, diskBytes: z.grower }, node: cluster.nodeName('a') });
    expect((await cluster.portal.waitOperation({ id: c.operation!.id, timeoutMs: 150_000 }, 160_000)).state).toBe('succeeded');
    const id = c.instance!.id;
    const cred = await cluster.portal.getCredentials({ instance: 'grower' });
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    await conn.query('CREATE DATABASE fill');
    await conn.query('CREATE TABLE fill.t (id INT AUTO_INCREMENT PRIMARY KEY, pad LONGTEXT)');
    let rows = 0;
    // Fill until `done` says the expansion happened.
    const fillUntil = async (what: string, done: () => Promise<boolean>) => {
      const shown = async (err: Error) => new Error(`${err.message}\nrows ${rows}; decisions ${JSON.stringify((await expansions()).map((e) => [e.trigger, e.outcome, e.reason, e.detail]))}\n${cluster.logs()}`);
      await waitUntil(what, async () => {
        if (await done()) return true;
        // 1M a row (and as much binlog), paced: usage is measured every second and reported
        // with the next heartbeat (2 s), so a faster fill would run ahead of every decision. At
        // about 18M/s the lag lets the data overshoot a threshold by at most ~70M, which a's
        // disk holds at both steps (it is 512M; the migration starts from ~380M at most).
        // SHA2, not MD5: MySQL 9.7 has no MD5() (it answers "No database selected").
        await conn.query('INSERT INTO fill.t (pad) VALUES (REPEAT(SHA2(RAND(), 256), 16384))');
        rows++;
        return false;
      }, 300_000, 100).catch(async (err: Error) => Promise.reject(await shown(err)));
    };

    await fillUntil('an in-place disk expansion', async () => (await expansions()).some((e) => e.instanceId === id && e.outcome === 'acted'));
    const first = (await expansions()).find((e) => e.instanceId === id && e.outcome === 'acted')!;
    expect(first.trigger).toBe('disk');
    expect(first.reason).toMatch(/over 80%/);
    expect(first.change.diskBytes).toBe(z.first);
    await waitUntil('the resize to finish', async () => (await cluster.portal.getOperation({ id: first.operationId })).state === 'succeeded', 60_000);
    let i = await cluster.portal.getInstance({ instance: 'grower' });
    expect(i.node).toBe(cluster.nodeName('a'));
    expect(i.resources!.diskBytes).toBe(z.first);
    expect((await cluster.portal.getOperation({ id: first.operationId })).type).toBe('resize');

    // The second step does not fit on a's disk: the next expansion migrates to b.
    await fillUntil('a migrating expansion', async () => (await expansions()).some((e) => e.instanceId === id && e.outcome === 'acted' && e.operationId !== first.operationId));
    await conn.end().catch(() => undefined);
    const second = (await expansions()).find((e) => e.instanceId === id && e.outcome === 'acted' && e.operationId !== first.operationId)!;
    expect(second.change.diskBytes).toBe(z.second);
    const op = await waitUntil('the migration to end', async () => {
      const o = await cluster.portal.getOperation({ id: second.operationId });
      return o.state === 'running' || o.state === 'rolling_back' ? undefined : o;
    }, 300_000, 500);
    expect(op.type).toBe('migrate');
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    i = await cluster.portal.getInstance({ instance: 'grower' });
    expect(i.node).toBe(cluster.nodeName('b'));
    expect(i.resources!.diskBytes).toBe(z.second);

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
    // The old source on a is gone for good, not kept in a's trash: a trashed copy would hold
    // the space the move was meant to free.
    expect(trashedOn(mounts[0]!, id)).toEqual([]);
    expect(fs.existsSync(path.join(mounts[0]!, 'berth', id))).toBe(false);
  }, 600_000);

  it('disk pressure: a data disk whose real free space falls under the threshold has its instances moved off', async () => {
    const c = await cluster.portal.createInstance({ name: 'pressed', resources: { cpuMillis: 500, memoryBytes: z.memory, diskBytes: z.pressed }, node: cluster.nodeName('a') });
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
    expect(trashedOn(mounts[0]!, id)).toEqual([]);
  }, 600_000);
});

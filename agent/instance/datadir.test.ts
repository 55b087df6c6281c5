import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discardData, initCommand, isInitialized, prepareDirs, removeInstanceFiles, writeMyCnf } from './datadir';
import { layoutFor } from './layout';

describe('data directory', () => {
  it('lays out the directories and my.cnf, knows when it is initialized, and removes it from any disk', async () => {
    const disks = [fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dd1-')), fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dd2-'))];
    const layout = layoutFor(disks[1]!, 'i-0123456789');
    await prepareDirs(layout);
    expect(fs.readdirSync(layout.root).sort()).toEqual(['conf', 'data', 'log', 'run', 'tmp']);
    await writeMyCnf(layout, { flavor: 'mariadb', instanceId: 'i-0123456789', serverId: 3, bindAddress: '127.0.0.5', port: 3307, memoryBytes: 1024 ** 3 });
    expect(fs.readFileSync(layout.mycnf, 'utf8')).toMatch(/^server-id = 3$/m);

    expect(await isInitialized(layout)).toBe(false);
    fs.mkdirSync(path.join(layout.dirs.data, 'mysql'));
    expect(await isInitialized(layout)).toBe(true);
    await discardData(layout);
    expect(await isInitialized(layout)).toBe(false);

    expect(await removeInstanceFiles(disks, 'i-0123456789')).toHaveLength(1);
    expect(fs.existsSync(layout.root)).toBe(false);
    expect(await removeInstanceFiles(disks, 'i-0123456789')).toEqual([]);
    for (const d of disks) fs.rmSync(d, { recursive: true });
  });

  it('initializes through the flavor, after handing the writable directories to mysql', () => {
    const [sh, c, script] = initCommand('mariadb');
    expect([sh, c]).toEqual(['sh', '-c']);
    expect(script).toMatch(/^chown -R mysql:mysql \/var\/lib\/mysql \/var\/log\/berth \/var\/tmp\/berth \/run\/berth && mariadb-install-db /);
    expect(initCommand('mysql')[2]).toContain('--initialize-insecure');
  });
});

describe('writeMyCnf for a Galera member', () => {
  it("lets the container's mysql user traverse conf: the state transfer scripts read my.cnf as that user", async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dd3-'));
    const layout = layoutFor(disk, 'i-0123456789');
    await prepareDirs(layout);
    const base = { flavor: 'mariadb' as const, instanceId: 'i-0123456789', serverId: 3, bindAddress: '127.0.0.5', port: 3307, memoryBytes: 1024 ** 3 };
    await writeMyCnf(layout, base);
    expect(fs.statSync(layout.dirs.conf).mode & 0o777).toBe(0o750);
    const galera = { clusterName: 'j', address: '127.0.0.5:4307', peers: ['127.0.0.5:4307'], istAddress: '127.0.0.5:5307', sstAddress: '127.0.0.5:6307', incomingAddress: '127.0.0.5:3307', bootstrap: false, sstUser: 'berth_repl', sstPassword: 'pw-12345678', gtidDomain: 3 };
    await writeMyCnf(layout, { ...base, replica: true, group: { groupName: '', localAddress: '', seeds: [], allowlist: [], memberWeight: 50, consistency: '', autorejoinTries: 0, galera } });
    expect(fs.statSync(layout.dirs.conf).mode & 0o777).toBe(0o751);
    expect(fs.statSync(layout.mycnf).mode & 0o777).toBe(0o644);
    fs.rmSync(disk, { recursive: true, force: true });
  });
});

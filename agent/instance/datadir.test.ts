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

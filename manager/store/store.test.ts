import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate } from './db';
import { Store } from './index';

const G = 1024 ** 3;

function withNode(store: Store) {
  store.nodes.register({
    name: 'n1', agentAddress: '127.0.0.1:1', host: '127.0.0.1', labels: { zone: 'a' }, cpuMillis: 4000, memoryBytes: 8 * G,
    portMin: 3301, portMax: 3302, busyPorts: [], agentVersion: 'x', dockerVersion: 'y', lastHeartbeatMs: 1, disks: [{ path: '/d', totalBytes: 10 * G, freeBytes: 9 * G }],
  });
}

const inst = (id: string, name: string, port: number, serverId: number) => ({
  id, name, serverId, node: 'n1', diskPath: '/d', port, cpuMillis: 1000, memoryBytes: G, diskBytes: G, image: 'img', state: 'pending' as const, adminUser: 'admin', adminPassword: 'p',
});

describe('Store', () => {
  it('creates a WAL database readable only by its owner, and migrating twice is a no-op', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-store-'));
    const file = path.join(dir, 'berth.db');
    const store = Store.open(file);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const v = store.db.pragma('user_version', { simple: true });
    migrate(store.db);
    expect(store.db.pragma('user_version', { simple: true })).toBe(v);
    store.close();
    fs.rmSync(dir, { recursive: true });
  });

  it('never lets two instances share a node port or a name', () => {
    const store = Store.open(':memory:');
    withNode(store);
    store.instances.insert(inst('i-1', 'a', 3301, 1));
    expect(() => store.instances.insert(inst('i-2', 'b', 3301, 2))).toThrow(/UNIQUE/);
    expect(() => store.instances.insert(inst('i-3', 'a', 3302, 3))).toThrow(/UNIQUE/);
  });

  it('hands out increasing server ids that are never reused', () => {
    const store = Store.open(':memory:');
    const a = store.instances.nextServerId();
    const b = store.instances.nextServerId();
    expect(b).toBe(a + 1);
  });

  it('finds instances by id or by name', () => {
    const store = Store.open(':memory:');
    withNode(store);
    store.instances.insert(inst('i-1', 'orders', 3301, 1));
    expect(store.instances.find('orders')?.id).toBe('i-1');
    expect(store.instances.find('i-1')?.name).toBe('orders');
    expect(store.instances.find('nope')).toBeUndefined();
  });
});

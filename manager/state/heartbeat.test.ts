import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import type { NodeRow } from '../store/nodes';
import { FleetState } from './fleet';

const G = 1024 ** 3;
const T0 = 1_000_000;
const node = (name: string): Omit<NodeRow, 'cordoned' | 'registeredAt'> => ({
  name, agentAddress: '127.0.0.1:1', host: '127.0.0.1', labels: {}, cpuMillis: 8000, memoryBytes: 32 * G, portMin: 3301, portMax: 3310,
  busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: T0, disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G }],
});

function fleet() {
  const store = Store.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hb-')), 'berth.db'));
  const f = FleetState.load(store);
  f.registerNode(node('a'), []);
  const row = f.store.instances.insert({
    id: 'i-1', name: 'db1', serverId: 1, node: 'a', diskPath: '/d1', port: 3301, cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G,
    image: 'x', state: 'running', adminUser: 'admin', adminPassword: 'p',
  });
  f.store.instances.update(row.id, { state: 'running', containerId: 'c1' });
  const disks = [{ path: '/d1', totalBytes: 100 * G, freeBytes: 90 * G }];
  const running = [{ id: 'i-1', state: 'running', containerId: 'c1' }];
  const stored = () => f.store.nodes.get('a')!.lastHeartbeatMs;
  return { f, disks, running, stored };
}

describe('heartbeats', () => {
  it('one that changes nothing touches memory only: liveness moves, the store is not written', async () => {
    const { f, disks, running, stored } = fleet();
    await f.heartbeat('a', T0 + 1000, disks, [3301], running);
    expect(stored()).toBe(T0 + 1000);
    const commits = f.store.writer.commits;
    const quiet = f.heartbeat('a', T0 + 3000, [{ ...disks[0]!, freeBytes: 90 * G - 4096 }], [3301], running);
    expect(quiet).toBeUndefined();
    expect(f.store.writer.commits).toBe(commits);
    expect(stored()).toBe(T0 + 1000);
    expect(f.snapshot.get('a')!.lastHeartbeatMs).toBe(T0 + 3000);
    // The scheduler still sees the exact real free space.
    expect(f.snapshot.get('a')!.disks[0]!.freeBytes).toBe(90 * G - 4096);
  });

  it('one that reports something new is written and reconciled', async () => {
    const { f, disks, running, stored } = fleet();
    await f.heartbeat('a', T0 + 1000, disks, [3301], running);
    await f.heartbeat('a', T0 + 2000, disks, [3301], [{ id: 'i-1', state: 'stopped', containerId: 'c1' }]);
    expect(f.store.instances.get('i-1')!.state).toBe('stopped');
    expect(stored()).toBe(T0 + 2000);
    await f.heartbeat('a', T0 + 3000, disks, [3301, 3305], [{ id: 'i-1', state: 'stopped', containerId: 'c1' }]);
    expect(f.store.nodes.get('a')!.busyPorts).toEqual([3301, 3305]);
    expect(f.snapshot.get('a')!.usedPorts.has(3305)).toBe(true);
  });

  it('a repeated report is reconciled again when the store changed under it', async () => {
    const { f, disks, running } = fleet();
    await f.heartbeat('a', T0 + 1000, disks, [3301], running);
    // An operation marks the instance missing; the agent still reports it running.
    f.updateInstance('i-1', { state: 'missing' });
    await f.heartbeat('a', T0 + 2000, disks, [3301], running);
    expect(f.store.instances.get('i-1')!.state).toBe('running');
  });

  it('writes liveness at least every 30 s and when the free space moved by more than a percent', async () => {
    const { f, disks, running, stored } = fleet();
    await f.heartbeat('a', T0 + 1000, disks, [3301], running);
    expect(f.heartbeat('a', T0 + 20_000, disks, [3301], running)).toBeUndefined();
    await f.heartbeat('a', T0 + 31_001, disks, [3301], running);
    expect(stored()).toBe(T0 + 31_001);
    await f.heartbeat('a', T0 + 32_000, [{ ...disks[0]!, freeBytes: 80 * G }], [3301], running);
    expect(stored()).toBe(T0 + 32_000);
    expect(f.store.nodes.get('a')!.disks[0]!.freeBytes).toBe(80 * G);
  });
});

import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log';
import type { BackupOps } from '../operations/backups';
import type { Engine } from '../operations/engine';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { BackupScheduler } from './scheduler';

const log = createLogger('test', 'silent');

function setup() {
  const store = Store.open(':memory:');
  store.db.prepare("INSERT INTO nodes (name, agent_address, host, cpu_millis, memory_bytes, port_min, port_max, registered_at, last_heartbeat_ms) VALUES ('n1', 'x', 'h', 1000, 1, 3301, 3310, 'now', 0)").run();
  const i = { serverId: 1, node: 'n1', diskPath: '/d', cpuMillis: 100, memoryBytes: 1, diskBytes: 1, image: 'x', state: 'running' as const, adminUser: 'a', adminPassword: 'p' };
  store.instances.insert({ ...i, id: 'i-1', name: 'orders', port: 3301 });
  store.instances.insert({ ...i, id: 'i-2', name: 'other', port: 3302, serverId: 2 });
  const fleet = FleetState.load(store);
  const backups = { configured: true, create: vi.fn(async () => ({})), delete: vi.fn(async (_id: string) => ({})), restore: vi.fn() };
  const s = new BackupScheduler({ fleet, engine: {} as Engine, backups: backups as unknown as BackupOps, agents: { for: () => ({}) as never }, images: {}, adminUser: 'admin', log, sample: 5 }, { maxDrills: 1 });
  return { store, backups, s };
}

const HOUR = 3600_000;
const catalog = (store: Store, id: string, name: string, hoursAgo: number, now: number, status = 'complete') => {
  const at = new Date(now - hoursAgo * HOUR).toISOString();
  store.backups.insert({ id, instanceId: name === 'orders' ? 'i-1' : 'i-2', instanceName: name, cluster: '', flavor: 'mysql', repository: 'dir:/r', operationId: '', createdAt: at, completedAt: at, status: status as 'complete', method: 'clone' });
};

describe('backup scheduler round', () => {
  it('does nothing without policies', async () => {
    const { s, backups } = setup();
    expect(await s.tick()).toMatchObject({ backups: [], drills: [], retention: [] });
    expect(backups.create).not.toHaveBeenCalled();
  });

  it('backs up what its policy makes due (the instance policy over the fleet one) and deletes what retention allows', async () => {
    const { s, store, backups } = setup();
    const now = Date.now();
    store.backupPolicies.set({ scope: 'fleet', name: '', schedule: '0 0 1 1 *', spreadSeconds: 0, keepFull: 0, keepDays: 0, repository: 'dir:/r', drillSchedule: '', drillPointInTime: false });
    store.backupPolicies.set({ scope: 'instance', name: 'orders', schedule: '* * * * * *', spreadSeconds: 0, keepFull: 1, keepDays: 0, repository: 'dir:/r', drillSchedule: '', drillPointInTime: false });
    // Both policies date from "now": move them back so slots since exist.
    store.db.prepare("UPDATE backup_policies SET created_at = '2026-01-01T00:00:00.000Z'").run();
    catalog(store, 'b-000000000001', 'orders', 30, now);
    catalog(store, 'b-000000000002', 'orders', 20, now);
    catalog(store, 'b-000000000003', 'orders', 10, now);
    catalog(store, 'b-000000000009', 'other', 50, now);
    const plan = (await s.tick(now))!;
    expect(plan.backups.map((t) => t.name)).toEqual(['orders']);
    expect(backups.create).toHaveBeenCalledWith(expect.objectContaining({ id: 'i-1' }), {});
    expect(backups.delete.mock.calls.map((c) => c[0])).toEqual(['b-000000000002', 'b-000000000001']);
  });

  it('spares a backup a restore in flight reads', async () => {
    const { s, store, backups } = setup();
    const now = Date.now();
    store.backupPolicies.set({ scope: 'instance', name: 'orders', schedule: '0 0 1 1 *', spreadSeconds: 0, keepFull: 1, keepDays: 0, repository: 'dir:/r', drillSchedule: '', drillPointInTime: false });
    catalog(store, 'b-000000000001', 'orders', 30, now);
    catalog(store, 'b-000000000002', 'orders', 20, now);
    catalog(store, 'b-000000000003', 'orders', 10, now);
    store.operations.insert({ id: 'op-r', type: 'restore', instanceId: '', steps: ['seed'], params: { backupId: 'b-000000000001', instanceId: 'i-9' }, subjects: [] } as never);
    await s.tick(now);
    expect(backups.delete.mock.calls.map((c) => c[0])).toEqual(['b-000000000002']);
  });

  it('at start, marks a drill a previous manager left running failed and deletes its copy once its restore ended', async () => {
    const store = Store.open(':memory:');
    store.db.prepare("INSERT INTO nodes (name, agent_address, host, cpu_millis, memory_bytes, port_min, port_max, registered_at, last_heartbeat_ms) VALUES ('n1', 'x', 'h', 1000, 1, 3301, 3310, 'now', 0)").run();
    store.instances.insert({ serverId: 1, node: 'n1', diskPath: '/d', cpuMillis: 100, memoryBytes: 1, diskBytes: 1, image: 'x', state: 'running', adminUser: 'a', adminPassword: 'p', id: 'i-c', name: 'drill-0a0b0c0d', port: 3301 });
    store.backupDrills.insert({ id: 'd-1', target: 'instance:orders', backupId: 'b-000000000001', restoredName: 'drill-0a0b0c0d', operationId: 'op-restore', startedAt: new Date().toISOString() });
    const calls: string[] = [];
    const engine = {
      wait: vi.fn(async (id: string) => (calls.push(`wait ${id}`), { state: 'succeeded' })),
      submit: vi.fn(async (type: string, r: { instance: string }) => (calls.push(`${type} ${r.instance}`), { id: 'op-del' })),
    };
    const s = new BackupScheduler({ fleet: FleetState.load(store), engine: engine as unknown as Engine, backups: { configured: true } as unknown as BackupOps, agents: { for: () => ({}) as never }, images: {}, adminUser: 'admin', log, sample: 5 }, { maxDrills: 1 });
    s.start(3600_000);
    await s.stop();
    await s.idle();
    expect(store.backupDrills.get('d-1')).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/interrupted/) });
    expect(calls).toEqual(['wait op-restore', 'delete i-c', 'wait op-del']);
  });
});

import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import { checkPolicy, checkRef } from './backup-policies';

const REPO = 'dir:/backups';
const base = { scope: 'instance', name: 'db', schedule: '0 2 * * *', spreadSeconds: 3600, keepFull: 7, keepDays: 0, repository: '', drillSchedule: '', createdAt: '', updatedAt: '' };

function store(): Store {
  const s = Store.open(':memory:');
  s.db.prepare("INSERT INTO nodes (name, agent_address, host, cpu_millis, memory_bytes, port_min, port_max, registered_at, last_heartbeat_ms) VALUES ('n1', 'x', 'h', 1000, 1, 3301, 3310, 'now', 0)").run();
  const i = { serverId: 1, node: 'n1', diskPath: '/d', cpuMillis: 100, memoryBytes: 1, diskBytes: 1, image: 'x', state: 'running' as const, adminUser: 'a', adminPassword: 'p' };
  s.instances.insert({ ...i, id: 'i-1', name: 'db', port: 3301 });
  s.instances.insert({ ...i, id: 'i-2', name: 'pay-1', port: 3302, serverId: 2, clusterName: 'pay', clusterRole: 'primary' });
  return s;
}

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return [(err as { code?: number }).code, (err as Error).message];
  }
  return ['ok'];
};

describe('backup policy edge', () => {
  it('accepts a valid policy, the repository defaulting to the manager\'s', () => {
    expect(checkPolicy(store(), REPO, base)).toMatchObject({ scope: 'instance', name: 'db', repository: REPO, keepFull: 7 });
    expect(checkPolicy(store(), REPO, { ...base, scope: 'fleet', name: '', drillSchedule: '0 4 * * 0' })).toMatchObject({ scope: 'fleet', name: '', drillSchedule: '0 4 * * 0' });
  });

  it('refuses with clear codes', () => {
    const s = store();
    expect(code(() => checkPolicy(s, undefined, base))[0]).toBe(grpc.status.FAILED_PRECONDITION);
    expect(code(() => checkPolicy(s, REPO, { ...base, schedule: 'nightly' }))).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/not a cron expression/)]);
    expect(code(() => checkPolicy(s, REPO, { ...base, schedule: '' }))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkPolicy(s, REPO, { ...base, drillSchedule: '99 * * * *' }))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkPolicy(s, REPO, { ...base, spreadSeconds: 8 * 86400 }))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkPolicy(s, REPO, { ...base, keepDays: -1 }))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkPolicy(s, REPO, { ...base, repository: 'dir:/elsewhere' }))).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/not this manager's/)]);
    expect(code(() => checkRef(s, 'node', 'x', true))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkRef(s, 'fleet', 'x', true))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkRef(s, 'instance', 'Bad_Name', true))[0]).toBe(grpc.status.INVALID_ARGUMENT);
    expect(code(() => checkRef(s, 'instance', 'nope', true))[0]).toBe(grpc.status.NOT_FOUND);
    expect(code(() => checkRef(s, 'cluster', 'nope', true))[0]).toBe(grpc.status.NOT_FOUND);
    // A cluster member is covered by its cluster's policy.
    expect(code(() => checkRef(s, 'instance', 'pay-1', true))).toEqual([grpc.status.FAILED_PRECONDITION, expect.stringMatching(/member of cluster pay/)]);
    expect(code(() => checkRef(s, 'instance', 'gone', false))).toEqual(['ok']);
  });
});

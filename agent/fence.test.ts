import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log';
import { leaseFence } from './fence';
import type { Instances } from './instance/lifecycle';
import type { Replication } from './movement/replication';

const log = createLogger('test', 'silent');

function setup(opts: { left?: number[]; readOnlyMs?: number; stopped?: boolean }) {
  const calls: string[] = [];
  const left = [...(opts.left ?? [0, 0])];
  const repl = {
    killClientsWithin: async () => (calls.push('kill-sessions'), { killed: 1, left: left.shift() ?? 0 }),
    setReadOnly: async () => {
      calls.push('read-only');
      await new Promise((r) => setTimeout(r, opts.readOnlyMs ?? 0));
      calls.push('read-only set');
      return { revoked: [], executedGtids: '' };
    },
  } as unknown as Replication;
  const instances = { get: async (id: string) => ({ id, containerId: `c-${id}`, state: opts.stopped ? 'stopped' : 'running' }) } as unknown as Instances;
  const docker = { kill: async (id: string) => void calls.push(`sigkill ${id}`) };
  return { calls, fence: leaseFence(repl, instances, docker, log) };
}

describe('leaseFence', () => {
  it('read-only while the sessions are ended, then sessions ended again: mysqld keeps running', async () => {
    const { calls, fence } = setup({});
    await fence('p1');
    expect(calls).toEqual(['read-only', 'kill-sessions', 'read-only set', 'kill-sessions']);
  });

  it('a session that stays after KILL (a commit waiting for a semi-sync ACK): mysqld is killed before it can be acknowledged', async () => {
    const { calls, fence } = setup({ left: [1], readOnlyMs: 5000 });
    await fence('p1');
    expect(calls).toEqual(['read-only', 'kill-sessions', 'sigkill c-p1']);
  });

  it('a mysqld that is not running acknowledges nothing: nothing to do', async () => {
    const { calls, fence } = setup({ stopped: true });
    await fence('p1');
    expect(calls).toEqual([]);
  });

  it('read-only that does not take within the bound (a commit holds it): mysqld is killed before read-only could be set', async () => {
    const { calls, fence } = setup({ readOnlyMs: 2500 });
    await fence('p1');
    expect(calls).toEqual(['read-only', 'kill-sessions', 'sigkill c-p1']);
  });

  it('an agent that cannot reach its mysqld says so (the lease tries again) and kills nothing', async () => {
    const calls: string[] = [];
    const failing = leaseFence({ setReadOnly: async () => Promise.reject(new Error('socket gone')), killClientsWithin: async () => Promise.reject(new Error('socket gone')) } as unknown as Replication, { get: async (id: string) => ({ id, containerId: `c-${id}`, state: 'running' }) } as unknown as Instances, { kill: async (id: string) => void calls.push(`sigkill ${id}`) }, log);
    await expect(failing('p1')).rejects.toThrow(/socket gone/);
    expect(calls).toEqual([]);
  });
});

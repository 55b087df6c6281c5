import { describe, expect, it } from 'vitest';
import { fleetEngine } from '../../test/harness/operation-types';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';

const G = 1024 ** 3;

// A running 3-member Galera cluster on nodes a, b, c (hosts 127.0.0.1x, port 5101); a is the writer.
function setup(views: () => Record<string, { members: object[] }>) {
  const fleet = FleetState.load(Store.open(':memory:'));
  for (const [k, n] of ['a', 'b', 'c'].entries()) {
    fleet.registerNode({ name: n, agentAddress: `${n}:1`, host: `127.0.0.1${k}`, labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 1, portMax: 65535, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
  }
  fleet.createCluster({ name: 'j', state: 'running', replication: 'group', semiSyncTimeoutMs: 0, flavor: 'mariadb', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'r', replPassword: 'p', monitorUser: 'm', monitorPassword: 'p' });
  for (const [k, n] of ['a', 'b', 'c'].entries()) {
    fleet.reserveInstance({ id: `i-${n}`, name: `j-${k + 1}`, serverId: 7 + k, node: n, diskPath: '/d', port: 5101, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'x', clusterName: 'j', clusterRole: n === 'a' ? 'primary' : 'replica' } as never);
  }
  const calls: string[] = [];
  const polls = { n: 0 };
  const agents = {
    for: (node: string) => ({
      getGroupStatus: async (r: { id: string }) => (polls.n++, views()[r.id] ?? { members: [] }),
      setReadOnly: async (r: { id: string; readOnly: boolean }) => {
        calls.push(`${node}:${r.id} read_only=${r.readOnly}`);
        if (node === 'a') throw new Error('agent a: instance not running');
        return {};
      },
    }),
  };
  const { engine } = fleetEngine(fleet, agents);
  // Until the operation has read the candidate's view this many times (a condition, not a sleep).
  const polled = async (n: number) => {
    while (polls.n < n) await new Promise((r) => setTimeout(r, 20));
  };
  return { fleet, engine, calls, polled };
}

const self = (state: string, role: string, ready = true) => ({ local: true, host: '127.0.0.12', port: 5101, state, role, ready, size: 2, id: 'u', version: '', queue: 0 });
const other = (host: string) => ({ local: false, host, port: 5101, state: '', role: '', ready: false, size: 0, id: '', version: '', queue: 0 });

describe('cluster-galera-writer', () => {
  it('opens the new writer only once the old one is out of its component, after closing the old one', async () => {
    let view = { members: [self('Synced', 'Primary'), other('127.0.0.10'), other('127.0.0.11')] };
    const { fleet, engine, calls, polled } = setup(() => ({ 'i-c': view }));
    const op = await engine.submit('cluster-galera-writer', { cluster: 'j', from: 'i-a', to: 'i-c', reason: 'test' });
    await polled(2);
    // Still waiting: the old writer (127.0.0.10:5101) is in c's component; nothing changed yet.
    expect(calls).toEqual([]);
    expect(fleet.store.instances.get('i-a')!.clusterRole).toBe('primary');
    view = { members: [self('Synced', 'Primary'), other('127.0.0.11')] };
    const done = await engine.wait(op.id, 10_000);
    expect(done?.state).toBe('succeeded');
    // The old writer's agent did not answer (it is dead): the new one is opened anyway.
    expect(calls).toEqual(['a:i-a read_only=true', 'c:i-c read_only=false']);
    expect(fleet.store.instances.get('i-c')!.clusterRole).toBe('primary');
    expect(fleet.store.instances.get('i-a')!.clusterRole).toBe('replica');
    expect(fleet.store.instances.get('i-a')!.fenced).toBe(false);
  });

  it('changes nothing when the candidate is not Synced in the Primary component', async () => {
    const { fleet, engine, calls, polled } = setup(() => ({ 'i-c': { members: [self('Synced', 'non-Primary', false)] } }));
    const op = await engine.submit('cluster-galera-writer', { cluster: 'j', from: 'i-a', to: 'i-c', reason: 'test' });
    await polled(2);
    expect(calls).toEqual([]);
    expect(engine.holders([{ kind: 'cluster', name: 'j' }]).map((o) => o.id)).toEqual([op.id]);
    expect(fleet.store.instances.get('i-a')!.clusterRole).toBe('primary');
  });

  it('with from = to, only opens the writer again', async () => {
    const { engine, calls } = setup(() => ({}));
    const op = await engine.submit('cluster-galera-writer', { cluster: 'j', from: 'i-b', to: 'i-b', reason: 'restarted' });
    expect((await engine.wait(op.id, 5000))?.state).toBe('succeeded');
    expect(calls).toEqual(['b:i-b read_only=false']);
  });

  it('is refused for a cluster that is not Galera', async () => {
    const { fleet, engine } = setup(() => ({}));
    fleet.createCluster({ name: 'm', state: 'running', replication: 'group', semiSyncTimeoutMs: 0, flavor: 'mysql', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'r', replPassword: 'p', monitorUser: 'm', monitorPassword: 'p' });
    await expect(engine.submit('cluster-galera-writer', { cluster: 'm', from: '', to: 'i-a', reason: 'x' })).rejects.toThrow(/not a Galera cluster/);
  });
});

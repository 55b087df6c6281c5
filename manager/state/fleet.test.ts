import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import { FleetState } from './fleet';

const G = 1024 ** 3;

function fleetWithNodes(...names: string[]) {
  const fleet = FleetState.load(Store.open(':memory:'));
  for (const name of names) {
    fleet.registerNode(
      {
        name, agentAddress: `${name}:1`, host: '127.0.0.1', labels: {}, cpuMillis: 8000, memoryBytes: 16 * G, portMin: 3301, portMax: 3310,
        busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G }, { path: '/d2', totalBytes: 100 * G, freeBytes: 100 * G }],
      },
      [],
    );
  }
  return fleet;
}

const row = (id: string, node = 'a', port = 3301) => ({
  id, name: id.replace('i-', 'db'), serverId: Number.parseInt(id.slice(-2), 16), node, diskPath: '/d1', port, cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 10 * G,
  image: 'img', state: 'pending' as const, adminUser: 'admin', adminPassword: 'pw', antiAffinityGroup: 'orders',
});

describe('FleetState', () => {
  it('applies a reservation to the snapshot only after its transaction commits', () => {
    const fleet = fleetWithNodes('a');
    expect(() =>
      fleet.change(() => {
        fleet.reserveInstance(row('i-01'));
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(fleet.store.instances.all()).toEqual([]);
    expect(fleet.snapshot.get('a')!.allocated).toEqual({ cpuMillis: 0, memoryBytes: 0 });

    fleet.reserveInstance(row('i-01'));
    const snap = fleet.snapshot.get('a')!;
    expect(snap.allocated).toEqual({ cpuMillis: 1000, memoryBytes: 2 * G });
    expect(snap.usedPorts.has(3301)).toBe(true);
    expect(snap.antiAffinityGroups?.get('orders')).toBe(1);
  });

  it('resizes in place: the new shape is counted and the old one no longer', () => {
    const fleet = fleetWithNodes('a');
    fleet.reserveInstance(row('i-01'));
    const after = fleet.resizeInstance('i-01', { cpuMillis: 2000, memoryBytes: 4 * G, diskBytes: 30 * G });
    expect(after).toMatchObject({ node: 'a', port: 3301, cpuMillis: 2000, memoryBytes: 4 * G, diskBytes: 30 * G });
    const snap = fleet.snapshot.get('a')!;
    expect(snap.allocated).toEqual({ cpuMillis: 2000, memoryBytes: 4 * G });
    expect(snap.disks.find((d) => d.path === '/d1')!.allocatedBytes).toBe(30 * G);
    expect(snap.instanceCount).toBe(1);
    expect(snap.usedPorts.has(3301)).toBe(true);
  });

  it("moves an instance's record to another node, disk and port, keeping its identity", () => {
    const fleet = fleetWithNodes('a', 'b');
    const before = fleet.reserveInstance(row('i-01'));
    const after = fleet.moveInstance('i-01', { node: 'b', diskPath: '/d2', port: 3305 });
    expect(after).toMatchObject({ id: 'i-01', name: before.name, serverId: before.serverId, adminPassword: 'pw', node: 'b', diskPath: '/d2', port: 3305 });
    const a = fleet.snapshot.get('a')!;
    const b = fleet.snapshot.get('b')!;
    expect([a.instanceCount, a.allocated.cpuMillis, a.usedPorts.has(3301), a.antiAffinityGroups?.get('orders')]).toEqual([0, 0, false, undefined]);
    expect([b.instanceCount, b.allocated.cpuMillis, b.usedPorts.has(3305), b.antiAffinityGroups?.get('orders')]).toEqual([1, 1000, true, 1]);
    expect(b.disks.find((d) => d.path === '/d2')!.allocatedBytes).toBe(10 * G);
  });

  it('refuses a move onto a port taken on the target and changes nothing', () => {
    const fleet = fleetWithNodes('a', 'b');
    fleet.reserveInstance(row('i-01'));
    fleet.reserveInstance(row('i-02', 'b', 3305));
    expect(() => fleet.moveInstance('i-01', { node: 'b', diskPath: '/d1', port: 3305 })).toThrow(/UNIQUE/);
    expect(fleet.store.instances.get('i-01')!.node).toBe('a');
    expect(fleet.snapshot.get('a')!.instanceCount).toBe(1);
    expect(fleet.snapshot.get('b')!.instanceCount).toBe(1);
  });

  it('releases a reservation and frees its port at once', () => {
    const fleet = fleetWithNodes('a');
    fleet.reserveInstance(row('i-01'));
    expect(fleet.releaseInstance('i-01')?.id).toBe('i-01');
    expect(fleet.releaseInstance('i-01')).toBeUndefined();
    expect(fleet.snapshot.get('a')).toMatchObject({ instanceCount: 0, allocated: { cpuMillis: 0, memoryBytes: 0 }, freePort: 3301 });
  });

  it('cordons through the store, the snapshot and an event announced after the commit', () => {
    const fleet = fleetWithNodes('a');
    const seen: string[] = [];
    fleet.onEvent((e) => seen.push(`${e.kind} ${e.subject} (store has it: ${fleet.store.nodes.get('a')!.cordoned})`));
    fleet.setCordoned('a', true);
    expect(fleet.snapshot.get('a')!.cordoned).toBe(true);
    expect(seen).toEqual(['node.cordoned a (store has it: true)']);
  });

  it('reconciles a heartbeat report with the store and leaves unknown containers alone', async () => {
    const fleet = fleetWithNodes('a');
    fleet.reserveInstance(row('i-01'));
    fleet.updateInstance('i-01', { state: 'running', containerId: 'c1' });
    let unknown: string[] = [];
    await fleet.heartbeat('a', Date.now(), [], [3301], [{ id: 'i-99', state: 'running', containerId: 'x' }], (ids) => (unknown = ids));
    expect(fleet.store.instances.get('i-01')!.state).toBe('missing');
    expect(unknown).toEqual(['i-99']);
    expect(fleet.store.events.recent(1)[0]).toMatchObject({ kind: 'instance.missing', subject: 'i-01' });
  });

  it('is one owner per snapshot, and refuses to run inside a bare store transaction', () => {
    const fleet = fleetWithNodes('a');
    expect(FleetState.of(fleet.store, fleet.snapshot)).toBe(fleet);
    expect(() => fleet.store.tx(() => fleet.setCordoned('a', true))).toThrow(/bare store transaction/);
  });
});

import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import { FleetState } from './fleet';
import { InstanceTlsState } from './instance-tls';

const G = 1024 ** 3;

function fleetWith(node: string) {
  const fleet = FleetState.load(Store.open(':memory:'));
  for (const [name, host] of [['a', '127.0.0.9'], ['b', '127.0.0.10']] as const) {
    fleet.registerNode({ name, agentAddress: `${name}:1`, host, labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
  }
  fleet.reserveInstance({ id: 'i-00000000beef', name: 'x', serverId: 7, node, diskPath: '/d', port: 3305, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'p', antiAffinityGroup: '' });
  return fleet;
}

describe('the TLS an instance serves, from heartbeats', () => {
  it('follows what the agent of its node reports, ignoring the same id on another node (a migration target)', () => {
    const fleet = fleetWith('a');
    const s = new InstanceTlsState(fleet.store);
    const id = 'i-00000000beef';
    s.report('a', [{ id, tls: true, tlsRequired: false }]);
    expect(fleet.store.instanceTls.get(id)).toEqual({ tls: true, required: false });
    // The target of a migration on b requires TLS: not this instance's state until the row moves.
    s.report('b', [{ id, tls: true, tlsRequired: true }]);
    expect(fleet.store.instanceTls.get(id)).toEqual({ tls: true, required: false });
    fleet.moveInstance(id, { node: 'b', diskPath: '/d', port: 3306 });
    s.report('b', [{ id, tls: true, tlsRequired: true }]);
    expect(fleet.store.instanceTls.get(id)).toEqual({ tls: true, required: true });
    s.report('b', [{ id, tls: false, tlsRequired: false }]);
    expect(fleet.store.instanceTls.get(id)).toEqual({ tls: false, required: false });
    // Unknown ids (containers berth does not know) are left alone.
    s.report('a', [{ id: 'i-00000000dead', tls: true, tlsRequired: true }]);
    expect(fleet.store.instanceTls.get('i-00000000dead')).toEqual({ tls: false, required: false });
  });
});

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Store } from '../store/index';
import { checkReservationsAtStart } from './consistency';
import { FleetState } from './fleet';

const G = 1024 ** 3;

// A fleet with one node and a pending reservation no operation is working on (what a bug or a
// hand edit leaves behind).
function strayFleet() {
  const fleet = FleetState.load(Store.open(':memory:'));
  fleet.registerNode(
    { name: 'a', agentAddress: 'a:1', host: '127.0.0.9', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3301, portMax: 3310, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] },
    [],
  );
  fleet.reserveInstance({ id: 'i-00000000feed', name: 'stray', serverId: 7, node: 'a', diskPath: '/d', port: 3305, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'pending', adminUser: 'admin', adminPassword: 'x', antiAffinityGroup: '' });
  return fleet;
}

describe('the reservation check at start-up', () => {
  it('reports only by default: a log line and an event, the row untouched', () => {
    const fleet = strayFleet();
    const findings = checkReservationsAtStart(fleet, createLogger('test', 'silent'));
    expect(findings.map((f) => f.kind)).toEqual(['orphan-reservation']);
    expect(fleet.store.instances.get('i-00000000feed')).toMatchObject({ state: 'pending', message: '' });
    expect(fleet.store.events.recent(10, 'i-00000000feed')).toMatchObject([
      { kind: 'reservation.orphan-reservation', message: expect.stringContaining('(reported only: start the manager with --repair-reservations to mark it failed, or delete it)') },
    ]);
    expect(fleet.snapshot.get('a')!.allocated.cpuMillis).toBe(500);
  });

  it('with repair, marks the stray reservation failed so that it shows', () => {
    const fleet = strayFleet();
    checkReservationsAtStart(fleet, createLogger('test', 'silent'), { repair: true });
    expect(fleet.store.instances.get('i-00000000feed')).toMatchObject({ state: 'failed', message: 'found at start-up pending with no operation working on it; delete it to release its reservation' });
    expect(fleet.store.events.recent(10, 'i-00000000feed')[0]!.message).toContain('(repaired: marked failed)');
    // Nothing left to find but the row itself, which a delete releases.
    expect(checkReservationsAtStart(fleet, createLogger('test', 'silent'), { repair: true })).toEqual([]);
  });
});

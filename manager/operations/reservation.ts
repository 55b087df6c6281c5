import { resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { explain } from '../scheduler/schedule';
import type { SchedulerConfig } from '../scheduler/types';
import type { FleetState } from '../state/fleet';
import type { InstanceRow } from '../store/instances';
import { migrationTarget } from './resize-decision';

// A migration's target reservation is an instance row of its own until the switch. Its name
// says whose it is; "--" never appears in an instance name, so it cannot clash with one.
export const RESERVATION_MARK = '--moving-';

export const reservationName = (instanceName: string, opId: string) => `${instanceName}${RESERVATION_MARK}${opId.slice(3, 11)}`;

export const isReservation = (name: string) => name.includes(RESERVATION_MARK);

export interface Where {
  node: string;
  diskPath: string;
  port: number;
}

export interface TargetReservation {
  reservationId: string;
  // A replica needs a server id of its own; the moved instance keeps it.
  serverId: number;
  source: Where;
  target: Where;
}

// The target's CPU, memory, disk and port are taken from the commit on, beside the source's,
// until the switch replaces both with the moved instance (or an undo releases it).
export function reserveAt(fleet: FleetState, i: InstanceRow, to: Shape, opId: string, target: Where): TargetReservation {
  return fleet.change(() => {
    const row = fleet.reserveInstance({
      id: `i-${opId.slice(3)}`,
      name: reservationName(i.name, opId),
      serverId: fleet.store.instances.nextServerId(),
      node: target.node,
      diskPath: target.diskPath,
      port: target.port,
      ...to,
      image: i.image,
      state: 'pending',
      adminUser: i.adminUser,
      adminPassword: '',
      antiAffinityGroup: i.antiAffinityGroup,
    });
    fleet.updateInstance(row.id, { state: 'pending', message: `reservation for the migration of ${i.name} (${i.id}), operation ${opId}` });
    return { reservationId: row.id, serverId: row.serverId, source: { node: i.node, diskPath: i.diskPath, port: i.port }, target };
  });
}

// A drain's migrations choose their target when they start: the scheduler, the source excluded.
export function reserveTarget(fleet: FleetState, scheduler: SchedulerConfig, i: InstanceRow, to: Shape, opId: string): TargetReservation {
  return fleet.change(() => {
    const { result } = migrationTarget(fleet.snapshot.nodes(), i, to, {}, { now: Date.now(), config: scheduler });
    if (!result.ok) throw resourceExhausted(`no node can take ${i.name}: ${explain(result)}`);
    const p = result.placement;
    return reserveAt(fleet, i, to, opId, { node: p.node, diskPath: p.diskPath, port: p.port });
  });
}

import type { Logger } from '../../src/log';
import { checkReservations, type Allocation, type Finding } from '../store/consistency';
import type { NodeSnapshot } from '../scheduler/types';
import type { FleetState } from './fleet';

const believed = (n: NodeSnapshot | undefined): Allocation | undefined =>
  n && { cpuMillis: n.allocated.cpuMillis, memoryBytes: n.allocated.memoryBytes, instanceCount: n.instanceCount, disks: Object.fromEntries(n.disks.map((d) => [d.path, d.allocatedBytes])) };

// At start-up, before operations resume: every finding is logged and recorded as a
// `reservation.<kind>` event (and counted in the berth_reservation_findings metric). Stored rows
// are changed only with `repair` (--repair-reservations): then a reservation no operation is
// driving is marked failed, so it shows as such (a delete releases it either way; its container,
// if any, is removed by that delete, never guessed at here). A scheduler view that differs from
// the instance rows is rebuilt from them in both modes: it is a cache of the rows, and placing on
// a wrong one would make real conflicts; no stored data changes. A row outside its node's ports
// or disks is only reported: no repair is safe without a person.
export function checkReservationsAtStart(fleet: FleetState, log: Logger, opts: { repair?: boolean } = {}): Finding[] {
  const s = fleet.store;
  const findings = checkReservations(s.nodes.all(), s.instances.all(), s.operations.active(), (n) => believed(fleet.snapshot.get(n)));
  for (const f of findings) {
    const i = f.kind === 'orphan-reservation' ? s.instances.get(f.subject) : undefined;
    const what = i ? (opts.repair ? ' (repaired: marked failed)' : ' (reported only: start the manager with --repair-reservations to mark it failed, or delete it)') : '';
    log.warn({ kind: f.kind, subject: f.subject, repair: !!opts.repair }, `reservation check: ${f.message}${what}`);
    if (f.kind === 'allocation-mismatch') fleet.resyncNode(f.subject);
    fleet.change(() => {
      if (i && opts.repair) fleet.updateInstance(i.id, { state: 'failed', message: `found at start-up ${i.state} with no operation working on it; delete it to release its reservation` });
      fleet.event(`reservation.${f.kind}`, f.subject, `${f.message}${what}`);
    });
  }
  log.info({ findings: findings.length, repair: !!opts.repair }, 'reservation consistency check done');
  return findings;
}

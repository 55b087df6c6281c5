import type { Logger } from '../../src/log';
import { checkReservations, type Allocation, type Finding } from '../store/consistency';
import type { NodeSnapshot } from '../scheduler/types';
import type { FleetState } from './fleet';

const believed = (n: NodeSnapshot | undefined): Allocation | undefined =>
  n && { cpuMillis: n.allocated.cpuMillis, memoryBytes: n.allocated.memoryBytes, instanceCount: n.instanceCount, disks: Object.fromEntries(n.disks.map((d) => [d.path, d.allocatedBytes])) };

// At start-up, before operations resume: every finding is logged and recorded as a
// `reservation.<kind>` event. A scheduler view that differs from the instance rows is rebuilt
// from them; a reservation no operation is driving is marked failed, so it shows up and a delete
// releases it (its container, if any, is removed by that delete, never guessed at here).
export function checkReservationsAtStart(fleet: FleetState, log: Logger): Finding[] {
  const s = fleet.store;
  const findings = checkReservations(s.nodes.all(), s.instances.all(), s.operations.active(), (n) => believed(fleet.snapshot.get(n)));
  for (const f of findings) {
    log.warn({ kind: f.kind, subject: f.subject }, `reservation check: ${f.message}`);
    if (f.kind === 'allocation-mismatch') fleet.resyncNode(f.subject);
    fleet.change(() => {
      const i = f.kind === 'orphan-reservation' ? s.instances.get(f.subject) : undefined;
      if (i) fleet.updateInstance(i.id, { state: 'failed', message: `found at start-up ${i.state} with no operation working on it; delete it to release its reservation` });
      fleet.event(`reservation.${f.kind}`, f.subject, f.message);
    });
  }
  log.info({ findings: findings.length }, 'reservation consistency check done');
  return findings;
}

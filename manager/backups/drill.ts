import { randomBytes } from 'node:crypto';
import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { AgentPool } from '../agents/pool';
import type { BackupOps } from '../operations/backups';
import type { Engine } from '../operations/engine';
import type { FleetState } from '../state/fleet';
import type { DrillRow } from '../store/backup-drills';
import type { OperationRow } from '../store/operations';
import { judge, verdict, type DrillChecks, type Flavor } from './checks';
import { targetKey, type Target } from './plan';

export interface DrillDeps {
  fleet: FleetState;
  engine: Engine;
  backups: BackupOps;
  agents: Pick<AgentPool, 'for'>;
  images: Record<string, string>;
  adminUser: string;
  log: Logger;
  // Tables counted and checksummed per drill.
  sample: number;
}

const RESTORE_WAIT_MS = 6 * 3600_000;
const DELETE_WAIT_MS = 10 * 60_000;
const VERIFY_MS = 30 * 60_000;

// A restore drill: the backup restored as a throwaway instance placed by the scheduler in spare
// capacity (operation `restore`, the same steps a DBA's restore runs: the object verified
// against its manifest, decrypted, unpacked, prepared, started), its tables checked (checks.ts),
// then the instance deleted (operation `delete`). The restore's own time is the measured
// restore time. Recorded in backup_drills with an event either way.
// `pointInTime`: rolled forward to a random second between the backup's completion and now
// (the restore's own archive and replay of the source's binary logs).
export async function runDrill(d: DrillDeps, target: Target, backupId: string, pointInTime = false): Promise<DrillRow> {
  const hex = randomBytes(4).toString('hex');
  const row = d.fleet.store.backupDrills.insert({ id: `d-${hex}`, target: targetKey(target), backupId, restoredName: `drill-${hex}`, startedAt: new Date().toISOString() });
  let restored: string | undefined;
  try {
    const to = pointInTime ? randomPoint(d.fleet.store.backups.get(backupId)?.completedAt ?? '', Date.now()) : undefined;
    const r = await d.backups.restore({ backupId, name: row.restoredName, images: d.images, adminUser: d.adminUser, ...(to ? { to } : {}) });
    restored = r.instance.id;
    d.fleet.store.backupDrills.update(row.id, { operationId: r.operation.id });
    const op = await d.engine.wait(r.operation.id, RESTORE_WAIT_MS);
    if (op?.state !== 'succeeded') throw new Error(`the restore (operation ${r.operation.id}) ${op?.state ?? 'did not end'}: ${op?.error || 'no error recorded'}`);
    const seconds = (Date.parse(op.finishedAt) - Date.parse(op.createdAt)) / 1000;
    d.fleet.store.backupDrills.update(row.id, { restoreSeconds: seconds });
    // Rolled forward, the copy stands at what it replayed: its own executed set is its position.
    const checks = await check(d, r.instance.id, backupId, to ? undefined : seedGtid(op));
    const v = verdict(checks);
    const rolled = to ? `; rolled forward to ${to.toISOString()}` : pointInTime ? '; not rolled forward (the backup is less than 2 s old)' : '';
    return finish(d, row, v.ok ? 'verified' : 'failed', v.message + rolled, { restoreSeconds: seconds, tables: checks.tables, checks: JSON.stringify({ ...checks, ...(to ? { pointInTime: to.toISOString() } : {}) }) });
  } catch (err) {
    return finish(d, row, 'failed', errorMessage(err), {});
  } finally {
    if (restored) await removeCopy(d, restored);
  }
}

// A whole second after the backup completed and before now (a restore's `to` is whole seconds,
// not before the backup's completion, not in the future); none when there is no such second.
export function randomPoint(completedAt: string, now: number, random = Math.random): Date | undefined {
  const from = Math.ceil(Date.parse(completedAt) / 1000) + 1;
  const until = Math.floor(now / 1000) - 1;
  if (!completedAt || !(until >= from)) return undefined;
  return new Date((from + Math.floor(random() * (until - from + 1))) * 1000);
}

function seedGtid(op: OperationRow): string {
  const s = op.steps.find((x) => x.name === 'seed');
  try {
    return s?.output ? String((JSON.parse(s.output) as { gtid?: string }).gtid ?? '') : '';
  } catch {
    return '';
  }
}

// The restored copy's tables; the backed-up server's sample too, to compare when it still
// stands at the backup's GTID set.
async function check(d: DrillDeps, copyId: string, backupId: string, gtid: string | undefined): Promise<DrillChecks> {
  const copy = d.fleet.store.instances.get(copyId)!;
  const mine = await d.agents.for(copy.node).verifyTables({ id: copy.id, sample: d.sample }, VERIFY_MS);
  const b = d.fleet.store.backups.get(backupId);
  const src = b ? d.fleet.store.instances.get(b.sourceInstance || b.instanceId) : undefined;
  const theirs = src && src.state === 'running' ? await d.agents.for(src.node).verifyTables({ id: src.id, sample: d.sample }, VERIFY_MS).catch(() => undefined) : undefined;
  // The copy's position: what the catalog or the restore's seed recorded for the backup; else
  // (MySQL: CLONE LOCAL reports no GTID set; or a copy rolled forward) the copy's own executed
  // set, read in the same session as its tables (the agent's set-up of the copy is not binlogged).
  const position = gtid === undefined ? mine.executedGtids : gtid || b?.gtid || mine.executedGtids;
  return judge(copy.flavor as Flavor, mine.tables, position, theirs);
}

async function removeCopy(d: DrillDeps, id: string): Promise<void> {
  try {
    const i = d.fleet.store.instances.get(id);
    if (!i) return; // the failed restore removed it
    const op = await d.engine.submit('delete', { instance: id });
    const end = await d.engine.wait(op.id, DELETE_WAIT_MS);
    if (end?.state !== 'succeeded') throw new Error(`operation ${op.id} ${end?.state ?? 'did not end'}: ${end?.error ?? ''}`);
  } catch (err) {
    d.log.error({ instance: id, err: errorMessage(err) }, 'a drill could not delete its restored copy');
    d.fleet.event('backup.drill-cleanup-failed', id, `the drill's restored copy ${id} was not deleted: ${errorMessage(err)}`);
  }
}

function finish(d: DrillDeps, row: DrillRow, outcome: 'verified' | 'failed', message: string, patch: Partial<DrillRow>): DrillRow {
  const endedAt = new Date().toISOString();
  d.fleet.store.backupDrills.update(row.id, { ...patch, outcome, message: message.slice(0, 2000), endedAt });
  const secs = patch.restoreSeconds ? ` (restored in ${patch.restoreSeconds.toFixed(1)} s)` : '';
  d.fleet.event(`backup.drill-${outcome}`, row.target, `drill ${row.id} of backup ${row.backupId} (${row.target}) ${outcome}${secs}: ${message}`);
  return d.fleet.store.backupDrills.get(row.id)!;
}

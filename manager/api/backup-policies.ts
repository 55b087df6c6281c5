import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import type { BackupPolicy } from '../../src/gen/berth/v1/BackupPolicy';
import type { BackupTargetStatus } from '../../src/gen/berth/v1/BackupTargetStatus';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { validateCron } from '../../src/backup/schedule';
import { checkName } from '../../src/validate';
import type { TargetStatus } from '../backups/status';
import type { BackupOps } from '../operations/backups';
import type { BackupPolicyRow, NewBackupPolicy, PolicyScope } from '../store/backup-policies';
import type { Store } from '../store/index';

export type BackupPolicyRpc = 'SetBackupPolicy' | 'GetBackupPolicy' | 'ListBackupPolicies' | 'DeleteBackupPolicy' | 'GetBackupStatus';

export interface BackupPolicyApiDeps {
  store: Store;
  backups: Pick<BackupOps, 'repository'>;
  status: () => TargetStatus[];
  log: Logger;
}

const SCOPES = new Set<PolicyScope>(['fleet', 'cluster', 'instance']);
const MAX_SPREAD = 7 * 86_400;

export function toPolicy(p: BackupPolicyRow): BackupPolicy {
  return { ...p };
}

export function toTargetStatus(t: TargetStatus): BackupTargetStatus {
  return {
    target: t.target,
    policy: t.policy,
    schedule: t.schedule,
    drillSchedule: t.drillSchedule,
    lastBackupId: t.lastBackup?.id ?? '',
    lastBackupStatus: t.lastBackup?.status ?? '',
    lastBackupAt: t.lastBackup?.createdAt ?? '',
    completeBackups: t.completeBackups,
    lastDrillId: t.lastDrill?.id ?? '',
    lastDrillOutcome: t.lastDrillOutcome,
    lastDrillAt: t.lastDrillAt,
    lastDrillMessage: t.lastDrill?.message ?? '',
    lastDrillRestoreSeconds: t.lastDrillRestoreSeconds,
    lastVerifiedAt: t.lastVerifiedAt,
    nextBackupAt: t.nextBackupAt,
    nextDrillAt: t.nextDrillAt,
  };
}

// Scope and name: the fleet's default has no name; an instance policy names a standalone
// instance (a cluster member is covered by its cluster's), a cluster policy a cluster.
export function checkRef(store: Store, scope: string, name: string, mustExist: boolean): { scope: PolicyScope; name: string } {
  if (!SCOPES.has(scope as PolicyScope)) throw invalidArgument(`scope "${scope.slice(0, 20)}" is not fleet, cluster or instance`);
  if (scope === 'fleet') {
    if (name) throw invalidArgument('the fleet policy has no name');
    return { scope: 'fleet', name: '' };
  }
  checkName(`${scope} name`, name);
  if (!mustExist) return { scope: scope as PolicyScope, name };
  if (scope === 'cluster' && !store.clusters.get(name)) throw notFound(`no cluster ${name}`);
  if (scope === 'instance') {
    const i = store.instances.find(name);
    if (!i || i.name !== name) throw notFound(`no instance ${name}`);
    if (i.clusterName) throw failedPrecondition(`${name} is a member of cluster ${i.clusterName}: give the cluster a policy (scope cluster)`);
  }
  return { scope: scope as PolicyScope, name };
}

export function checkPolicy(store: Store, repository: string | undefined, req: BackupPolicy): NewBackupPolicy {
  if (!repository) throw failedPrecondition('this manager has no backup repository: start it with --backup-repository dir:/path');
  const ref = checkRef(store, req.scope ?? '', req.name ?? '', true);
  const bad = validateCron(req.schedule ?? '') ?? (req.drillSchedule ? validateCron(req.drillSchedule) : undefined);
  if (!req.schedule) throw invalidArgument('schedule (cron) is required');
  if (bad) throw invalidArgument(bad);
  const spread = Number(req.spreadSeconds ?? 0);
  if (spread > MAX_SPREAD) throw invalidArgument(`spread_seconds must be at most ${MAX_SPREAD} (7 days)`);
  const keepFull = Number(req.keepFull ?? 0);
  const keepDays = Number(req.keepDays ?? 0);
  if (keepFull > 10_000) throw invalidArgument('keep_full must be at most 10000');
  if (!Number.isFinite(keepDays) || keepDays < 0 || keepDays > 36_500) throw invalidArgument('keep_days must be between 0 and 36500');
  const fullEvery = Number(req.fullEvery ?? 0);
  if (fullEvery > 1000) throw invalidArgument('full_every must be at most 1000');
  if (fullEvery > 1 && ref.scope !== 'fleet' && flavorOf(store, ref) !== 'mariadb') throw invalidArgument(`full_every: ${ref.name} is not MariaDB, and only MariaDB backups can be incremental`);
  if (req.repository && req.repository !== repository) throw invalidArgument(`repository ${req.repository.slice(0, 100)} is not this manager's (${repository})`);
  return { ...ref, schedule: req.schedule, spreadSeconds: spread, keepFull, keepDays, repository, drillSchedule: req.drillSchedule ?? '', drillPointInTime: !!req.drillPointInTime, fullEvery };
}

// An instance's flavor, or a cluster's (its members').
function flavorOf(store: Store, ref: { scope: string; name: string }): string {
  const i = ref.scope === 'cluster' ? store.instances.inCluster(ref.name)[0] : store.instances.find(ref.name);
  return i?.flavor ?? '';
}

export function backupPolicyHandlers(d: BackupPolicyApiDeps): Pick<PortalHandlers, BackupPolicyRpc> {
  const { store, log } = d;
  return {
    SetBackupPolicy: unary(log, 'SetBackupPolicy', (req) => toPolicy(store.backupPolicies.set(checkPolicy(store, d.backups.repository, req)))),
    GetBackupPolicy: unary(log, 'GetBackupPolicy', (req) => {
      const ref = checkRef(store, req.scope, req.name, false);
      const p = store.backupPolicies.get(ref.scope, ref.name);
      if (!p) throw notFound(`no backup policy for ${ref.scope}${ref.name ? ` ${ref.name}` : ''}`);
      return toPolicy(p);
    }),
    ListBackupPolicies: unary(log, 'ListBackupPolicies', () => ({ policies: store.backupPolicies.list().map(toPolicy) })),
    DeleteBackupPolicy: unary(log, 'DeleteBackupPolicy', (req) => {
      const ref = checkRef(store, req.scope, req.name, false);
      if (!store.backupPolicies.remove(ref.scope, ref.name)) throw notFound(`no backup policy for ${ref.scope}${ref.name ? ` ${ref.name}` : ''}`);
      return {};
    }),
    GetBackupStatus: unary(log, 'GetBackupStatus', () => ({ targets: d.status().map(toTargetStatus) })),
  };
}

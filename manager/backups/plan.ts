import { CronCache, isDue } from '../../src/backup/schedule';
import { decideRetention, type CatalogEntry, type RetentionDecision } from '../../src/backup/retention';
import type { BackupPolicyRow } from '../store/backup-policies';

// What the backup scheduler does this round, decided from what it gathered. Pure.

// What a policy covers: a standalone instance or a cluster (one backup for all its members,
// read from a replica). `key` is how policies, drills and alerts name it.
export interface Target {
  kind: 'instance' | 'cluster';
  name: string;
  // The instance a backup is asked of: the standalone instance, or the cluster's primary (the
  // backup operation then reads a healthy replica).
  instanceId: string;
}

export const targetKey = (t: Pick<Target, 'kind' | 'name'>) => `${t.kind}:${t.name}`;

// An instance's own policy, else its cluster's, else the fleet's default.
export function effectivePolicy(t: Target, policies: BackupPolicyRow[]): BackupPolicyRow | undefined {
  const find = (scope: string, name: string) => policies.find((p) => p.scope === scope && p.name === name);
  return find(t.kind, t.name) ?? find('fleet', '');
}

export interface TargetView {
  target: Target;
  policy: BackupPolicyRow;
  // Its catalog entries (newest first) and whether one is being taken.
  backups: (CatalogEntry & { createdAt: string })[];
  lastDrillStartedAt: string;
  drillRunning: boolean;
  // The target's flavor (only MariaDB backups can be incremental).
  flavor?: string;
}

export interface Plan {
  // `incremental`: the policy's full_every says this one builds on the newest complete backup.
  backups: (Target & { incremental?: boolean })[];
  drills: { target: Target; backupId: string; pointInTime: boolean }[];
  retention: { target: Target; decision: RetentionDecision }[];
}

const ms = (iso: string) => (iso ? Date.parse(iso) : 0);

// With full_every N (MariaDB), a full backup then N-1 incrementals, counted over the complete
// backups since the newest full: a failed one is not counted, so the chain stays N long.
export function wantIncremental(v: Pick<TargetView, 'policy' | 'backups' | 'flavor'>): boolean {
  if ((v.policy.fullEvery ?? 0) <= 1 || v.flavor !== 'mariadb') return false;
  const complete = v.backups.filter((b) => b.status === 'complete' && b.method !== 'binlog');
  const sinceFull = complete.findIndex((b) => !b.parentId);
  if (sinceFull < 0) return false;
  return sinceFull + 1 < v.policy.fullEvery;
}

// `inUse`: backups a running restore or drill reads (retention never deletes them).
// `drillSlots`: how many more drills may start now (spare capacity is finite).
export function decide(views: TargetView[], now: number, inUse: ReadonlySet<string>, drillSlots: number): Plan {
  const plan: Plan = { backups: [], drills: [], retention: [] };
  const cache = new CronCache(now);
  for (const v of views) {
    const key = targetKey(v.target);
    const spreadMs = v.policy.spreadSeconds * 1000;
    const since = ms(v.policy.createdAt);
    const running = v.backups.some((b) => b.status === 'running');
    const lastBackup = v.backups.reduce((m, b) => Math.max(m, ms(b.createdAt)), 0);
    if (!running && isDue({ schedule: v.policy.schedule, spreadMs, id: key, sinceMs: since, lastRunMs: lastBackup, now, cache })) {
      plan.backups.push(wantIncremental(v) ? { ...v.target, incremental: true } : v.target);
    }
    const latest = v.backups.find((b) => b.status === 'complete' && b.method !== 'binlog');
    if (v.policy.drillSchedule && latest && !v.drillRunning && plan.drills.length < drillSlots && isDue({ schedule: v.policy.drillSchedule, spreadMs, id: `drill:${key}`, sinceMs: since, lastRunMs: ms(v.lastDrillStartedAt), now, cache })) {
      plan.drills.push({ target: v.target, backupId: latest.id, pointInTime: v.policy.drillPointInTime });
    }
    const decision = decideRetention(v.backups, { keepFull: v.policy.keepFull, keepDays: v.policy.keepDays }, now, inUse);
    if (decision.delete.length) plan.retention.push({ target: v.target, decision });
  }
  return plan;
}

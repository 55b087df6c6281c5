import type { AlertRule } from '../types';

// The newest restore drill of a target failed: its latest backup did not restore or did not
// verify (a damaged object, a table that does not open, a difference from the source). Critical:
// the backups someone would restore from are in doubt. Resolves when a later drill verifies.
export const backupDrillFailed: AlertRule = {
  name: 'backup_drill_failed',
  evaluate: (s) =>
    (s.backups ?? [])
      .filter((b) => b.lastDrill?.outcome === 'failed')
      .map((b) => ({
        rule: 'backup_drill_failed',
        subject: b.target,
        severity: 'critical' as const,
        message: `the restore drill ${b.lastDrill!.id} of ${b.target} (backup ${b.lastDrill!.backupId}) failed at ${b.lastDrill!.endedAt}: ${b.lastDrill!.message}`,
      })),
};

// No drill verified a backup of the target within backupVerifiedHours (a policy younger than
// that is given the time): nobody knows whether its backups restore.
export const backupNotVerified: AlertRule = {
  name: 'backup_not_verified',
  evaluate: (s) => {
    const hours = s.thresholds.backupVerifiedHours ?? 0;
    if (!hours) return [];
    const limit = s.now - hours * 3600_000;
    return (s.backups ?? [])
      .filter((b) => Date.parse(b.policySince) < limit && !(b.lastVerifiedAt && Date.parse(b.lastVerifiedAt) >= limit))
      .map((b) => ({
        rule: 'backup_not_verified',
        subject: b.target,
        severity: 'warning' as const,
        message: `${b.target} has no backup verified by a restore drill in the last ${hours} hours${b.lastVerifiedAt ? ` (last verified ${b.lastVerifiedAt})` : ' (never verified)'}: give its policy a drill schedule, or see why its drills fail`,
      }));
  },
};

import type { Command } from 'commander';
import type { BackupPolicy__Output } from '../gen/berth/v1/BackupPolicy';
import type { PortalClient } from '../gen/berth/v1/Portal';
import type { AsyncClient } from '../rpc';

interface Out {
  json: () => boolean;
  print: (v: unknown) => void;
  table: (head: string[], rows: (string | number)[][]) => void;
}

// `fleet`, `cluster:NAME` or `instance:NAME` (a bare NAME is an instance).
function scopeOf(target: string): { scope: string; name: string } {
  if (target === 'fleet') return { scope: 'fleet', name: '' };
  const m = /^(cluster|instance):(.+)$/.exec(target);
  return m ? { scope: m[1]!, name: m[2]! } : { scope: 'instance', name: target };
}

const policyRow = (p: BackupPolicy__Output) => [p.scope === 'fleet' ? 'fleet' : `${p.scope}:${p.name}`, p.schedule, `${p.spreadSeconds}s`, p.fullEvery > 1 ? `${p.keepFull || '-'} (1 in ${p.fullEvery} full)` : p.keepFull || '-', p.keepDays || '-', p.drillSchedule ? `${p.drillSchedule}${p.drillPointInTime ? ' (PITR)' : ''}` : '-', p.repository];
const policyHead = ['TARGET', 'SCHEDULE', 'SPREAD', 'KEEP FULL', 'KEEP DAYS', 'DRILLS', 'REPOSITORY'];

// `berthctl backup policy set|get|list|delete` and `berthctl backup status` (docs/backup.md).
export function addBackupPolicyCommands(backup: Command, portal: () => AsyncClient<PortalClient>, out: Out): void {
  const policy = backup.command('policy').description('backup schedules, retention and restore drills: per instance, per cluster, or the fleet default');
  policy
    .command('set <target>')
    .description('create or replace the policy of TARGET: fleet, cluster:NAME or instance:NAME')
    .requiredOption('--schedule <cron>', 'when backups start, cron in UTC (5 fields, or 6 with seconds first), e.g. "0 2 * * *"')
    .option('--spread <seconds>', 'spread start times over this window after each fire (a stable offset per instance)', Number, 3600)
    .option('--keep-full <n>', 'keep the newest N complete backups', Number, 0)
    .option('--keep-days <days>', 'keep backups younger than this', Number, 0)
    .option('--drill-schedule <cron>', 'when to restore the latest backup into spare capacity and check it')
    .option('--drill-point-in-time', 'drills roll the backup forward to a random second after it (with the binary logs)')
    .option('--repository <spec>', "the manager's repository (default)")
    .option('--full-every <n>', 'MariaDB: every Nth backup is full, the others incremental on the newest (keep-full counts full ones)', Number, 0)
    .action(async (target: string, o: { schedule: string; spread: number; keepFull: number; keepDays: number; drillSchedule?: string; drillPointInTime?: boolean; repository?: string; fullEvery: number }) => {
      const p = await portal().setBackupPolicy({ ...scopeOf(target), schedule: o.schedule, spreadSeconds: o.spread, keepFull: o.keepFull, keepDays: o.keepDays, drillSchedule: o.drillSchedule ?? '', drillPointInTime: !!o.drillPointInTime, repository: o.repository ?? '', fullEvery: o.fullEvery });
      if (out.json()) out.print(p);
      else out.table(policyHead, [policyRow(p)]);
    });
  policy
    .command('get <target>')
    .description('the policy set for TARGET')
    .action(async (target: string) => {
      const p = await portal().getBackupPolicy(scopeOf(target));
      if (out.json()) out.print(p);
      else out.table(policyHead, [policyRow(p)]);
    });
  policy
    .command('list')
    .description('every policy')
    .action(async () => {
      const r = await portal().listBackupPolicies({});
      if (out.json()) out.print(r.policies);
      else out.table(policyHead, r.policies.map(policyRow));
    });
  policy
    .command('delete <target>')
    .description("remove TARGET's policy (its backups stay)")
    .action(async (target: string) => {
      await portal().deleteBackupPolicy(scopeOf(target));
      if (!out.json()) process.stdout.write(`policy of ${target} deleted\n`);
      else out.print({});
    });
  backup
    .command('status')
    .description('per instance or cluster a policy covers: last backup, last restore drill (outcome, restore time), last verified')
    .action(async () => {
      const r = await portal().getBackupStatus({});
      if (out.json()) return out.print(r.targets);
      out.table(
        ['TARGET', 'POLICY', 'LAST BACKUP', 'COMPLETE', 'LAST DRILL', 'RESTORE', 'VERIFIED', 'NEXT BACKUP'],
        r.targets.map((t) => [t.target, t.policy, t.lastBackupId ? `${t.lastBackupId} ${t.lastBackupStatus}` : '-', t.completeBackups, t.lastDrillOutcome || '-', t.lastDrillRestoreSeconds ? `${t.lastDrillRestoreSeconds.toFixed(1)}s` : '-', t.lastVerifiedAt || 'never', t.nextBackupAt]),
      );
      for (const t of r.targets) if (t.lastDrillOutcome === 'failed') process.stdout.write(`${t.target}: drill ${t.lastDrillId} failed: ${t.lastDrillMessage}\n`);
    });
}

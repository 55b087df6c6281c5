import client from 'prom-client';
import type { TargetStatus } from '../backups/status';

const seconds = (iso: string) => (iso ? Date.parse(iso) / 1000 : 0);

// Per target a backup policy covers, filled at scrape time from the backup scheduler's status:
// when the last backup and the last verified drill were, whether the last drill verified, and
// how long its restore took.
export function registerBackupGauges(r: client.Registry, status: () => TargetStatus[]): void {
  const labelNames = ['target'] as const;
  // Registered first: its collect fills the others (a registry serializes in registration order).
  const verified = new client.Gauge({
    name: 'berth_backup_last_verified_timestamp_seconds',
    help: 'when a restore drill last verified a backup of the target (0: never)',
    labelNames,
    registers: [r],
    collect() {
      for (const g of [this, ok, restore, lastBackup, complete]) g.reset();
      for (const t of status()) {
        const l = { target: t.target };
        if (t.lastDrill) ok.set(l, t.lastDrill.outcome === 'verified' ? 1 : 0);
        this.set(l, seconds(t.lastVerifiedAt));
        restore.set(l, t.lastDrillRestoreSeconds);
        lastBackup.set(l, seconds(t.lastBackup?.createdAt ?? ''));
        complete.set(l, t.completeBackups);
      }
    },
  });
  const restore = new client.Gauge({ name: 'berth_backup_drill_restore_seconds', help: "the last ended drill's restore time, from operation recorded to instance open", labelNames, registers: [r] });
  const lastBackup = new client.Gauge({ name: 'berth_backup_last_started_timestamp_seconds', help: "when the target's newest backup started", labelNames, registers: [r] });
  const complete = new client.Gauge({ name: 'berth_backup_complete', help: 'complete backups of the target in the catalog', labelNames, registers: [r] });
  const ok = new client.Gauge({ name: 'berth_backup_drill_ok', help: "1 when the target's last ended drill verified its backup, 0 when it failed (absent before the first)", labelNames, registers: [r] });
}

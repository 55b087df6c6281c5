import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { BackupOps } from '../operations/backups';
import type { Engine } from '../operations/engine';
import type { FleetState } from '../state/fleet';
import { runDrill, type DrillDeps } from './drill';
import { decide, effectivePolicy, targetKey, type Plan, type Target, type TargetView } from './plan';
import { targetStatus, type TargetStatus } from './status';

export interface BackupSchedulerConfig {
  // Drills running at once, fleet-wide: each takes an instance's worth of spare capacity.
  maxDrills: number;
}

// The backup scheduler (issue 20 items 4 and 6): every round it gathers the policies, what
// they cover and the catalog, decides (plan.ts, pure) and acts: backups submitted as `backup`
// operations, retention's deletes through the backup delete path (manifest first), drills
// started (drill.ts). Only one round at a time; drills run beside the rounds.
export class BackupScheduler {
  private timer?: NodeJS.Timeout;
  private inRound = false;
  // Drills in flight in this process: their backups are in use, their copies are not targets.
  private readonly drilling = new Map<string, string>();
  private readonly running = new Set<Promise<unknown>>();
  // Copies of interrupted drills being deleted.
  private readonly cleaning = new Set<string>();

  constructor(
    private readonly d: DrillDeps & { fleet: FleetState; engine: Engine; backups: BackupOps; log: Logger },
    private readonly cfg: BackupSchedulerConfig,
  ) {}

  // Drills a previous manager left running are marked failed and their copies deleted (once
  // the copy's restore, resumed by the engine, has ended); meanwhile the copies are no target.
  start(intervalMs: number): void {
    for (const r of this.d.fleet.store.backupDrills.running()) {
      this.d.fleet.store.backupDrills.update(r.id, { outcome: 'failed', message: 'interrupted: the manager restarted during the drill', endedAt: new Date().toISOString() });
      this.track(this.removeInterrupted(r.restoredName, r.operationId));
    }
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  private async removeInterrupted(name: string, restoreOp: string): Promise<void> {
    this.cleaning.add(name);
    try {
      if (restoreOp) await this.d.engine.wait(restoreOp, 6 * 3600_000);
      const copy = this.d.fleet.store.instances.find(name);
      if (!copy) return;
      const op = await this.d.engine.submit('delete', { instance: copy.id });
      await this.d.engine.wait(op.id, 10 * 60_000);
    } catch (err) {
      this.d.log.error({ copy: name, err: errorMessage(err) }, 'deleting an interrupted drill copy');
    } finally {
      this.cleaning.delete(name);
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.finally(() => this.running.delete(q));
    this.running.add(q);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  // Resolves when every drill started so far has ended (tests, shutdown).
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  async tick(now = Date.now()): Promise<Plan | undefined> {
    if (this.inRound || !this.d.backups.configured) return undefined;
    this.inRound = true;
    try {
      const plan = decide(this.gather(), now, this.inUse(), this.cfg.maxDrills - this.drilling.size);
      await this.act(plan);
      return plan;
    } catch (err) {
      this.d.log.error({ err: errorMessage(err) }, 'backup scheduler round failed');
      return undefined;
    } finally {
      this.inRound = false;
    }
  }

  // Standalone running instances (not drill copies) and clusters, each with its policy.
  gather(): TargetView[] {
    const s = this.d.fleet.store;
    const policies = s.backupPolicies.list();
    if (!policies.length) return [];
    const copies = new Set([...s.backupDrills.running().map((r) => r.restoredName), ...this.cleaning]);
    const targets: Target[] = [
      ...s.instances.all().filter((i) => !i.clusterName && i.state === 'running' && !copies.has(i.name)).map((i) => ({ kind: 'instance' as const, name: i.name, instanceId: i.id })),
      ...s.clusters.all().flatMap((c) => {
        const p = s.instances.inCluster(c.name).find((m) => m.clusterRole === 'primary' && m.state === 'running');
        return p ? [{ kind: 'cluster' as const, name: c.name, instanceId: p.id }] : [];
      }),
    ];
    return targets.flatMap((target) => {
      const policy = effectivePolicy(target, policies);
      if (!policy) return [];
      const backups = target.kind === 'cluster' ? s.backups.listCluster(target.name, 1000) : s.backups.list(target.name, 1000);
      const key = targetKey(target);
      const last = s.backupDrills.forTarget(key, 1)[0];
      const flavor = s.instances.get(target.instanceId)?.flavor ?? '';
      return [{ target, policy, backups, flavor, lastDrillStartedAt: last?.startedAt ?? '', drillRunning: [...this.drilling.keys()].includes(key) }];
    });
  }

  status(now = Date.now()): TargetStatus[] {
    return targetStatus(this.d.fleet.store, this.gather(), now);
  }

  // Backups a running restore or drill reads.
  private inUse(): Set<string> {
    const ids = new Set(this.drilling.values());
    for (const op of this.d.fleet.store.operations.active()) if (op.type === 'restore' && typeof op.params.backupId === 'string') ids.add(op.params.backupId);
    return ids;
  }

  private async act(plan: Plan): Promise<void> {
    for (const t of plan.backups) {
      const i = this.d.fleet.store.instances.get(t.instanceId);
      if (!i) continue;
      // An incremental refused at admission (its parent gone meanwhile) becomes a full one.
      const full = () => this.d.backups.create(i, {});
      await (t.incremental ? this.d.backups.create(i, { incremental: true }).catch(full) : full()).catch((err) => this.d.log.warn({ target: targetKey(t), err: errorMessage(err) }, 'scheduled backup refused'));
    }
    for (const r of plan.retention) {
      for (const x of r.decision.delete) {
        try {
          await this.d.backups.delete(x.id);
          this.d.fleet.event('backup.retention', r.target.instanceId, `backup ${x.id} of ${targetKey(r.target)} deleted by retention: ${x.why}`);
        } catch (err) {
          this.d.log.warn({ backup: x.id, err: errorMessage(err) }, 'retention could not delete a backup');
        }
      }
    }
    for (const dr of plan.drills) this.startDrill(dr.target, dr.backupId, dr.pointInTime);
  }

  private startDrill(target: Target, backupId: string, pointInTime: boolean): void {
    const key = targetKey(target);
    this.drilling.set(key, backupId);
    this.track(
      runDrill(this.d, target, backupId, pointInTime)
        .catch((err) => this.d.log.error({ target: key, err: errorMessage(err) }, 'drill failed to run'))
        .finally(() => this.drilling.delete(key)),
    );
  }
}

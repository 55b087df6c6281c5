import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import { memberMoveRefusal } from '../clusters/guard';
import type { UsageMap } from '../state/usage';
import type { Engine } from '../operations/engine';
import type { FleetState } from '../state/fleet';
import type { OperationDeps } from '../operations/deps';
import { planResize } from '../operations/resize';
import { applyLimits, diskPressure, growthRate, propose, updateHighSince, type DiskView, type InstanceView, type PolicyConfig, type Proposal } from './policy';
import { isReservation } from '../operations/reservation';
import { disksBelow, rowsOf } from '../state/watched';

export interface ExpansionRecord {
  at: string;
  instanceId: string;
  name: string;
  node: string;
  trigger: Proposal['trigger'];
  change: Proposal['change'];
  reason: string;
  // acted (an operation started), planned (--auto-expand=plan), skipped (cooldown, cap, busy),
  // refused (no node can take it).
  outcome: 'acted' | 'planned' | 'skipped' | 'refused';
  detail: string;
  operationId: string;
}

const KEEP = 500;
const GROWTH_WINDOW_MS = 10 * 60_000;

// Automatic expansion's loop: gather (instances, the usage agents report, disks), decide (the
// pure policy), act (a resize submitted to the engine, the same path as the API). Every decision is an event
// with its reason and is listed by GET /v1/expansions.
export class Expander {
  private readonly records: ExpansionRecord[] = [];
  private highSince = new Map<string, number>();
  private readonly lastActionAt = new Map<string, number>();
  // Data size samples of instances on disks nearing pressure, for their growth rate.
  private samples = new Map<string, { at: number; bytes: number }[]>();
  private timer?: NodeJS.Timeout;
  private readonly membersSaid = new Set<string>();
  private inRound = false;

  constructor(
    private readonly d: { fleet: FleetState; engine: Engine; usage: UsageMap; ops: OperationDeps; log: Logger },
    readonly cfg: PolicyConfig,
  ) {}

  start(intervalMs: number): void {
    if (this.cfg.mode === 'off') return;
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  list(): ExpansionRecord[] {
    return [...this.records].reverse();
  }

  // One round at a time: a round waits for the commits of the resizes it submits.
  async tick(now = Date.now()): Promise<ExpansionRecord[]> {
    if (this.inRound) return [];
    this.inRound = true;
    try {
      return await this.round(now);
    } catch (err) {
      this.d.log.error({ err: errorMessage(err) }, 'automatic expansion round failed');
      return [];
    } finally {
      this.inRound = false;
    }
  }

  private async round(now: number): Promise<ExpansionRecord[]> {
    const views = this.gather(now);
    this.highSince = updateHighSince(this.highSince, views, now, this.cfg);
    const growth = new Map([...this.samples].map(([id, s]) => [id, growthRate(s)]));
    const proposals = [...diskPressure(this.disks(), views, growth, this.cfg), ...propose(views, this.highSince, now, this.cfg)];
    if (!proposals.length) return [];
    const running = views.filter((v) => this.d.engine.busy(v.id)).map((v) => v.id);
    // Migrations under way (automatic or not), per source node and in all.
    const perNode = new Map<string, number>();
    let migrating = 0;
    for (const op of this.d.fleet.store.operations.active()) {
      if (op.type !== 'migrate') continue;
      const src = (op.params as { source?: { node?: string } }).source?.node ?? '';
      perNode.set(src, (perNode.get(src) ?? 0) + 1);
      migrating++;
    }
    const verdicts = applyLimits(proposals, {
      now,
      lastActionAt: this.lastActionAt,
      busy: new Set(running),
      migratingPerNode: perNode,
      migratingFleet: migrating,
      wouldMigrate: (p) => this.wouldMigrate(p),
    }, this.cfg);
    const out: ExpansionRecord[] = [];
    for (const v of verdicts) out.push(this.record(v.proposal, v.act ? await this.act(v.proposal, now) : { outcome: 'skipped', detail: v.skipped, operationId: '' }, now));
    return out;
  }

  private wouldMigrate(p: Proposal): boolean {
    if (p.mode === 'migrate') return true;
    try {
      return planResize(this.d.ops, { instance: p.instanceId, change: p.change, mode: 'auto' }).decision.kind === 'migrate';
    } catch {
      return false;
    }
  }

  private async act(p: Proposal, now: number): Promise<Pick<ExpansionRecord, 'outcome' | 'detail' | 'operationId'>> {
    if (this.cfg.mode === 'plan') {
      const plan = planResize(this.d.ops, { instance: p.instanceId, change: p.change, mode: p.mode });
      return { outcome: 'planned', detail: `${plan.decision.kind}: ${plan.decision.reason}`, operationId: '' };
    }
    const member = this.memberKept(p);
    if (member) return member;
    try {
      const op = await this.d.engine.submit('resize', { instance: p.instanceId, change: p.change, mode: p.mode, by: `automatic expansion (${p.trigger})` });
      this.lastActionAt.set(p.instanceId, now);
      return { outcome: 'acted', detail: `${op.type} operation started`, operationId: op.id };
    } catch (err) {
      return { outcome: 'refused', detail: errorMessage(err), operationId: '' };
    }
  }

  // A cluster member is never migrated (manager/clusters/guard.ts): skipped, with one event per
  // member until it is resized in place or leaves the cluster.
  private memberKept(p: Proposal): Pick<ExpansionRecord, 'outcome' | 'detail' | 'operationId'> | undefined {
    const i = this.d.fleet.store.instances.get(p.instanceId);
    const why = i && memberMoveRefusal(i);
    if (!why || !this.wouldMigrate(p)) return undefined;
    if (!this.membersSaid.has(p.instanceId)) this.d.fleet.event('expansion.member-skipped', p.instanceId, `${p.reason}; not migrated: ${why}`);
    this.membersSaid.add(p.instanceId);
    return { outcome: 'skipped', detail: `not migrated: ${why}`, operationId: '' };
  }

  private record(p: Proposal, r: Pick<ExpansionRecord, 'outcome' | 'detail' | 'operationId'>, now: number): ExpansionRecord {
    const rec: ExpansionRecord = { at: new Date(now).toISOString(), instanceId: p.instanceId, name: p.name, node: p.node, trigger: p.trigger, change: p.change, reason: p.reason, ...r };
    this.records.push(rec);
    if (this.records.length > KEEP) this.records.splice(0, this.records.length - KEEP);
    // Skips repeat every round: an event for each would drown the log; the list keeps them.
    if (r.outcome !== 'skipped') this.d.fleet.event(`expansion.${r.outcome}`, p.instanceId, `${p.reason}; ${r.detail}`);
    return rec;
  }

  // Only instances that can lead to a proposal: those the usage map marks notable (over half a
  // threshold, see UsageMap) and those on a disk nearing pressure, whose growth is sampled from
  // then on. Reading every instance row each round stalled heartbeats on a large fleet.
  private gather(now: number): InstanceView[] {
    const store = this.d.fleet.store;
    const nearPressure = disksBelow(this.d.fleet.snapshot.nodes(), 2 * this.cfg.diskPressureFreePct);
    const watched = new Set(nearPressure.map((d) => `${d.node}\0${d.path}`));
    const rows = rowsOf(store, this.d.usage.notable());
    for (const node of new Set(nearPressure.map((d) => d.node))) rows.push(...store.instances.onNode(node));
    const out: InstanceView[] = [];
    const seen = new Set<string>();
    const samples = new Map<string, { at: number; bytes: number }[]>();
    for (const i of rows) {
      if (seen.has(i.id) || isReservation(i.name)) continue;
      seen.add(i.id);
      const u = this.d.usage.get(i.id);
      if (!u || u.node !== i.node) continue;
      out.push({ ...i, usedDiskBytes: u.usedDiskBytes, usedMemoryBytes: u.usedMemoryBytes, measuredAtMs: u.measuredAtMs });
      if (!watched.has(`${i.node}\0${i.diskPath}`)) continue;
      const s = this.samples.get(i.id) ?? [];
      if (s.at(-1)?.at !== u.measuredAtMs) s.push({ at: u.measuredAtMs, bytes: u.usedDiskBytes });
      while (s.length > 2 && s[0]!.at < now - GROWTH_WINDOW_MS) s.shift();
      samples.set(i.id, s);
    }
    this.samples = samples;
    return out;
  }

  private disks(): DiskView[] {
    return this.d.fleet.snapshot.nodes().flatMap((n) => n.disks.map((d) => ({ node: n.name, path: d.path, totalBytes: d.totalBytes, freeBytes: d.freeBytes })));
  }
}

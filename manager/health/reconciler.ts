import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { Engine } from '../operations/engine';
import type { LastPrimary } from '../movement/decide';
import type { FailoverParams } from '../operations/cluster-failover';
import type { FleetState } from '../state/fleet';
import type { ClusterRow } from '../store/clusters';
import type { InstanceRow } from '../store/instances';
import type { FailoverNotice } from './alerts/types';
import { atLeast, lastSeenDue, type Seen } from './last-seen';
import { failoverBlocked, judgePrimary, probeDue, type DetectionThresholds, type PrimaryObservation, type PrimaryVerdict, type ReplicaObservation } from './detect';
import { explainNoWriter } from './no-writer';
import { electedPrimary } from '../clusters/group';
import { decideWriter, isGaleraFlavor, type GaleraReport } from '../clusters/galera';
import { probeMysqld } from './probe';
import { decideRepairs, REPAIR_BACKOFF_MAX_MS, REPAIR_BACKOFF_MS, repairKey, type ClusterView, type Decision, type MemberView, type RepairMemo, OPEN_SETTLE_MS } from './repairs';
import type { ReplicationMap } from '../state/replication';

export interface ReconcilerConfig extends DetectionThresholds {
  enabled: boolean;
  intervalMs: number;
  probeTimeoutMs: number;
  // Anti-flap: no second automatic failover of a cluster within this long unless acknowledged.
  periodMs: number;
  // The agents' write lease on primaries (0: none); must be shorter than agentSilentMs.
  leaseMs: number;
  // After an aborted failover, wait this long before trying that cluster again.
  retryAfterAbortMs: number;
  // A fenced member whose host answers is rebuilt from a copy of the primary (cluster-rebuild);
  // a failed rebuild is tried again after this long. 0: never (it stays fenced and stopped).
  rebuildRetryMs: number;
  // A running cluster in which no member has taken writes for this long is a problem
  // (`cluster_no_writable_primary`): longer than a switchover's or a failover's own window.
  noWriterGraceMs: number;
}

// Why a cluster has no writable primary, since when, and what a DBA does about it.
export interface ClusterProblem {
  cluster: string;
  sinceMs: number;
  reason: string;
  action: string;
}

export const DEFAULT_RECONCILER: Omit<ReconcilerConfig, keyof DetectionThresholds> = { enabled: true, intervalMs: 500, probeTimeoutMs: 1000, periodMs: 3_600_000, leaseMs: 4000, retryAfterAbortMs: 30_000, rebuildRetryMs: 300_000, noWriterGraceMs: 5000 };

interface ProbeState {
  atMs: number;
  reachable: boolean;
  failingSinceMs: number;
}

// Keeps each replicated cluster as the store says it should be, every interval: gather (the
// store, the agents' replication reports, the manager's own probe, the engine's holders) →
// decide, pure (detect.ts judges the primary, repairs.ts the repairs, no-writer.ts explains a
// cluster nobody writes to) → submit: a `cluster-failover` when the primary is dead (unless the
// anti-flap rule holds it back), a `cluster-rebuild` for a fenced member that answers, and a
// `cluster-repair` for each small repair (give writes back to the primary, start a restarted
// replica's replication, re-point a replica left behind, stop a fenced member). Every change is a
// recorded operation that takes its locks through the engine; this class never calls an agent.
// It also keeps the write lease each node's agent gets with its heartbeat answer.
export class ClusterReconciler {
  private timer: NodeJS.Timeout | undefined;
  private readonly probes = new Map<string, ProbeState>();
  // Probes under way, each with the episode it belongs to: a result arriving after the primary
  // stopped being probed (a new episode began) is dropped, so failingSinceMs never spans two.
  private readonly probing = new Map<string, Promise<ProbeState>>();
  private readonly episode = new Map<string, number>();
  private readonly leases = new Map<string, string[]>();
  // Per cluster: the judge's last verdict on its primary, and since when the anti-flap rule has
  // held its failover back.
  private readonly lastVerdicts = new Map<string, PrimaryVerdict>();
  private readonly blockedSince = new Map<string, { reason: string; sinceMs: number }>();
  // Per cluster: since when no member has taken writes, and why.
  private readonly noWriter = new Map<string, ClusterProblem>();
  // What the members of each consensus cluster last said of themselves (logged on change).
  private readonly groupSaid = new Map<string, string>();
  // Per Galera cluster: the writer decision waiting to be acted on, and since when.
  private readonly writerPending = new Map<string, { key: string; sinceMs: number }>();
  // The repairs submitted, by `kind:instanceId` (repairs.ts): one at a time per member and kind,
  // never again on a report that predates the last one's end, backing off after failures.
  private readonly repairs = new Map<string, RepairMemo & { failures: number }>();
  private notices: FailoverNotice[] = [];
  private readonly rebuildTried = new Map<string, number>();
  private readonly verdicts = new Map<string, string>();
  // Each member's last state read while its mysqld answered. The replication map holds only an
  // agent's latest report: a restarted agent first reports an instance without replication state
  // (its probe has not read it yet) and, once its container is dead, without identity or GTIDs.
  // A failover judges errant transactions against the dead primary's server_uuid and executed
  // set, and with those empty every transaction on the replicas would look errant.
  // Loaded from the store at start-up, so a restarted manager still knows them.
  private readonly lastKnown = new Map<string, LastPrimary & { atMs: number }>();
  // What the store holds of lastKnown (written only when due: health/last-seen.ts).
  private readonly persisted = new Map<string, Seen>();
  private running = false;

  constructor(
    private readonly d: { fleet: FleetState; engine: Engine; replication: ReplicationMap; log: Logger },
    private readonly cfg: ReconcilerConfig,
  ) {
    for (const { instanceId, ...r } of d.fleet.store.lastSeen.all()) {
      this.persisted.set(instanceId, r);
      this.lastKnown.set(instanceId, { serverUuid: r.serverUuid, serverId: r.serverId, executedGtids: r.executedGtids, atMs: r.seenAtMs });
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  // For the registry: what this node's agent must fence when it stops hearing from us.
  leaseFor(node: string): { leaseMs: number; instanceIds: string[] } | undefined {
    if (!this.cfg.leaseMs) return undefined;
    const ids = this.leases.get(node);
    return ids?.length ? { leaseMs: this.cfg.leaseMs, instanceIds: ids } : undefined;
  }

  failovers(): FailoverNotice[] {
    return this.notices;
  }

  // Clusters without a writable primary for longer than the grace (the alert, `cluster get`).
  problems(now = Date.now()): ClusterProblem[] {
    return [...this.noWriter.values()].filter((p) => now - p.sinceMs >= this.cfg.noWriterGraceMs);
  }

  problemOf(cluster: string, now = Date.now()): ClusterProblem | undefined {
    return this.problems(now).find((p) => p.cluster === cluster);
  }

  // A DBA acknowledged the cluster's last failover: judge it now rather than at the next tick,
  // so a failover the anti-flap rule held back starts at once. Answers the failover running.
  async acknowledged(cluster: string): Promise<string | undefined> {
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    await this.tick();
    return this.d.engine.holders([{ kind: 'cluster', name: cluster }]).find((op) => op.type === 'cluster-failover')?.id;
  }

  async tick(now = Date.now()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const leases = new Map<string, string[]>();
      const notices: FailoverNotice[] = [];
      const clusters = this.d.fleet.store.clusters.all();
      for (const c of clusters) await this.reconcile(c, now, leases, notices);
      this.forgetGone(clusters);
      for (const [node] of this.leases) if (!leases.has(node)) this.leases.delete(node);
      for (const [node, ids] of leases) this.leases.set(node, ids);
      this.notices = notices;
    } catch (err) {
      this.d.log.error({ err: errorMessage(err) }, 'cluster reconciler failed');
    } finally {
      this.running = false;
    }
  }

  private async reconcile(c: ClusterRow, now: number, leases: Map<string, string[]>, notices: FailoverNotice[]): Promise<void> {
    const ms = this.d.fleet.store.instances.inCluster(c.name);
    // A consensus cluster's group elects, fences and opens its own primary: berth follows it
    // and never acts (no failover, repair, lease or read-only change).
    if (c.replication === 'group') return isGaleraFlavor(c.flavor) ? this.keepGaleraWriter(c, ms, now) : this.followGroup(c, ms, now);
    for (const m of ms) this.remember(m, c.flavor || m.flavor);
    // A rebuilt (unfenced) member fenced again later is rebuilt at once, not a period later.
    for (const m of ms) if (!m.fenced) this.rebuildTried.delete(m.id);
    const primary = ms.find((m) => m.clusterRole === 'primary' && !m.fenced);
    const replicas = ms.filter((m) => m.clusterRole === 'replica' && !m.fenced);
    if (primary && replicas.length > 0) leases.set(primary.node, [...(leases.get(primary.node) ?? []), primary.id]);
    notices.push(...this.unacknowledged(c, ms, now));
    const decided = decideRepairs(this.gather(c, ms, primary, now), { repairs: this.repairs, rebuildTried: this.rebuildTried }, this.cfg, now);
    for (const d of decided) await this.submitRepair(c, d, now);
    if (!primary || c.state !== 'running') {
      if (c.state === 'running') this.watchWriter(c, primary, now);
      else this.noWriter.delete(c.name);
      return;
    }
    if (this.cfg.enabled && replicas.length > 0) await this.judge(c, primary, replicas, now);
    // After the judge: its verdict and the anti-flap rule's hold explain the state.
    this.watchWriter(c, primary, now);
  }

  // The store's primary becomes the one the group elected, as soon as a member's fresh report
  // says so (clusters/group.ts electedPrimary).
  private followGroup(c: ClusterRow, ms: InstanceRow[], now: number): void {
    this.noWriter.delete(c.name);
    if (c.state !== 'running') return;
    const reports = ms.flatMap((m) => {
      const r = this.d.replication.get(m.id);
      return r && now - r.receivedAtMs <= this.cfg.agentSilentMs ? [{ ...r.state, id: m.id, mysqldUp: Boolean(r.state.mysqldUp) }] : [];
    });
    const elected = electedPrimary(reports, ms.length);
    const current = ms.find((m) => m.clusterRole === 'primary');
    // Each change of what the members say is logged once, so a group berth does not follow can be
    // explained from the log.
    const said = reports.map((r) => `${r.id}=${r.mysqldUp ? '' : 'down:'}${r.groupState || '-'}/${r.groupRole || '-'}/${r.groupOnline}of${r.groupSize}`).join(' ');
    if (this.groupSaid.get(c.name) !== said) {
      this.groupSaid.set(c.name, said);
      this.d.log.info({ cluster: c.name, members: said, elected: elected ?? '' }, 'group view');
    }
    if (!elected || elected === current?.id) return;
    try {
      this.d.fleet.setPrimary(c.name, elected, 'elected by the group');
      this.d.log.warn({ cluster: c.name, primary: elected, previous: current?.id ?? '' }, 'the group elected a new primary: following it');
    } catch (err) {
      this.d.log.error({ cluster: c.name, primary: elected, err: errorMessage(err) }, 'could not follow the group primary');
    }
  }

  // A Galera cluster's writer is berth's choice (clusters/galera.ts decideWriter): when it can no
  // longer write, another Synced member of the Primary component takes over; a writer that
  // restarted (read-only, as every member boots) is opened again once that has held for
  // OPEN_SETTLE_MS (a report from just before an opening still says read-only).
  private async keepGaleraWriter(c: ClusterRow, ms: InstanceRow[], now: number): Promise<void> {
    this.noWriter.delete(c.name);
    if (c.state !== 'running') return;
    const reports = ms.filter((m) => !m.fenced).map((m): GaleraReport => {
      const r = this.d.replication.get(m.id);
      const fresh = !!r && now - r.receivedAtMs <= this.cfg.agentSilentMs;
      return { id: m.id, live: fresh && Boolean(r.state.mysqldUp), state: r?.state.groupState ?? '', role: r?.state.groupRole ?? '', online: r?.state.groupOnline ?? 0, readOnly: Boolean(r?.state.readOnly) };
    });
    const writer = ms.find((m) => m.clusterRole === 'primary');
    const decision = decideWriter(writer?.id, reports);
    const said = reports.map((r) => `${r.id}=${r.live ? '' : 'down:'}${r.state || '-'}/${r.role || '-'}/${r.online}${r.readOnly ? '/ro' : ''}`).join(' ');
    if (this.groupSaid.get(c.name) !== said) {
      this.groupSaid.set(c.name, said);
      this.d.log.info({ cluster: c.name, members: said, writer: writer?.id ?? '', decision }, 'galera view');
    }
    const key = decision.kind === 'open' ? `open:${decision.id}` : decision.kind === 'change' ? `change:${decision.from}>${decision.to}` : '';
    const since = this.writerPending.get(c.name);
    if (!key) return void this.writerPending.delete(c.name);
    if (since?.key !== key) this.writerPending.set(c.name, { key, sinceMs: now });
    if (decision.kind === 'open' && now - (this.writerPending.get(c.name)!.sinceMs) < OPEN_SETTLE_MS) return;
    if (this.d.engine.holders([{ kind: 'cluster', name: c.name }]).length) return;
    const params = decision.kind === 'open'
      ? { cluster: c.name, from: decision.id, to: decision.id, reason: 'the writer is read-only (it restarted)' }
      : decision.kind === 'change' ? { cluster: c.name, from: decision.from, to: decision.to, reason: 'the writer is not Synced in the Primary component' } : undefined;
    if (!params) return;
    try {
      const op = await this.d.engine.submit('cluster-galera-writer', params);
      this.writerPending.delete(c.name);
      this.d.log.warn({ ...params, operation: op.id }, 'galera writer: changing it');
    } catch (err) {
      this.d.log.debug({ cluster: c.name, err: errorMessage(err) }, 'galera writer change not started');
    }
  }

  // What decideRepairs reads of one cluster: the store's members, each one's latest report while
  // its agent and the report are fresh, and what the engine holds.
  private gather(c: ClusterRow, ms: InstanceRow[], primary: InstanceRow | undefined, now: number): ClusterView {
    const fresh = (atMs: number) => now - atMs <= this.cfg.agentSilentMs;
    const members = ms.map((m): MemberView => {
      const nodeFresh = fresh(this.d.fleet.snapshot.get(m.node)?.lastHeartbeatMs ?? 0);
      const r = this.d.replication.get(m.id);
      const report = r && nodeFresh && fresh(r.receivedAtMs) ? { receivedAtMs: r.receivedAtMs, s: r.state } : undefined;
      const role = m.clusterRole === 'primary' || m.clusterRole === 'replica' ? m.clusterRole : '';
      return { id: m.id, name: m.name, role, fenced: m.fenced, state: m.state, nodeFresh, held: this.d.engine.busy(m.id), report };
    });
    const changedAtMs = Date.parse(this.d.fleet.store.clusters.history(c.name, 1)[0]?.finishedAt ?? '') || 0;
    const primaryHost = primary ? (this.d.fleet.store.nodes.get(primary.node)?.host ?? '') : '';
    const clusterHeld = !!this.d.engine.holder([{ kind: 'cluster', name: c.name }]);
    return { name: c.name, running: c.state === 'running', members, primaryHost, primaryPort: primary?.port ?? 0, clusterHeld, changedAtMs, updatedAtMs: Date.parse(c.updatedAt) || 0 };
  }

  // Submitted through the engine, which refuses it when something holds what it touches; its end
  // is remembered (a repair that failed is tried again after a backoff, never in a loop).
  private async submitRepair(c: ClusterRow, d: Decision, now: number): Promise<void> {
    try {
      if (d.op === 'cluster-rebuild') {
        const op = await this.d.engine.submit('cluster-rebuild', { cluster: c.name, instanceId: d.instanceId });
        this.rebuildTried.set(d.instanceId, now);
        this.d.log.warn({ cluster: c.name, instance: d.instanceId, operation: op.id }, 'fenced member answers again: rebuilding it from a copy of the primary');
        return;
      }
      const key = repairKey(d.kind, d.instanceId);
      const before = this.repairs.get(key);
      const op = await this.d.engine.submit('cluster-repair', { cluster: c.name, kind: d.kind, instanceId: d.instanceId, ...(d.leaseFenced ? { leaseFenced: true } : {}) });
      const memo = { pending: true, endedAtMs: before?.endedAtMs ?? 0, notBeforeMs: 0, failures: before?.failures ?? 0 };
      this.repairs.set(key, memo);
      void this.d.engine.wait(op.id, 2 ** 31 - 1).then((row) => this.repairEnded(memo, row?.state === 'succeeded'));
    } catch (err) {
      this.d.log.debug({ cluster: c.name, decision: d, err: errorMessage(err) }, 'repair not started');
    }
  }

  private repairEnded(memo: RepairMemo & { failures: number }, ok: boolean): void {
    const at = Date.now();
    memo.pending = false;
    memo.endedAtMs = at;
    memo.failures = ok ? 0 : memo.failures + 1;
    memo.notBeforeMs = ok ? 0 : at + Math.min(REPAIR_BACKOFF_MAX_MS, REPAIR_BACKOFF_MS * 2 ** (memo.failures - 1));
  }

  // Clusters and members that are gone: nothing of them is kept.
  private forgetGone(clusters: ClusterRow[]): void {
    const names = new Set(clusters.map((c) => c.name));
    for (const m of [this.noWriter, this.lastVerdicts, this.blockedSince]) for (const k of m.keys()) if (!names.has(k)) m.delete(k);
    const members = new Set(clusters.flatMap((c) => this.d.fleet.store.instances.inCluster(c.name).map((m) => m.id)));
    for (const id of this.lastKnown.keys()) if (!members.has(id)) this.forget(id);
    for (const [key, memo] of this.repairs) if (!memo.pending && !members.has(key.slice(key.indexOf(':') + 1))) this.repairs.delete(key);
  }

  private async judge(c: ClusterRow, primary: InstanceRow, replicas: InstanceRow[], now: number): Promise<void> {
    const o = await this.observe(primary, replicas, now);
    const v = judgePrimary(o, this.cfg);
    this.logVerdict(c.name, primary, v, o);
    this.lastVerdicts.set(c.name, v);
    if (v.state !== 'dead') {
      this.blockedSince.delete(c.name);
      return;
    }
    const past = this.d.fleet.store.clusters.history(c.name, 50).filter((h) => h.kind === 'failover');
    const aborted = past.find((h) => h.outcome === 'aborted' && h.fromInstance === primary.id);
    if (aborted && now - Date.parse(aborted.finishedAt) < this.cfg.retryAfterAbortMs) return;
    const blocked = failoverBlocked(past.filter((h) => h.outcome === 'done').map((h) => ({ atMs: Date.parse(h.finishedAt), acknowledged: h.acknowledged })), now, this.cfg.periodMs);
    if (blocked) {
      if (!this.blockedSince.has(c.name)) this.d.fleet.event('cluster.failover.blocked', c.name, `primary ${primary.name} is dead (${v.reason}) but no automatic failover: ${blocked}`);
      this.blockedSince.set(c.name, { reason: blocked, sinceMs: this.blockedSince.get(c.name)?.sinceMs ?? now });
      return;
    }
    this.blockedSince.delete(c.name);
    await this.submit(c, primary, v.reason, now);
  }

  // Every change of a primary's verdict is logged with what it was judged on: a failover that
  // did not happen is explained by the log, not guessed at.
  private logVerdict(cluster: string, primary: InstanceRow, v: { state: string; reason: string }, o: PrimaryObservation | undefined): void {
    const key = `${v.state}:${v.reason.replace(/\d+ (ms|s)\b/g, '')}`;
    if (this.verdicts.get(cluster) === key) return;
    this.verdicts.set(cluster, key);
    const seen = o && { agentAgoMs: o.now - o.agentLastHeartbeatMs, containerState: o.containerState, agentProbe: o.agentProbe, managerProbe: o.managerProbe, replicas: o.replicas };
    this.d.log.info({ cluster, primary: primary.name, verdict: v.state, reason: v.reason, ...seen }, 'primary verdict');
  }

  private remember(m: InstanceRow, flavor: string): void {
    const r = this.d.replication.get(m.id);
    const s = r?.state;
    if (!s?.mysqldUp || (!s.serverUuid && !s.serverId)) return;
    const prev = this.lastKnown.get(m.id);
    if (prev && prev.atMs >= r!.receivedAtMs) return;
    this.lastKnown.set(m.id, { executedGtids: s.executedGtids, serverUuid: s.serverUuid, serverId: s.serverId, atMs: r!.receivedAtMs });
    const seen: Seen = { serverUuid: s.serverUuid, serverId: s.serverId, executedGtids: s.executedGtids, role: m.clusterRole, seenAtMs: r!.receivedAtMs };
    const before = this.persisted.get(m.id);
    if (!lastSeenDue(flavor === 'mysql' ? 'mysql' : 'mariadb', before, seen)) return;
    this.persisted.set(m.id, seen);
    this.d.fleet.rememberLastSeen({ instanceId: m.id, ...seen }).catch((err) => {
      // Written again at the next tick that finds it due.
      if (this.persisted.get(m.id) === seen) before ? this.persisted.set(m.id, before) : this.persisted.delete(m.id);
      this.d.log.warn({ instance: m.name, err: errorMessage(err) }, 'last-seen state of a member not written');
    });
  }

  // No longer a member (its row, if the instance was deleted, went with it).
  private forget(id: string): void {
    this.lastKnown.delete(id);
    if (!this.persisted.delete(id)) return;
    this.d.fleet.forgetLastSeen(id).catch((err) => this.d.log.warn({ instance: id, err: errorMessage(err) }, 'last-seen state of a former member not deleted'));
  }

  // The dead primary as last seen alive: its latest report when that still names it, else what
  // was remembered (the identity never changes; the executed set only grows).
  // The executed set is also never less than what the primary was known to hold at its
  // promotion: killed within a probe period of a switchover, its last report is from before the
  // cut-over, and the old primary's last transactions (on every replica) would look errant.
  lastPrimary(primary: InstanceRow): LastPrimary {
    const last = this.d.replication.get(primary.id)?.state;
    const known = this.lastKnown.get(primary.id);
    const flavor = this.d.fleet.store.clusters.get(primary.clusterName)?.flavor || primary.flavor;
    const executedGtids = atLeast(flavor === 'mysql' ? 'mysql' : 'mariadb', last?.executedGtids || known?.executedGtids || '', this.d.fleet.store.lastSeen.promoted(primary.id));
    return { executedGtids, serverUuid: last?.serverUuid || known?.serverUuid || '', serverId: last?.serverId || known?.serverId || primary.serverId };
  }

  private async submit(c: ClusterRow, primary: InstanceRow, reason: string, now: number): Promise<void> {
    const params: FailoverParams = { cluster: c.name, primaryId: primary.id, reason, detectedAtMs: now, lastPrimary: this.lastPrimary(primary) };
    try {
      const op = await this.d.engine.submit('cluster-failover', params);
      this.d.log.warn({ cluster: c.name, primary: primary.name, reason, operation: op.id }, 'primary is dead: failover started');
    } catch (err) {
      // Another operation holds the cluster (a switchover, a failover already running).
      this.logVerdict(c.name, primary, { state: 'not-started', reason: errorMessage(err) }, undefined);
    }
  }

  private async observe(primary: InstanceRow, replicas: InstanceRow[], now: number): Promise<PrimaryObservation> {
    const node = this.d.fleet.snapshot.get(primary.node);
    const report = this.d.replication.get(primary.id);
    const agentLastHeartbeatMs = node?.lastHeartbeatMs ?? 0;
    const host = this.d.fleet.store.nodes.get(primary.node)?.host ?? '';
    const rs: ReplicaObservation[] = replicas.map((r) => {
      const rep = this.d.replication.get(r.id);
      const rn = this.d.fleet.snapshot.get(r.node);
      const fresh = Boolean(rep && rn && now - rn.lastHeartbeatMs <= this.cfg.agentSilentMs && now - rep.receivedAtMs <= this.cfg.agentSilentMs && rep.state.mysqldUp);
      const ofPrimary = rep?.state.sourcePort === primary.port && (!host || !rep.state.sourceHost || rep.state.sourceHost === host);
      return { name: r.name, fresh, ioRunning: Boolean(rep?.state.ioRunning && ofPrimary) };
    });
    const due = probeDue({ now, agentLastHeartbeatMs, containerState: primary.state, replicas: rs, mysqldUp: report?.state.mysqldUp }, this.cfg);
    const managerProbe = due ? await this.probeFor(primary, now, now - agentLastHeartbeatMs > this.cfg.agentSilentMs / 2) : this.forgetProbe(primary.id);
    return {
      now,
      agentLastHeartbeatMs,
      containerState: primary.state,
      agentProbe: report ? { measuredAtMs: Number(report.state.measuredAtMs), mysqldUp: report.state.mysqldUp, mysqldDownSinceMs: Number(report.state.mysqldDownSinceMs) } : undefined,
      managerProbe,
      replicas: rs,
    };
  }

  // The manager's probe of a primary. While its agent still reports, the tick waits for the
  // result (a closed port or a greeting answers in milliseconds, and the verdict weighs it against
  // the agent's report). Once the agent is quiet, a probe of a cut-off host takes its whole
  // timeout (dropped packets): the tick does not wait for it but judges on the last finished one,
  // so a tick stays a tick and the silence is acted on within one of crossing its threshold. A
  // silent agent with no finished probe is never a failover (detect.ts: "not probed yet").
  private async probeFor(i: InstanceRow, now: number, agentQuiet: boolean): Promise<ProbeState | undefined> {
    const running = this.probing.get(i.id) ?? this.startProbe(i, now);
    return agentQuiet ? this.probes.get(i.id) : running;
  }

  private startProbe(i: InstanceRow, now: number): Promise<ProbeState> {
    const episode = this.episode.get(i.id) ?? 0;
    const host = this.d.fleet.store.nodes.get(i.node)?.host ?? '127.0.0.1';
    const run = probeMysqld(host, i.port, this.cfg.probeTimeoutMs).then((r) => {
      const prev = this.probes.get(i.id);
      const s: ProbeState = { atMs: now, reachable: r.reachable, failingSinceMs: r.reachable ? 0 : prev && !prev.reachable ? prev.failingSinceMs : now };
      if ((this.episode.get(i.id) ?? 0) === episode) this.probes.set(i.id, s);
      return s;
    });
    const tracked = run.finally(() => this.probing.get(i.id) === tracked && this.probing.delete(i.id));
    this.probing.set(i.id, tracked);
    return tracked;
  }

  // The primary looks well: the next suspicion starts a new probing episode.
  private forgetProbe(id: string): undefined {
    if (this.probes.delete(id) || this.probing.has(id)) this.episode.set(id, (this.episode.get(id) ?? 0) + 1);
    this.probing.delete(id);
    return undefined;
  }

  // Failovers a DBA has not acknowledged, within the anti-flap period (the `failover` alert).
  private unacknowledged(c: ClusterRow, ms: InstanceRow[], now: number): FailoverNotice[] {
    const name = (id: string) => ms.find((m) => m.id === id)?.name ?? id;
    return this.d.fleet.store.clusters
      .history(c.name, 20)
      .filter((h) => h.kind === 'failover' && h.outcome === 'done' && !h.acknowledged && now - Date.parse(h.finishedAt) < this.cfg.periodMs)
      .map((h) => ({ cluster: c.name, atMs: Date.parse(h.finishedAt), from: name(h.fromInstance), to: name(h.toInstance), message: h.message }));
  }

  // Gather (the store, the primary's report, the judge, the engine) → explain (pure,
  // no-writer.ts): since when, and why, no member of the cluster takes writes.
  private watchWriter(c: ClusterRow, primary: InstanceRow | undefined, now: number): void {
    const node = primary && this.d.fleet.snapshot.get(primary.node);
    const heard = node ? node.lastHeartbeatMs : 0;
    const agentFresh = now - heard <= this.cfg.agentSilentMs;
    const rep = primary && this.d.replication.get(primary.id);
    const report = rep && agentFresh && now - rep.receivedAtMs <= this.cfg.agentSilentMs ? { mysqldUp: rep.state.mysqldUp, readOnly: rep.state.readOnly, leaseFenced: rep.state.leaseFenced } : undefined;
    // A repair holds the cluster for one agent call: it explains nothing.
    const op = this.d.engine.holders([{ kind: 'cluster', name: c.name }]).find((o) => o.type !== 'cluster-repair');
    const step = op?.steps[op.state === 'rolling_back' ? op.undoStep : op.nextStep];
    const v = explainNoWriter({
      cluster: c.name,
      primary: primary && { name: primary.name },
      report,
      agentSilentSinceMs: primary && !agentFresh ? heard || 1 : 0,
      verdict: this.lastVerdicts.get(c.name),
      blocked: this.blockedSince.get(c.name),
      holder: op && { id: op.id, type: op.type, state: op.state, step: step?.name ?? '', error: op.error || step?.error || '' },
    });
    if (v.writable) {
      this.noWriter.delete(c.name);
      return;
    }
    this.noWriter.set(c.name, { cluster: c.name, sinceMs: this.noWriter.get(c.name)?.sinceMs ?? now, reason: v.reason, action: v.action });
  }
}

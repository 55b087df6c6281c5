import type { AgentReplicationState__Output } from '../../src/gen/berth/v1/AgentReplicationState';
import type { RepairKind } from '../operations/cluster-repair';

// What the cluster reconciler decides for one cluster, pure: which repairs to submit (each a
// `cluster-repair` operation, or a `cluster-rebuild`), from what it gathered. Nothing here reads
// the store, the engine or the clock.

// A report is acted on again only when received this long after the last repair of that kind on
// that member ended: the agent reads about once a second and reports at every heartbeat, and its
// clock is not ours, so a report received just after may have been read before the repair.
export const OPEN_SETTLE_MS = 3000;
// A repair that failed (an agent not answering) is tried again after this, doubling up to the cap:
// every try is a recorded operation.
export const REPAIR_BACKOFF_MS = 3000;
export const REPAIR_BACKOFF_MAX_MS = 300_000;

export interface MemberView {
  id: string;
  name: string;
  role: 'primary' | 'replica' | '';
  fenced: boolean;
  // The store's state (stopped, running, failed, …).
  state: string;
  // Its agent was heard within the silence threshold.
  nodeFresh: boolean;
  // An operation holds (or waits for) this member.
  held: boolean;
  // Its agent's latest replication report, when recent (within the silence threshold).
  report?: { receivedAtMs: number; s: AgentReplicationState__Output };
}

export interface ClusterView {
  name: string;
  running: boolean;
  members: MemberView[];
  // Where the primary serves (its node's host), for "replicates from an earlier primary".
  primaryHost: string;
  primaryPort: number;
  // An operation holds (or waits for) the cluster itself.
  clusterHeld: boolean;
  // When the last switchover or failover ended (0: never).
  changedAtMs: number;
  // When the cluster's row last changed (its create ended, a primary named): a primary the
  // operation just opened still has reports measured before, which say read-only.
  updatedAtMs: number;
}

// What the reconciler remembers of the repairs it submitted, per key (`kind:instanceId`).
export interface RepairMemo {
  pending: boolean;
  endedAtMs: number;
  // After a failure: not again before this.
  notBeforeMs: number;
}

export interface Memory {
  repairs: ReadonlyMap<string, RepairMemo>;
  // When a rebuild of a member was last started.
  rebuildTried: ReadonlyMap<string, number>;
}

export type Decision = { op: 'cluster-repair'; kind: RepairKind; instanceId: string; leaseFenced?: boolean } | { op: 'cluster-rebuild'; instanceId: string };

export interface DecideConfig {
  // 0: fenced members are never rebuilt.
  rebuildRetryMs: number;
}

export const repairKey = (kind: RepairKind, instanceId: string) => `${kind}:${instanceId}`;

export function decideRepairs(v: ClusterView, mem: Memory, cfg: DecideConfig, now: number): Decision[] {
  const out: Decision[] = [];
  const free = (kind: RepairKind, m: MemberView, reportAtMs = now) => mayRepair(mem.repairs.get(repairKey(kind, m.id)), reportAtMs, now) && !m.held;
  // Stopped whether the cluster runs or not: a fenced member never serves again as it is.
  for (const m of v.members) if (m.fenced && m.state === 'running' && m.nodeFresh && free('stop-fenced', m)) out.push({ op: 'cluster-repair', kind: 'stop-fenced', instanceId: m.id });
  const primary = v.members.find((m) => m.role === 'primary' && !m.fenced);
  if (!primary || !v.running) return out;
  for (const m of v.members) if (mayRebuild(m, primary, mem, cfg, now)) out.push({ op: 'cluster-rebuild', instanceId: m.id });
  if (v.clusterHeld) return out;
  const r = primary.report;
  if (r && closed(r.s) && r.receivedAtMs > Math.max(v.changedAtMs, v.updatedAtMs) + OPEN_SETTLE_MS && free('open-primary', primary, r.receivedAtMs)) out.push({ op: 'cluster-repair', kind: 'open-primary', instanceId: primary.id, leaseFenced: r.s.leaseFenced });
  for (const m of v.members.filter((x) => x.role === 'replica' && !x.fenced && x.report)) {
    const rep = m.report!;
    if (restartedStopped(rep.s) && free('start-replication', m, rep.receivedAtMs)) out.push({ op: 'cluster-repair', kind: 'start-replication', instanceId: m.id });
    else if (leftBehind(rep.s, v) && free('repoint', m, rep.receivedAtMs)) out.push({ op: 'cluster-repair', kind: 'repoint', instanceId: m.id });
  }
  return out;
}

// Not while one runs, not on a report that may predate the last one's end, not before a failed
// one's backoff is over.
function mayRepair(memo: RepairMemo | undefined, reportAtMs: number, now: number): boolean {
  if (!memo) return true;
  return !memo.pending && reportAtMs > memo.endedAtMs + OPEN_SETTLE_MS && now >= memo.notBeforeMs;
}

// The store's primary, answering and read-only.
function closed(s: AgentReplicationState__Output): boolean {
  return s.mysqldUp && s.readOnly;
}

// A replica whose mysqld restarted: replicas start with replication stopped by design (read
// only, no replication at boot); stopped on purpose (an error, or only one thread) is left alone.
function restartedStopped(s: AgentReplicationState__Output): boolean {
  return s.mysqldUp && s.configured && !s.ioRunning && !s.ioConnecting && !s.sqlRunning && !s.lastIoError && !s.lastSqlError && s.readOnly;
}

// Still pointed at an earlier primary (it was down or unreachable during the failover). Reports
// measured before the last switchover or failover (plus a heartbeat) may still name the earlier
// primary although the replica follows the new one already.
function leftBehind(s: AgentReplicationState__Output, v: ClusterView): boolean {
  if (Number(s.measuredAtMs) < v.changedAtMs + 3000) return false;
  return Boolean(s.mysqldUp && s.configured && !s.lastSqlError && v.primaryHost && (s.sourcePort !== v.primaryPort || s.sourceHost !== v.primaryHost));
}

// Only once it is stopped (the fence holds) on a host that answers, with a running primary to
// copy from, and not again soon after a try.
function mayRebuild(m: MemberView, primary: MemberView, mem: Memory, cfg: DecideConfig, now: number): boolean {
  if (!cfg.rebuildRetryMs || !m.fenced || (m.state !== 'stopped' && m.state !== 'failed') || primary.state !== 'running' || !m.nodeFresh || m.held) return false;
  return now - (mem.rebuildTried.get(m.id) ?? 0) >= cfg.rebuildRetryMs;
}

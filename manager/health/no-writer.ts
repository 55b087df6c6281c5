// A cluster whose members all refuse writes is the worst state a DBA can be in without knowing
// it: the failover may be held by the anti-flap rule, the primary fenced by its write lease, an
// operation stuck. Pure: what the reconciler gathered in, why no member takes writes and what to do
// out. Alerted as `cluster_no_writable_primary` and shown as the cluster's PROBLEM.

export interface WriterObservation {
  cluster: string;
  // The member the store names primary, unfenced; absent when there is none.
  primary?: { name: string };
  // Its agent's latest report, when that report and the agent are fresh.
  report?: { mysqldUp: boolean; readOnly: boolean; leaseFenced: boolean };
  // Since when its agent has been silent (0: it is heard).
  agentSilentSinceMs: number;
  // The failover judge's verdict on the primary.
  verdict?: { state: string; reason: string };
  // The anti-flap rule holds the failover back: why, and since when.
  blocked?: { reason: string; sinceMs: number };
  // An operation holding the cluster, when it is stuck or still running.
  holder?: { id: string; type: string; state: string; step: string; error: string };
}

export type WriterVerdict = { writable: true } | { writable: false; reason: string; action: string };

const at = (ms: number) => new Date(ms).toISOString();

export function explainNoWriter(o: WriterObservation): WriterVerdict {
  if (o.report?.mysqldUp && !o.report.readOnly) return { writable: true };
  const c = o.cluster;
  const h = o.holder;
  if (h?.state === 'stuck') {
    return { writable: false, reason: `operation ${h.id} (${h.type}) is stuck at step ${h.step}: ${h.error}`, action: `fix the cause, then berthctl operation retry ${h.id}` };
  }
  if (!o.primary) return { writable: false, reason: 'no member is the primary', action: `berthctl cluster get ${c}; promote a healthy replica with berthctl cluster switchover ${c} --to <replica>` };
  const p = o.primary.name;
  if (o.blocked) {
    return {
      writable: false,
      reason: `primary ${p} is dead (${o.verdict?.reason ?? 'judged dead'}) and its failover has been blocked by the anti-flap rule since ${at(o.blocked.sinceMs)}: ${o.blocked.reason}`,
      action: `berthctl cluster ack-failover ${c} runs the failover now`,
    };
  }
  if (h) return { writable: false, reason: `operation ${h.id} (${h.type}) holds the cluster, at step ${h.step}`, action: `wait for it (berthctl operation wait ${h.id})` };
  if (o.agentSilentSinceMs && (!o.report || o.report.leaseFenced)) {
    return {
      writable: false,
      reason: `primary ${p} is cut off: its agent has been silent since ${at(o.agentSilentSinceMs)}, and its write lease makes it read-only (${o.verdict?.reason ?? 'not judged yet'})`,
      action: `a failover starts once the primary is judged dead; if it does not, check the host of ${p} and berthctl cluster get ${c}`,
    };
  }
  if (o.report?.leaseFenced) {
    return { writable: false, reason: `primary ${p} was made read-only by its write lease while its agent could not reach the manager`, action: 'the manager gives its writes back now that its agent is heard; if it stays, check berthctl events' };
  }
  if (!o.report?.mysqldUp) {
    return { writable: false, reason: `primary ${p} does not answer (${o.verdict?.reason ?? 'no report'})`, action: `a failover starts once it is judged dead; check berthctl cluster get ${c}` };
  }
  return { writable: false, reason: `primary ${p} is read-only`, action: 'the manager opens a primary that booted read-only within seconds; if it stays, check berthctl events' };
}

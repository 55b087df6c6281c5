import type { PlanInstanceResponse } from '../../src/gen/berth/v1/PlanInstanceResponse';
import type { InstanceRow } from '../store/instances';

// Whether an instance may be moved to another node by a migration (resize by migration, drain,
// automatic expansion). A migration copies the data and cuts over to the copy as a standalone
// writable instance: for a cluster member that breaks replication (a replica would stop
// following its primary; a primary would leave its replicas pointed at a stopped server), so
// members are refused with what a DBA does instead. In-place resizes of members are fine.
export function memberMoveRefusal(i: Pick<InstanceRow, 'name' | 'clusterName' | 'clusterRole' | 'fenced'>): string | undefined {
  const c = i.clusterName;
  if (!c) return undefined;
  if (i.fenced) return `${i.name} is a fenced member of cluster ${c} (a former primary): remove it (berthctl cluster remove-replica ${c} ${i.name}) and add a replica instead of moving it`;
  if (i.clusterRole === 'primary') {
    return `${i.name} is the primary of cluster ${c}: a migration would break its replication; switch over first (berthctl cluster switchover ${c}), then replace the former primary (berthctl cluster add-replica ${c}, then berthctl cluster remove-replica ${c} ${i.name})`;
  }
  return `${i.name} is a replica of cluster ${c}: a migration would break its replication; add a replica on another node (berthctl cluster add-replica ${c}), then remove this one (berthctl cluster remove-replica ${c} ${i.name})`;
}

// A resize that would move a member (asked as `migrate`, or `auto` that decided to migrate):
// what ResizeInstance answers with FAILED_PRECONDITION, word for word.
export function memberResizeRefusal(i: Pick<InstanceRow, 'name' | 'clusterName' | 'clusterRole' | 'fenced'>, mode: string, decision: string): string | undefined {
  const member = mode === 'migrate' || decision === 'migrate' ? memberMoveRefusal(i) : undefined;
  return member && `resize of ${i.name} by migration refused: ${member}`;
}

// PlanInstance of such a resize says what ResizeInstance would do: refused, with the DBA's
// action, and no placement.
export function planOfMemberResize(plan: PlanInstanceResponse, i: Pick<InstanceRow, 'name' | 'clusterName' | 'clusterRole' | 'fenced'>, mode: string): PlanInstanceResponse {
  const refusal = memberResizeRefusal(i, mode, plan.resizeDecision ?? '');
  if (!refusal) return plan;
  return { ...plan, resizeDecision: 'refused', resizeReason: refusal, message: refusal, placement: null, verdicts: (plan.verdicts ?? []).map((v) => ({ ...v, chosen: false })) };
}

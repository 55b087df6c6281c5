import { failedPrecondition } from '../../src/errors';
import { endpointOf } from '../clusters/members';
import { repointReplica } from '../movement/replica';
import type { InstanceRow } from '../store/instances';
import type { OperationDeps } from './deps';
import { findCluster } from './cluster-common';
import type { Admission, OperationType, StepContext, Subject } from './types';

// The small repairs the cluster reconciler (manager/health/reconciler.ts) decides on, each one
// agent call on one member:
//   open-primary       the store's primary is up and read-only (it booted so, as every member
//                      does, or its agent's write lease fenced it): writes are given back
//   start-replication  a replica whose mysqld restarted (replication is never started at boot)
//   repoint            a replica still replicating from an earlier primary follows the current one
//   stop-fenced        a fenced member whose host answers again is stopped (rebuilt later)
export type RepairKind = 'open-primary' | 'start-replication' | 'repoint' | 'stop-fenced';

export interface RepairParams {
  cluster: string;
  kind: RepairKind;
  instanceId: string;
  // open-primary: its agent had fenced it by the write lease (the event says the lease was restored).
  leaseFenced?: boolean;
}

const AGENT_MS = 3000;

type Ctx = StepContext<RepairParams>;

// One type for the four kinds: each is a single idempotent agent call with the same life (no
// undo, no point of no return, refused while anything holds what it touches), so one file and
// one step, the kind in the parameters, keep the catalog small; see docs/design.md.
export function clusterRepairOperation(d: OperationDeps): OperationType<RepairParams> {
  return {
    type: 'cluster-repair',
    admit: (r) => admitRepair(d, r),
    // One agent call of a few seconds at most: a DBA's operation queues behind it, not refused.
    brief: true,
    steps: [{ name: 'repair', timeoutMs: 30_000, run: (ctx) => repair(d, ctx) }],
  };
}

// A member repair holds the cluster (nothing else changes its topology meanwhile) and the
// member; stopping a fenced member holds only that member, as its rebuild does.
function admitRepair(d: OperationDeps, r: RepairParams): Admission<RepairParams> {
  findCluster(d, r.cluster);
  const i = d.fleet.store.instances.get(r.instanceId);
  if (!i || i.clusterName !== r.cluster) throw failedPrecondition(`${r.instanceId} is not a member of ${r.cluster}`);
  const why = refusal(i, r.kind);
  if (why) throw failedPrecondition(`${r.kind} of ${i.name}: ${why}`);
  const member: Subject = { kind: 'instance', name: i.id };
  const subjects: Subject[] = r.kind === 'stop-fenced' ? [member] : [{ kind: 'cluster', name: r.cluster }, member];
  return { params: r, subjects, ifBusy: 'refuse' };
}

function refusal(i: InstanceRow, kind: RepairKind): string {
  if (kind === 'stop-fenced') return i.fenced ? '' : 'it is not fenced';
  if (i.fenced) return 'it is fenced';
  if (kind === 'open-primary') return i.clusterRole === 'primary' ? '' : 'it is not the primary';
  return i.clusterRole === 'replica' ? '' : 'it is not a replica';
}

async function repair(d: OperationDeps, ctx: Ctx): Promise<void> {
  const p = ctx.params;
  const i = d.fleet.store.instances.get(p.instanceId);
  // Changed since it was admitted (a failover fenced it, say): nothing to repair any more.
  if (!i || refusal(i, p.kind)) return;
  const agent = d.agents.for(i.node);
  if (p.kind === 'open-primary') {
    await agent.setReadOnly({ id: i.id, readOnly: false }, AGENT_MS);
    if (p.leaseFenced) d.fleet.event('cluster.lease.restored', p.cluster, `${i.name} made writable again: its agent had fenced it while it could not reach the manager`);
    else d.fleet.event('cluster.primary.opened', p.cluster, `${i.name} made writable: it had booted read-only, as every member does`);
  } else if (p.kind === 'start-replication') {
    await agent.startReplica({ id: i.id }, AGENT_MS);
    d.fleet.event('cluster.replication.started', p.cluster, `replication of ${i.name} started again after its mysqld restarted`);
  } else if (p.kind === 'repoint') {
    await repoint(d, p.cluster, i, ctx.signal);
  } else {
    await agent.stopInstance({ id: i.id }, AGENT_MS);
    d.fleet.event('instance.fenced.stopped', i.id, `fenced ${i.name} answered again on ${i.node}: its container is stopped (it is rebuilt from a copy, never rejoined as it is)`);
  }
}

async function repoint(d: OperationDeps, cluster: string, r: InstanceRow, signal: AbortSignal): Promise<void> {
  const c = findCluster(d, cluster);
  const primary = d.fleet.store.instances.inCluster(cluster).find((m) => m.clusterRole === 'primary' && !m.fenced);
  if (!primary) throw new Error(`cluster ${cluster} has no primary to follow`);
  await repointReplica(endpointOf(d, r), endpointOf(d, primary), { user: c.replUser, password: c.replPassword }, { startTimeoutMs: 10_000, signal });
  d.fleet.event('cluster.replica.repointed', cluster, `${r.name} was still replicating from an earlier primary: it follows ${primary.name} now`);
}

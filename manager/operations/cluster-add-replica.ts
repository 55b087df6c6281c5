import { failedPrecondition, invalidArgument, resourceExhausted } from '../../src/errors';
import { placeMembers } from '../clusters/placement';
import { clusterGroup, MAX_REPLICAS } from '../clusters/types';
import { parseConstraints, parseSpreadOver } from '../scheduler/constraints';
import type { OperationDeps } from './deps';
import { clusterSubjects, findCluster, markRunning, mustBeRunning, removeMembers, reserveMember, seedReplica } from './cluster-common';
import { strategyNamed } from './placement';
import type { Admission, AdmitContext, OperationType } from './types';

export interface ReplicaParams {
  cluster: string;
  // The new member (add, reserved with the operation) or the replica to remove.
  replicaId: string;
}

export interface AddReplicaRequest {
  cluster: string;
  // Pinned to this node; else placed like the members before it.
  node?: string;
}

// Placed like the members before it (the cluster's constraints and spread, a host without a
// member), reserved with the operation's record.
function admitAddReplica(d: OperationDeps, r: AddReplicaRequest, a: AdmitContext): Admission<ReplicaParams> {
  const c = findCluster(d, r.cluster);
  mustBeRunning(c);
  const members = d.fleet.store.instances.inCluster(c.name);
  if (members.length >= 1 + MAX_REPLICAS) throw failedPrecondition(`cluster ${c.name} has ${members.length - 1} replicas already, the most it may have`);
  if (r.node && !d.fleet.snapshot.get(r.node)) throw invalidArgument(`node ${r.node} is not registered (berthctl node list shows the nodes)`);
  const constraints = parseConstraints(c.placement.constraints);
  const want = { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, diskBytes: c.diskBytes, node: r.node, constraints: constraints.length ? constraints : undefined, spreadOver: parseSpreadOver(c.placement.spreadOver), antiAffinityGroup: clusterGroup(c.name) };
  const placed = placeMembers(d.fleet.snapshot.nodes(), want, 1, { now: a.now, config: d.scheduler }, strategyNamed(d, c.placement.strategy));
  if (!placed.ok) throw resourceExhausted(`no host can take another replica of ${c.name}: ${placed.message}`);
  const added = reserveMember(d, c, placed.placements[0]!, 'replica', members[0]!.adminPassword);
  const subjects = clusterSubjects(d, c.name);
  d.fleet.event('cluster-add-replica.started', c.name, `new replica ${added.name} on ${added.node} port ${added.port}, seeded from a copy of the primary`);
  return { params: { cluster: c.name, replicaId: added.id }, subjects, ifBusy: 'refuse' };
}

// A replica added to a running cluster: reserved with the operation (admission), built from a hot
// copy of the primary, replicating by GTID from where the copy ends. A failure removes it all.
export function clusterAddReplicaOperation(d: OperationDeps): OperationType<ReplicaParams, AddReplicaRequest> {
  const fleet = d.fleet;
  return {
    type: 'cluster-add-replica',
    admit: (r, a) => admitAddReplica(d, r, a),
    release: { run: (ctx) => void fleet.releaseInstance(ctx.params.replicaId), independent: true },
    failed: (ctx, f) => fleet.event('cluster.add-replica-failed', ctx.params.cluster, `adding a replica failed${f.clean ? ' and was undone' : ` (left: ${f.left.join(', ')})`}: ${f.error}`),
    steps: [
      { name: 'seed', timeoutMs: 6 * 3600_000, run: (ctx) => seedReplica(d, ctx, ctx.params.cluster, ctx.params.replicaId), undo: (ctx) => removeMembers(d, [ctx.params.replicaId]) },
      {
        name: 'mark-running',
        run: async (ctx) => {
          await markRunning(d, [ctx.params.replicaId]);
          fleet.event('cluster.replica-added', ctx.params.cluster, `${fleet.store.instances.get(ctx.params.replicaId)?.name} replicates from the primary`);
        },
      },
    ],
  };
}

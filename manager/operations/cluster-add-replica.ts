import type { OperationDeps } from './deps';
import { markRunning, removeMembers, seedReplica } from './cluster-common';
import type { OperationType, StepContext } from './types';

export interface ReplicaParams {
  cluster: string;
  // The new member (add, reserved with the operation) or the replica to remove.
  replicaId: string;
}

// A replica added to a running cluster: reserved with the operation (step 0), built from a hot
// copy of the primary, replicating by GTID from where the copy ends. A failure removes it all.
export function clusterAddReplicaOperation(d: OperationDeps): OperationType<ReplicaParams> {
  const fleet = d.fleet;
  return {
    type: 'cluster-add-replica',
    failed: (ctx, f) => fleet.event('cluster.add-replica-failed', ctx.params.cluster, `adding a replica failed${f.clean ? ' and was undone' : ` (left: ${f.left.join(', ')})`}: ${f.error}`),
    steps: [
      { name: 'reserve', run: async () => undefined, undo: async (ctx) => void fleet.releaseInstance(ctx.params.replicaId), independentUndo: true },
      { name: 'seed', timeoutMs: 6 * 3600_000, run: (ctx) => seedReplica(d, ctx as StepContext<unknown>, ctx.params.cluster, ctx.params.replicaId), undo: (ctx) => removeMembers(d, [ctx.params.replicaId]) },
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

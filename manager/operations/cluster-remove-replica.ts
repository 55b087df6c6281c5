import type { OperationDeps } from './deps';
import { removeMembers } from './cluster-common';
import type { ReplicaParams } from './cluster-add-replica';
import type { OperationType } from './types';

// One replica goes: its container and files, then its reservation. Never the primary (the API
// refuses; a switchover comes first). Nothing to undo: run it again to finish.
export function clusterRemoveReplicaOperation(d: OperationDeps): OperationType<ReplicaParams> {
  const fleet = d.fleet;
  return {
    type: 'cluster-remove-replica',
    steps: [
      {
        name: 'mark-deleting',
        run: async (ctx) => {
          const i = fleet.store.instances.get(ctx.params.replicaId);
          if (i?.clusterRole === 'primary') throw new Error(`${i.name} became the primary meanwhile: switch over first`);
          if (i) fleet.updateInstance(i.id, { state: 'deleting' });
        },
      },
      { name: 'remove-container', retries: 2, backoffMs: 2000, run: (ctx) => removeMembers(d, [ctx.params.replicaId]) },
      {
        name: 'release',
        run: async (ctx) => {
          const row = fleet.releaseInstance(ctx.params.replicaId);
          if (row) fleet.event('cluster.replica-removed', ctx.params.cluster, `${row.name} removed`);
        },
      },
    ],
  };
}

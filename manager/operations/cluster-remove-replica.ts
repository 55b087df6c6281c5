import { failedPrecondition } from '../../src/errors';
import type { OperationDeps } from './deps';
import { clusterSubjects, findCluster, memberOf, removeMembers } from './cluster-common';
import type { ReplicaParams } from './cluster-add-replica';
import type { Admission, OperationType } from './types';

export interface RemoveReplicaRequest {
  cluster: string;
  // An id or a name.
  instance: string;
}

// Never the primary, nor the last replica of a semi-sync cluster.
function admitRemoveReplica(d: OperationDeps, r: RemoveReplicaRequest): Admission<ReplicaParams> {
  const c = findCluster(d, r.cluster);
  const i = memberOf(d, c, r.instance);
  if (i.clusterRole === 'primary') throw failedPrecondition(`${i.name} is the primary of ${c.name}: switch over first`);
  const replicas = d.fleet.store.instances.inCluster(c.name).filter((m) => m.clusterRole === 'replica' && !m.fenced);
  if (c.replication === 'semi-sync' && replicas.length === 1 && replicas[0]!.id === i.id) {
    throw failedPrecondition(`${i.name} is the last replica of semi-sync cluster ${c.name}: the primary would have nobody to acknowledge its writes`);
  }
  const params = { cluster: c.name, replicaId: i.id };
  d.fleet.event('cluster-remove-replica.started', c.name, `cluster-remove-replica of cluster ${c.name} ${JSON.stringify(params)}`);
  return { params, subjects: clusterSubjects(d, c.name), ifBusy: 'refuse' };
}

// One replica goes: its container and files, then its reservation. Never the primary (the API
// refuses; a switchover comes first). Nothing to undo: run it again to finish.
export function clusterRemoveReplicaOperation(d: OperationDeps): OperationType<ReplicaParams, RemoveReplicaRequest> {
  const fleet = d.fleet;
  return {
    type: 'cluster-remove-replica',
    admit: (r) => admitRemoveReplica(d, r),
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

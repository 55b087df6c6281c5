import type { OperationDeps } from './deps';
import { clusterSubjects, findCluster, removeMembers } from './cluster-common';
import type { Admission, OperationType } from './types';

export interface ClusterDeleteParams {
  cluster: string;
}

// Queued behind whatever holds the cluster.
function admitDelete(d: OperationDeps, r: ClusterDeleteParams): Admission<ClusterDeleteParams> {
  const c = findCluster(d, r.cluster);
  d.fleet.event('cluster-delete.started', c.name, `cluster-delete of cluster ${c.name}`);
  return { params: { cluster: c.name }, subjects: clusterSubjects(d, c.name), ifBusy: 'wait' };
}

// Every member's container and files, then their reservations and the cluster's row. Nothing to
// undo: a failed delete leaves the cluster failed, and running it again finishes the job.
export function clusterDeleteOperation(d: OperationDeps): OperationType<ClusterDeleteParams> {
  const fleet = d.fleet;
  const members = (name: string) => fleet.store.instances.inCluster(name);
  return {
    type: 'cluster-delete',
    admit: (r) => admitDelete(d, r),
    failed: (ctx, f) => {
      if (fleet.store.clusters.get(ctx.params.cluster)) fleet.setClusterState(ctx.params.cluster, 'failed', { message: `delete failed, run it again: ${f.error}` });
    },
    steps: [
      {
        name: 'mark-deleting',
        run: async (ctx) => {
          fleet.change(() => {
            if (fleet.store.clusters.get(ctx.params.cluster)) fleet.setClusterState(ctx.params.cluster, 'deleting');
            for (const m of members(ctx.params.cluster)) fleet.updateInstance(m.id, { state: 'deleting' });
          });
        },
      },
      { name: 'remove-containers', retries: 2, backoffMs: 2000, run: (ctx) => removeMembers(d, members(ctx.params.cluster).map((m) => m.id)) },
      {
        name: 'release',
        run: async (ctx) => {
          fleet.change(() => {
            for (const m of members(ctx.params.cluster)) fleet.releaseInstance(m.id);
            if (fleet.store.clusters.get(ctx.params.cluster)) fleet.deleteCluster(ctx.params.cluster);
          });
        },
      },
    ],
  };
}

import { failedPrecondition, notFound } from '../../src/errors';
import { removeContainer } from './create';
import type { OperationDeps } from './deps';
import { instanceIdOf } from './deps';
import { mustBeDown } from './placement';
import type { Admission, OperationType } from './types';

// What a forced delete leaves on the host, recorded as its output and as an event, so whoever
// sees the host again knows the files are not berth's any more.
async function forget(d: OperationDeps, id: string): Promise<{ forgotten: string } | undefined> {
  const i = d.fleet.store.instances.get(id);
  if (!i) return undefined;
  const where = `${i.node}:${i.diskPath}/berth/${i.id}`;
  d.fleet.event('instance.force_deleted', i.id, `${i.name} forgotten without its node; its container and files may remain at ${where} (port ${i.port})`);
  return { forgotten: where };
}

export interface DeleteParams {
  instanceId: string;
  // The node is gone: forget the instance without calling it (its files may remain there).
  force?: boolean;
}

export interface DeleteRequest {
  // An id or a name.
  instance: string;
  force?: boolean;
}

// Waits behind an operation already on a running instance (it is queued, in order); refuses,
// naming the holder, when the instance is still being built or torn down.
// force: the node is gone for good; the instance is forgotten without calling it.
function admitDelete(d: OperationDeps, r: DeleteRequest): Admission<DeleteParams> {
  const i = d.fleet.store.instances.find(r.instance);
  if (!i) throw notFound(`no instance ${r.instance}`);
  if (r.force) mustBeDown(d, i.node, `force-delete ${i.name}`);
  if (i.clusterName) throw failedPrecondition(`${i.name} is a member of cluster ${i.clusterName}: berthctl cluster remove-replica (or cluster delete) removes it`);
  d.fleet.event('delete.started', i.id, `${r.force ? 'force-delete' : 'delete'} ${i.name} on ${i.node}`);
  return { params: { instanceId: i.id, ...(r.force ? { force: true } : {}) }, subjects: [{ kind: 'instance', name: i.id }], ifBusy: i.state === 'running' && !r.force ? 'wait' : 'refuse' };
}

// Removes an instance: container and files on its node, then its reservation. Nothing to undo:
// a failed delete leaves the instance marked failed, and running it again finishes the job.
export function deleteOperation(d: OperationDeps): OperationType<DeleteParams, DeleteRequest> {
  const fleet = d.fleet;
  return {
    type: 'delete',
    admit: (r) => admitDelete(d, r),
    failed: (ctx, f) => {
      const id = instanceIdOf(ctx);
      if (fleet.store.instances.get(id)) fleet.updateInstance(id, { state: 'failed', message: `delete failed, run it again: ${f.error}` });
    },
    steps: [
      {
        name: 'mark-deleting',
        run: async (ctx) => {
          const id = instanceIdOf(ctx);
          if (fleet.store.instances.get(id)) fleet.updateInstance(id, { state: 'deleting' });
        },
      },
      { name: 'remove-container', run: (ctx) => (ctx.params.force ? forget(d, instanceIdOf(ctx)) : removeContainer(d, instanceIdOf(ctx))) },
      { name: 'release', run: async (ctx) => void fleet.releaseInstance(instanceIdOf(ctx)) },
    ],
  };
}

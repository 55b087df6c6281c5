import { removeContainer } from './create';
import type { OperationDeps } from './deps';
import { instanceIdOf } from './deps';
import type { OperationType } from './types';

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

// Removes an instance: container and files on its node, then its reservation. Nothing to undo:
// a failed delete leaves the instance marked failed, and running it again finishes the job.
export function deleteOperation(d: OperationDeps): OperationType<DeleteParams> {
  const fleet = d.fleet;
  return {
    type: 'delete',
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

import { removeContainer } from './create';
import type { OperationDeps } from './deps';
import { instanceIdOf } from './deps';
import type { OperationType } from './types';

export interface DeleteParams {
  instanceId: string;
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
      { name: 'remove-container', run: (ctx) => removeContainer(d, instanceIdOf(ctx)) },
      { name: 'release', run: async (ctx) => void fleet.releaseInstance(instanceIdOf(ctx)) },
    ],
  };
}

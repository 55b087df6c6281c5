import { clusterCreateOperation } from './cluster-create';
import { clusterDeleteOperation } from './cluster-delete';
import { clusterAddReplicaOperation } from './cluster-add-replica';
import { clusterRebuildOperation } from './cluster-rebuild';
import { clusterRemoveReplicaOperation } from './cluster-remove-replica';
import { clusterSwitchoverOperation } from './cluster-switchover';
import { createOperation } from './create';
import { deleteOperation } from './delete';
import type { OperationDeps } from './deps';
import type { Engine } from './engine';
import { drainOperation } from './drain';
import { migrateOperation } from './migrate';
import { resizeOperation } from './resize';
import type { OperationType } from './types';

// Every operation type, by name, as the scheduler keeps its strategies: one file each. Add a
// type by writing its file and naming it here.
export const OPERATION_TYPES: Record<string, (d: OperationDeps) => OperationType<any>> = {
  create: createOperation,
  delete: deleteOperation,
  resize: resizeOperation,
  drain: drainOperation,
  migrate: migrateOperation,
  'cluster-create': clusterCreateOperation,
  'cluster-delete': clusterDeleteOperation,
  'cluster-add-replica': clusterAddReplicaOperation,
  'cluster-remove-replica': clusterRemoveReplicaOperation,
  'cluster-switchover': clusterSwitchoverOperation,
  'cluster-rebuild': clusterRebuildOperation,
};

export function registerOperationTypes(engine: Engine, d: OperationDeps): void {
  for (const make of Object.values(OPERATION_TYPES)) engine.register(make(d));
}

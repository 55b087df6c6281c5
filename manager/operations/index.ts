import { backupOperation } from './backup';
import { clusterCreateOperation } from './cluster-create';
import { clusterDeleteOperation } from './cluster-delete';
import { clusterGroupCreateOperation } from './cluster-group-create';
import { clusterGaleraWriterOperation } from './cluster-galera-writer';
import { clusterAddReplicaOperation } from './cluster-add-replica';
import { clusterFailoverOperation } from './cluster-failover';
import { clusterRebuildOperation } from './cluster-rebuild';
import { clusterRepairOperation } from './cluster-repair';
import { clusterRemoveReplicaOperation } from './cluster-remove-replica';
import { clusterSwitchoverOperation } from './cluster-switchover';
import { createOperation } from './create';
import { deleteOperation } from './delete';
import type { OperationDeps } from './deps';
import { drainOperation } from './drain';
import { migrateOperation } from './migrate';
import { resizeOperation } from './resize';
import { restoreOperation } from './restore';
import type { AnyOperationType, OperationType } from './types';

// Every operation type, by name, as the scheduler keeps its strategies: one file each. Add a
// type by writing its file and naming it here (docs/design.md, "Adding an operation type").
// The engine resumes recorded operations by these names, and Engine.submit checks what a caller
// asks for against the named type's request.
export const OPERATION_TYPES = {
  create: createOperation,
  delete: deleteOperation,
  resize: resizeOperation,
  drain: drainOperation,
  migrate: migrateOperation,
  'cluster-create': clusterCreateOperation,
  'cluster-group-create': clusterGroupCreateOperation,
  'cluster-galera-writer': clusterGaleraWriterOperation,
  'cluster-delete': clusterDeleteOperation,
  'cluster-add-replica': clusterAddReplicaOperation,
  'cluster-remove-replica': clusterRemoveReplicaOperation,
  'cluster-switchover': clusterSwitchoverOperation,
  'cluster-failover': clusterFailoverOperation,
  'cluster-rebuild': clusterRebuildOperation,
  'cluster-repair': clusterRepairOperation,
  backup: backupOperation,
  restore: restoreOperation,
} satisfies Record<string, (d: OperationDeps) => AnyOperationType>;

export type OperationTypes = { [K in keyof typeof OPERATION_TYPES]: ReturnType<(typeof OPERATION_TYPES)[K]> };
export type OperationName = keyof OperationTypes;

export function registerOperationTypes(engine: { register<P, R>(t: OperationType<P, R>): void }, d: OperationDeps): void {
  const makers: ((d: OperationDeps) => AnyOperationType)[] = Object.values(OPERATION_TYPES);
  for (const make of makers) engine.register(make(d));
}

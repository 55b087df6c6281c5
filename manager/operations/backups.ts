import { formatRepository } from '../../src/backup/repository';
import type { BackupRow } from '../store/backups';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import { deleteBackup, syncCatalog } from './backup';
import { backupDeps, type OperationDeps } from './deps';
import type { Engine } from './engine';
import { prepareRestore, type RestoreRequest } from './restore';

// What the backup RPCs ask of the operations layer: the backup and restore operation types
// (backup.ts, restore.ts, each owning its admission) submitted through the engine, and the two
// catalog actions that are not operations (delete, sync). Without --backup-repository each
// refuses with FAILED_PRECONDITION.
export class BackupOps {
  constructor(
    private readonly deps: OperationDeps,
    private readonly engine: Engine,
  ) {}

  get configured(): boolean {
    return !!this.deps.backup;
  }

  // The repository as policies and the catalog name it (dir:/path); undefined without one.
  get repository(): string | undefined {
    return this.deps.backup ? formatRepository(this.deps.backup.repository.spec) : undefined;
  }

  async create(i: InstanceRow, opts: { rateBytesPerSecond?: number; allowPrimary?: boolean; incremental?: boolean }): Promise<{ backup: BackupRow; operation: OperationRow }> {
    const op = await this.engine.submit('backup', { instanceId: i.id, ...opts });
    return { backup: this.deps.fleet.store.backups.get(op.params.backupId)!, operation: op };
  }

  async restore(r: RestoreRequest): Promise<{ instance: InstanceRow; operation: OperationRow }> {
    const op = await this.engine.submit('restore', await prepareRestore(this.deps, r));
    return { instance: this.deps.fleet.store.instances.get(op.params.instanceId)!, operation: op };
  }

  delete(id: string): Promise<BackupRow> {
    return deleteBackup(backupDeps(this.deps), (opId) => this.engine.get(opId), id);
  }

  sync(): Promise<{ added: string[]; incomplete: string[]; refused: string[] }> {
    return syncCatalog(backupDeps(this.deps));
  }
}

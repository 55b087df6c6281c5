import { failedPrecondition } from '../../src/errors';
import type { BackupRow } from '../store/backups';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import { admitBackup, backupOperation, deleteBackup, syncCatalog, type BackupConfig, type BackupDeps } from './backup';
import type { OperationDeps } from './deps';
import type { Engine } from './engine';
import { admitRestore, restoreOperation, type RestoreRequest } from './restore';

// The front door of backups and restores: registers their operation types (backup.ts,
// restore.ts, each with its own admission) and refuses everything when the manager has no
// repository (--backup-repository).
export class BackupOps {
  private readonly d: BackupDeps;

  constructor(
    deps: OperationDeps,
    private readonly engine: Engine,
    private readonly config: BackupConfig | undefined,
  ) {
    const self = this;
    this.d = {
      ...deps,
      get backup(): BackupConfig {
        return self.mustConfig();
      },
    };
    engine.register(backupOperation(this.d));
    engine.register(restoreOperation(this.d));
  }

  get configured(): boolean {
    return !!this.config;
  }

  private mustConfig(): BackupConfig {
    if (!this.config) throw failedPrecondition('this manager has no backup repository: start it with --backup-repository dir:/path');
    return this.config;
  }

  create(i: InstanceRow, opts: { rateBytesPerSecond?: number; allowPrimary?: boolean }): { backup: BackupRow; operation: OperationRow } {
    this.mustConfig();
    return admitBackup(this.d, this.engine, i, opts);
  }

  restore(r: RestoreRequest): Promise<{ instance: InstanceRow; operation: OperationRow }> {
    this.mustConfig();
    return admitRestore(this.d, this.engine, r);
  }

  delete(id: string): Promise<BackupRow> {
    this.mustConfig();
    return deleteBackup(this.d, this.engine, id);
  }

  sync(): Promise<{ added: string[]; incomplete: string[]; refused: string[] }> {
    this.mustConfig();
    return syncCatalog(this.d);
  }
}

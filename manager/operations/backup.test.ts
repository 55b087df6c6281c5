import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { DATA_OBJECT, DirRepository, loadRepositoryKey, makeManifest, newBackupId, parseRepository, writeAtomic } from '../../src/backup/repository';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { syncCatalog, type BackupDeps } from './backup';
import { BackupOps } from './backups';
import { Engine } from './engine';
import { registerOperationTypes } from './index';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';

describe('backup catalog from the repository alone', () => {
  it('a new manager (empty store, the key file) lists the complete backups an old one wrote, never the interrupted ones', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'catalog-'));
    const keyFile = path.join(root, 'backup.key');
    const repo = new DirRepository(parseRepository(`dir:${root}/repo`));
    const id = newBackupId();
    await writeAtomic(repo.objectPath(id, DATA_OBJECT), randomBytes(100));
    const sum = await repo.checksum(id, DATA_OBJECT);
    await repo.writeManifest(
      makeManifest(
        [loadRepositoryKey(keyFile)],
        {
          id,
          createdAt: '2026-12-07T10:00:00.000Z',
          completedAt: '2026-12-07T10:00:03.000Z',
          instance: { id: 'i-0123456789', name: 'orders-1', cluster: 'orders', flavor: 'mysql', version: '9.7.4', image: 'berth/mysql:9.7', cpuMillis: 500, memoryBytes: 1 << 30, diskBytes: 1 << 30 },
          source: { instanceId: 'i-9876543210', name: 'orders-2', node: 'h2', role: 'replica' },
          method: 'clone',
          archive: 'tar',
          compression: 'gzip',
          gtid: 'uuid:1-5',
          objects: [{ name: DATA_OBJECT, storedBytes: sum.bytes, storedSha256: sum.sha256, plainBytes: 0, plainSha256: '' }],
        },
        randomBytes(32),
      ),
    );
    const interrupted = newBackupId();
    await writeAtomic(repo.objectPath(interrupted, `${DATA_OBJECT}.partial`), randomBytes(10));

    const fleet = FleetState.load(Store.open(':memory:'));
    const d = { fleet, agents: { for: () => undefined }, agentCreateDeadlineMs: 1, backup: { repository: repo, keys: [loadRepositoryKey(keyFile, false)], rateBytesPerSecond: 0 } } as unknown as BackupDeps;
    expect(await syncCatalog(d)).toEqual({ added: [id], incomplete: [interrupted], refused: [] });
    expect(fleet.store.backups.get(id)).toMatchObject({ status: 'complete', instanceName: 'orders-1', cluster: 'orders', flavor: 'mysql', method: 'clone', sourceInstance: 'i-9876543210', sourceNode: 'h2', gtid: 'uuid:1-5', storedBytes: 100 });
    expect(fleet.store.backups.get(interrupted)).toBeUndefined();
    // Again: nothing new.
    expect((await syncCatalog(d)).added).toEqual([]);
  });

  it('without a repository every backup call is refused, and the types are registered for resumes', async () => {
    const store = Store.open(':memory:');
    const fleet = FleetState.load(store);
    const engine = new Engine(fleet, createLogger('test', 'error'));
    const deps = { fleet, agents: { for: () => undefined as never }, agentCreateDeadlineMs: 1, scheduler: DEFAULT_SCHEDULER_CONFIG };
    registerOperationTypes(engine, deps);
    expect(engine.has('backup') && engine.has('restore')).toBe(true);
    const ops = new BackupOps(deps, engine);
    await expect(ops.create({ id: 'i-1' } as never, {})).rejects.toThrow(/no backup repository: start it with --backup-repository/);
    await expect(ops.sync()).rejects.toThrow(/no backup repository/);
    expect(store.operations.page({ limit: 10, offset: 0 }).total).toBe(0);
  });
});

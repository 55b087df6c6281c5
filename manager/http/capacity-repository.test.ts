import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirRepository, parseRepository } from '../../src/backup/repository';
import { createLogger } from '../../src/log';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { UsageMap } from '../state/usage';
import { Store } from '../store/index';
import { buildAdminServer } from './server';

const auth = { authorization: 'Bearer t' };

// GET /v1/capacity reports the backup repository's use from the catalog (complete backups only,
// and the continuous archive's pieces) and the free space of a dir: repository's file system.
describe('admin HTTP: the backup repository in the capacity report', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-repo-use-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts complete backups and archive pieces, and measures free space', async () => {
    const store = new Store(Store.open(':memory:').db);
    const base = { instanceId: 'i-0000000001', instanceName: 'db1', cluster: 'orders', flavor: 'mysql', repository: `dir:${dir}`, operationId: 'op-1' };
    store.backups.insert({ ...base, id: 'b-1', status: 'complete', storedBytes: 1000 });
    store.backups.insert({ ...base, id: 'b-2', status: 'complete', storedBytes: 500 });
    // A backup cut short holds nothing usable: not counted.
    store.backups.insert({ ...base, id: 'b-3', status: 'failed', storedBytes: 70 });
    store.binlogArchives.enable({ cluster: 'orders', flavor: 'mysql', keyId: 'k', dataKey: 'x' });
    const piece = { cluster: 'orders', sourceInstance: 'i-0000000001', file: 'binlog.000001', fromOffset: 0, toOffset: 10, gtids: '', before: '', firstEventAt: 1, lastEventAt: 2 };
    store.binlogArchives.addPiece({ ...piece, id: 'b-p1', storedBytes: 30 });
    store.binlogArchives.addPiece({ ...piece, id: 'b-p2', storedBytes: 12 });
    const repo = new DirRepository(parseRepository(`dir:${dir}`));
    const deps = { store, snapshot: Snapshot.fromStore([], []), usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: 't' };
    const app = await buildAdminServer({ ...deps, backupRepository: { spec: `dir:${dir}`, freeBytes: () => repo.freeBytes() } });
    const r = (await app.inject({ method: 'GET', url: '/v1/capacity', headers: auth })).json() as { repository: Record<string, unknown> };
    await app.close();
    expect(r.repository).toMatchObject({ spec: `dir:${dir}`, backups: 2, backupBytes: 1500, binlogPieces: 2, binlogBytes: 42, usedBytes: 1542 });
    const free = fs.statfsSync(dir);
    expect(r.repository.freeBytes).toBeGreaterThan(0);
    expect(Math.abs((r.repository.freeBytes as number) - free.bavail * free.bsize)).toBeLessThan(64 * 1024 ** 2);
    // Without a repository the report has no such part.
    const plain = await buildAdminServer(deps);
    expect((await plain.inject({ method: 'GET', url: '/v1/capacity', headers: auth })).json()).not.toHaveProperty('repository');
    await plain.close();
  });
});

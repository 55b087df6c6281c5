import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { DirRepository, loadRepositoryKey, openDataKey, parseRepository } from '../../src/backup/repository';
import { syncCatalog } from '../operations/backup';
import type { SealedBinlogPiece } from '../../src/gen/berth/v1/SealedBinlogPiece';
import { FleetState } from '../state/fleet';
import { ReplicationMap } from '../state/replication';
import { Store } from '../store/index';
import { BinlogArchiveReconciler, DEFAULT_ARCHIVER, newArchiveKey } from './binlog-archiver';

const G = 1024 ** 3;
const U = '5a3d885d-f270-11f1-8909-f1d5593d2609';
const log = createLogger('test', 'silent');

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archiver-'));
  const backup = { repository: new DirRepository(parseRepository(`dir:${dir}`)), keys: [loadRepositoryKey(path.join(dir, 'backup.key'))], rateBytesPerSecond: 0 };
  const fleet = FleetState.load(Store.open(':memory:'));
  const now = Date.now();
  for (const n of ['a', 'b']) {
    fleet.registerNode({ name: n, agentAddress: `${n}:1`, host: `127.0.0.${n === 'a' ? 1 : 2}`, labels: {}, cpuMillis: 4000, memoryBytes: 4 * G, portMin: 1, portMax: 65535, busyPorts: [], agentVersion: '', dockerVersion: '', lastHeartbeatMs: now, disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] }, []);
  }
  fleet.createCluster({ name: 'shop', state: 'running', replication: 'semi-sync', semiSyncTimeoutMs: 10_000, flavor: 'mysql', image: 'img', cpuMillis: 500, memoryBytes: G, diskBytes: G, placement: { constraints: [], spreadOver: '', strategy: '' }, replUser: 'repl', replPassword: 'secret', monitorUser: 'm', monitorPassword: 'p' });
  for (const n of ['a', 'b']) {
    fleet.reserveInstance({ id: `i-${n}${n}${n}${n}${n}${n}${n}${n}${n}${n}`, name: `shop-${n}`, serverId: n === 'a' ? 1 : 2, node: n, diskPath: '/d', port: 3306, cpuMillis: 500, memoryBytes: G, diskBytes: G, image: 'img', state: 'running', adminUser: 'admin', adminPassword: 'x', clusterName: 'shop', clusterRole: n === 'a' ? 'primary' : 'replica' } as never);
    fleet.updateInstance(`i-${n}${n}${n}${n}${n}${n}${n}${n}${n}${n}`, { state: 'running', flavor: 'mysql' });
  }
  fleet.store.binlogArchives.enable({ cluster: 'shop', flavor: 'mysql', ...newArchiveKey(backup.keys) });
  // Each node's archiver: what it reports next, and the calls it got.
  const calls: string[] = [];
  const next: Record<string, SealedBinlogPiece[]> = { a: [], b: [] };
  const piece = (id: string, source: string, before: string, gtids: string): SealedBinlogPiece => ({ id, seq: 1, sourceInstance: source, file: 'binlog.000001', fromOffset: 100, toOffset: 200, gtids, before, firstEventAt: 1, lastEventAt: 2, object: { name: 'binlog.enc', storedBytes: 10, storedSha256: 'x', plainBytes: 9, plainSha256: 'y' } });
  const status = (node: string, source: string) => ({ running: true, sourceInstance: source, pieces: next[node]!.splice(0), receivedGtids: `${U}:1-20`, receivedAtMs: 0, lastEventAt: 2, error: '' });
  const agents = {
    for: (node: string) => ({
      runBinlogArchiver: async (r: { sourceInstance: string; sourceHost: string; startGtids: string; recorded: string[]; user: string }) => (calls.push(`${node} run ${r.sourceInstance}@${r.sourceHost} as ${r.user} from "${r.startGtids}" recorded ${r.recorded.join(',')}`), status(node, r.sourceInstance)),
      stopBinlogArchiver: async () => (calls.push(`${node} stop`), { ...status(node, ''), running: false }),
    }),
  };
  const rec = new BinlogArchiveReconciler({ fleet, agents: agents as never, backup, replication: new ReplicationMap(), scheduler: { nodeTimeoutMs: 60_000 }, log }, DEFAULT_ARCHIVER);
  return { fleet, rec, calls, next, piece, backup, dir };
}

describe('binlog archive reconciler', () => {
  it('runs the archiver off the primary host, records pieces (manifest, catalog), moves it when the primary comes to its host, and flags a gap', async () => {
    const { fleet, rec, calls, next, piece, backup, dir } = setup();
    try {
      next.b!.push(piece('b-000000000001', 'i-aaaaaaaaaa', '', `${U}:1-10`));
      await rec.tick();
      expect(calls).toEqual(['b run i-aaaaaaaaaa@127.0.0.1 as repl from "" recorded ']);
      expect(fleet.store.binlogArchives.get('shop')).toMatchObject({ node: 'b', source: 'i-aaaaaaaaaa', gap: '' });
      const m = (await backup.repository.readManifest(backup.keys, 'b-000000000001'))!;
      expect(m).toMatchObject({ method: 'binlog', binlog: { archive: 'shop', gtids: `${U}:1-10` } });

      // Failover: b's instance is the primary now; the archiver moves to a, b's tail recorded first.
      fleet.store.instances.setMembership('i-aaaaaaaaaa', 'shop', 'replica');
      fleet.store.instances.setMembership('i-bbbbbbbbbb', 'shop', 'primary');
      next.b!.push(piece('b-000000000002', 'i-aaaaaaaaaa', `${U}:1-10`, `${U}:11-12`));
      await rec.tick();
      expect(calls.slice(1)).toEqual(['b stop', `a run i-bbbbbbbbbb@127.0.0.2 as repl from "${U}:1-12" recorded `]);
      expect(fleet.store.binlogArchives.pieces('shop').map((p) => p.id)).toEqual(['b-000000000001', 'b-000000000002']);

      // A piece that does not continue the archive: a gap, with an event, kept.
      next.a!.push(piece('b-000000000003', 'i-bbbbbbbbbb', `${U}:1-15`, `${U}:16`));
      await rec.tick();
      expect(fleet.store.binlogArchives.get('shop')!.gap).toMatch(/gap before piece b-000000000003.*13-15 missing/);
      expect(rec.view('shop')).toMatchObject({ node: 'a', gap: expect.stringMatching(/gap/) });
      await rec.tick();
      expect(calls.at(-1)).toMatch(/recorded b-000000000003$/);

      // A new manager with the repository and its key alone rebuilds the archive's chain.
      const fresh = FleetState.load(Store.open(':memory:'));
      const { added } = await syncCatalog({ fleet: fresh, backup } as never);
      expect(added).toEqual(['b-000000000001', 'b-000000000002', 'b-000000000003']);
      expect(fresh.store.binlogArchives.pieces('shop').map((p) => [p.id, p.gtids, p.before])).toEqual(fleet.store.binlogArchives.pieces('shop').map((p) => [p.id, p.gtids, p.before]));
      const a = fresh.store.binlogArchives.get('shop')!;
      const orig = fleet.store.binlogArchives.get('shop')!;
      expect(a.enabled).toBe(false);
      expect(openDataKey(backup.keys, { id: a.keyId, dataKey: a.dataKey })).toEqual(openDataKey(backup.keys, { id: orig.keyId, dataKey: orig.dataKey }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

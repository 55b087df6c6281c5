import { describe, expect, it } from 'vitest';
import { dialectFor } from './dialect';
import { galeraSelf, gcacheBytes, parseGaleraStatus } from './galera';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const rows = (o: Record<string, string>) => Object.entries(o).map(([name, value]) => ({ name, value }));

describe('MariaDB Galera in the Dialect', () => {
  const g = dialectFor('mariadb').group!;

  it('sizes the write-set cache at an eighth of the container, 64M to 1G', () => {
    expect(gcacheBytes(256 * MiB)).toBe(64 * MiB);
    expect(gcacheBytes(2 * GiB)).toBe(256 * MiB);
    expect(gcacheBytes(64 * GiB)).toBe(GiB);
  });

  it('reads the member and the client addresses of its component from wsrep status', () => {
    const ms = parseGaleraStatus(rows({
      wsrep_on: '1', incoming: '127.0.0.101:5101', wsrep_gcomm_uuid: 'a-1', wsrep_local_state_comment: 'Synced', wsrep_cluster_status: 'Primary',
      wsrep_cluster_size: '3', wsrep_ready: 'ON', wsrep_provider_version: '26.4.14(r1)', wsrep_local_recv_queue: '2',
      wsrep_incoming_addresses: '127.0.0.102:5102,127.0.0.101:5101,127.0.0.103:5103',
    }));
    expect(ms[0]).toEqual({ id: 'a-1', host: '127.0.0.101', port: 5101, state: 'Synced', role: 'Primary', version: '26.4.14(r1)', queue: 2, local: true, size: 3, ready: true });
    expect(ms.slice(1).map((m) => `${m.host}:${m.port}`)).toEqual(['127.0.0.102:5102', '127.0.0.103:5103']);
    expect(ms.slice(1).every((m) => !m.local)).toBe(true);
    expect(g.self(ms)).toEqual({ state: 'Synced', role: 'Primary', online: 3, size: 3, version: '26.4.14(r1)' });
  });

  it('counts nobody online for a member outside the Primary component or not ready', () => {
    const at = (o: Record<string, string>) => galeraSelf(parseGaleraStatus(rows({ wsrep_on: '1', incoming: 'h:1', wsrep_local_state_comment: 'Synced', wsrep_cluster_size: '1', ...o })))!;
    expect(at({ wsrep_cluster_status: 'non-Primary', wsrep_ready: 'OFF' }).online).toBe(0);
    expect(at({ wsrep_cluster_status: 'Primary', wsrep_ready: 'OFF' }).online).toBe(0);
    expect(at({ wsrep_cluster_status: 'Primary', wsrep_ready: 'ON' }).online).toBe(1);
  });

  it('is no member on a server without wsrep (every other MariaDB server)', () => {
    expect(parseGaleraStatus(rows({ wsrep_on: '0', wsrep_cluster_status: 'Disconnected' }))).toEqual([]);
    expect(g.self([])).toBeUndefined();
  });

  it('gives the state transfer account only what mariabackup needs, on localhost', () => {
    const sts = g.createSstUser!('berth_sst', 'pw');
    expect(sts.map((s) => s.sql).join('\n')).toMatch(/GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON \*\.\* TO \?@'localhost'/);
    expect(sts.every((s) => !s.sql.includes('pw'))).toBe(true);
  });
});

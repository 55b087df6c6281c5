import { describe, expect, it } from 'vitest';
import { REPLICA_NET_TIMEOUT_S } from './common-sql';
import { mariadb, mysql } from './dialect';

describe('health SQL, per flavor', () => {
  it('MariaDB: built-in rpl_semi_sync_master_* from information_schema', () => {
    const st = mariadb.semiSyncState();
    expect(st.sql).toContain('information_schema.global_status');
    expect(st.params).toEqual(['rpl_semi_sync_master_status', 'rpl_semi_sync_master_clients', 'rpl_semi_sync_master_enabled', 'rpl_semi_sync_master_timeout']);
    const rows = [
      { name: 'rpl_semi_sync_master_status', value: 'ON' },
      { name: 'rpl_semi_sync_master_clients', value: '2' },
      { name: 'rpl_semi_sync_master_enabled', value: 'ON' },
      { name: 'rpl_semi_sync_master_timeout', value: '2000' },
    ];
    expect(mariadb.parseSemiSync(rows)).toEqual({ enabled: true, active: true, clients: 2, timeoutMs: 2000 });
  });

  it('MySQL: the semisync_source plugin names from performance_schema (no rows without the plugin)', () => {
    const st = mysql.semiSyncState();
    expect(st.sql).toContain('performance_schema.global_variables');
    expect(st.params).toEqual(['rpl_semi_sync_source_status', 'rpl_semi_sync_source_clients', 'rpl_semi_sync_source_enabled', 'rpl_semi_sync_source_timeout']);
    expect(mysql.parseSemiSync([])).toEqual({ enabled: false, active: false, clients: 0, timeoutMs: 0 });
  });

  it('a primary that waited out its timeout reads as enabled but not active (degraded to async)', () => {
    const rows = [
      { name: 'Rpl_semi_sync_source_status', value: 'OFF' },
      { name: 'Rpl_semi_sync_source_clients', value: '0' },
      { name: 'rpl_semi_sync_source_enabled', value: 'ON' },
      { name: 'rpl_semi_sync_source_timeout', value: '10000' },
    ];
    expect(mysql.parseSemiSync(rows)).toEqual({ enabled: true, active: false, clients: 0, timeoutMs: 10000 });
    // The other flavor's names are not read as this one's.
    expect(mariadb.parseSemiSync(rows).enabled).toBe(false);
  });

  it('server identity: MySQL reads server_uuid and super_read_only, MariaDB has neither', () => {
    expect(mysql.serverIdentity().sql).toMatch(/server_uuid AS uuid.*super_read_only AS sro/);
    expect(mariadb.serverIdentity().sql).toMatch(/'' AS uuid.*server_id AS id.*0 AS sro/);
  });

  it('replicas notice a vanished source within seconds: heartbeat every quarter of a short net timeout, reconnect every second', () => {
    expect(mariadb.replicaLossDetection(2)).toEqual([
      { sql: 'SET GLOBAL slave_net_timeout = ?', params: [2] },
      { sql: 'CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 0.5, MASTER_CONNECT_RETRY = 1', params: [] },
    ]);
    expect(mysql.replicaLossDetection(2)).toEqual([
      { sql: 'SET GLOBAL replica_net_timeout = ?', params: [2] },
      { sql: 'CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 0.5, SOURCE_CONNECT_RETRY = 1, SOURCE_RETRY_COUNT = 86400', params: [] },
    ]);
  });

  it('the net timeout is in every my.cnf too (a restarted replica keeps it), at most 2 s', () => {
    expect(mariadb.applierSettings()).toMatchObject({ slave_net_timeout: REPLICA_NET_TIMEOUT_S });
    expect(mysql.applierSettings()).toMatchObject({ replica_net_timeout: REPLICA_NET_TIMEOUT_S });
    expect(REPLICA_NET_TIMEOUT_S).toBeLessThanOrEqual(2);
  });
});

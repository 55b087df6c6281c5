import type { Dialect } from './dialect-interface';
import { mariadbGroup } from './galera';
import { commonMemorySettings, MARIADB_BESIDE_POOL } from './memory';
import { adminUser, bypassers, bypassPrivilege, clamp, clientConnections, GiB, MiB, monitorUser, noBinlog, READ_ONLY_STATE, redoCap, REPLICA_NET_TIMEOUT_S, replicaHeartbeatPeriod, replUser, semiSync, semiSyncQuery, semiSyncStatus, serverState, tableChecks, threads } from './common-sql';

// Every statement and setting of MariaDB (10.11): the Dialect for its flavor.

const MARIADB_BYPASS = ['READ_ONLY ADMIN'] as const;

export const mariadb: Dialect = {
  flavor: 'mariadb',
  initCommand: (defaultsFile) =>
    `mariadb-install-db --defaults-file=${defaultsFile} --user=mysql --skip-test-db --auth-root-authentication-method=socket`,
  gtidSettings: () => ({ binlog_format: 'ROW', gtid_strict_mode: 'ON', log_slave_updates: 'ON', gtid_domain_id: 0 }),
  // Not below 48M even on a small disk: mariabackup copies the circular log while the server
  // writes it, and a smaller one on a busy server can be overwritten before it is copied.
  redoLogSettings: (pool, disk) => ({ innodb_log_file_size: clamp(Math.min(Math.floor(pool / 4), redoCap(disk)), 48 * MiB, 2 * GiB) }),
  // One applier thread (the default): it applied 2.2 times the commit rate of a one-client tight
  // loop in bench:applier, and 4 optimistic threads only 1.3 times more. Parallel replication
  // always commits in order on MariaDB.
  // Kept across a restart (SET GLOBAL is not): replicaLossDetection.
  applierSettings: () => ({ slave_net_timeout: REPLICA_NET_TIMEOUT_S }),
  serverSettings: () => ({}),
  memorySettings: (mem) => commonMemorySettings(mem),
  memoryBesidePool: MARIADB_BESIDE_POOL,
  ensureAdminUser: adminUser('', MARIADB_BYPASS),
  // mariadb-install-db already made root@localhost socket-only (and no anonymous users).
  lockRootToSocket: () => [],
  ...serverState,
  ...tableChecks,

  createReplicationUser: (user, host, password, opts) => noBinlog(opts, replUser(user, host, password, 'BY ?', opts?.requireSsl)),
  dropReplicationUser: (user, host, opts) => noBinlog(opts, [{ sql: 'DROP USER IF EXISTS ?@?', params: [user, host] }]),
  configureReplica: (src, pos, tls) => [
    { sql: 'STOP SLAVE', params: [] },
    ...(pos !== undefined ? [{ sql: 'SET GLOBAL gtid_slave_pos = ?', params: [pos] }] : []),
    // Without a position the server goes on from everything it has executed, its own binlogged
    // transactions included (current_pos): a cluster's old primary re-pointed at the new one
    // has no gtid_slave_pos worth the name.
    {
      sql: `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = ${pos !== undefined ? 'slave_pos' : 'current_pos'}, MASTER_CONNECT_RETRY = 1${tls ? ', MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1' : ''}`,
      params: [src.host, src.port, src.user, src.password, ...(tls ? [tls.ca] : [])],
    },
  ],
  startReplica: () => [{ sql: 'START SLAVE', params: [] }],
  stopReplica: (ioOnly) => [{ sql: ioOnly ? 'STOP SLAVE IO_THREAD' : 'STOP SLAVE', params: [] }],
  resetReplica: () => [
    { sql: 'STOP SLAVE', params: [] },
    { sql: 'RESET SLAVE ALL', params: [] },
  ],
  replicaStatus: () => ({ sql: 'SHOW SLAVE STATUS', params: [] }),
  parseReplicaStatus: (row) =>
    threads(row, { io: 'Slave_IO_Running', sql: 'Slave_SQL_Running', behind: 'Seconds_Behind_Master', received: 'Gtid_IO_Pos', host: 'Master_Host', port: 'Master_Port' }),
  // A copy's own transactions are in gtid_slave_pos, the ones it logged since in gtid_binlog_pos;
  // the parser keeps the highest sequence number per domain, which is the union of both.
  executedGtid: () => ({ sql: "SELECT CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_pos, ''), NULLIF(@@GLOBAL.gtid_slave_pos, '')) AS gtid", params: [] }),
  originGtids: () => ({ sql: "SELECT CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_state, ''), NULLIF(@@GLOBAL.gtid_slave_pos, '')) AS gtid", params: [] }),
  setReadOnly: (on) => [{ sql: `SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}`, params: [] }],
  readOnlyBypassPrivileges: MARIADB_BYPASS,
  // SUPER alone does not write through read_only on 10.11 (verified), READ_ONLY ADMIN does.
  readOnlyBypassers: () => bypassers(MARIADB_BYPASS, "''mariadb.%"),
  revokeReadOnlyBypass: (user, host, privilege) => noBinlog({}, [{ sql: `REVOKE ${bypassPrivilege(MARIADB_BYPASS, privilege)} ON *.* FROM ?@?`, params: [user, host] }]),
  clientConnections: () => clientConnections(['Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker']),
  killConnection: (id) => ({ sql: 'KILL CONNECTION ?', params: [id] }),
  waitForGtid: (set, timeout) => ({ sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS r', params: [set, timeout] }),
  serverIdentity: () => ({ sql: "SELECT '' AS uuid, @@GLOBAL.server_id AS id, @@GLOBAL.read_only AS ro, 0 AS sro", params: [] }),
  // Built into 10.11: the variables always exist.
  semiSyncState: () => semiSyncQuery('information_schema', 'master'),
  parseSemiSync: (rows) => semiSync(rows, 'master'),
  replicaLossDetection: (t) => [
    { sql: 'SET GLOBAL slave_net_timeout = ?', params: [t] },
    // master_retry_count is a server variable here (86400 by default): retried for a day.
    { sql: `CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = ${replicaHeartbeatPeriod(t)}, MASTER_CONNECT_RETRY = 1`, params: [] },
  ],
  // MariaDB copies with mariabackup (agent/movement), not with the server.
  clonePluginCheck: () => undefined,
  installClonePlugin: () => [],
  createCloneDonorUser: () => [],
  reloadTls: () => [{ sql: 'FLUSH SSL', params: [] }],
  cloneFrom: () => [],
  replicaSettings: () => ({ 'read-only': 'ON', 'skip-slave-start': 'ON' }),
  readOnlyState: () => READ_ONLY_STATE,
  accountChangesLiftReadOnly: false,
  cloneProgress: () => undefined,
  cloneStatus: () => undefined,
  cloneLocal: () => [],
  cloneGtid: () => undefined,
  gtidPurged: () => undefined,
  semiSyncSettings: (timeoutMs) => ({
    rpl_semi_sync_master_enabled: 'ON',
    rpl_semi_sync_slave_enabled: 'ON',
    rpl_semi_sync_master_wait_point: 'AFTER_SYNC',
    rpl_semi_sync_master_timeout: timeoutMs,
    rpl_semi_sync_master_wait_no_slave: 'OFF',
  }),
  semiSyncStatus: () => semiSyncStatus('information_schema.GLOBAL_STATUS', 'RPL_SEMI_SYNC_MASTER_STATUS', 'RPL_SEMI_SYNC_MASTER_CLIENTS', 'RPL_SEMI_SYNC_SLAVE_STATUS'),
  // SLAVE MONITOR: SHOW SLAVE STATUS; BINLOG MONITOR: binlog and GTID positions (10.5+ names).
  createMonitorUser: (user, host, password, opts) => monitorUser(user, host, password, 'BY ?', 'SLAVE MONITOR, BINLOG MONITOR, PROCESS', opts),
  // Consensus clusters: Galera (src/mysql/galera.ts).
  group: mariadbGroup,
};

import type { Dialect } from './dialect-interface';
import { commonMemorySettings, MYSQL_BESIDE_POOL, mysqlMemorySettings } from './memory';
import { mysqlGroup } from './group';
import { adminUser, bypassers, bypassPrivilege, clamp, clientConnections, GiB, liftSuperReadOnly, MiB, monitorUser, noBinlog, READ_ONLY_STATE, redoCap, REPLICA_NET_TIMEOUT_S, replicaHeartbeatPeriod, replUser, semiSync, semiSyncQuery, semiSyncStatus, serverState, tableChecks, threads } from './common-sql';

// Every statement and setting of MySQL (8.4, 9.x): the Dialect for its flavor.

const MYSQL_BYPASS = ['SUPER', 'CONNECTION_ADMIN'] as const;
const LOCK_ROOT = "ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket";
const INSTALL_AUTH_SOCKET = "INSTALL PLUGIN auth_socket SONAME 'auth_socket.so'";

export const mysql: Dialect = {
  flavor: 'mysql',
  // --initialize-insecure makes root@localhost with an empty password, which would answer over
  // TCP on 127.0.0.1 from the first start: --init-file binds it to the socket during the
  // initialization itself, so no server ever runs with it open. Plugins named in my.cnf are not
  // loaded while initializing, so auth_socket is installed there (mysql.plugin keeps it loaded at
  // every start). --skip-log-error: a failure is printed where the agent reads it.
  initCommand: (defaultsFile) =>
    `echo "${INSTALL_AUTH_SOCKET}; ${LOCK_ROOT};" > /tmp/berth-init.sql && ` +
    `mysqld --defaults-file=${defaultsFile} --initialize-insecure --user=mysql --init-file=/tmp/berth-init.sql --skip-log-error`,
  gtidSettings: () => ({ gtid_mode: 'ON', enforce_gtid_consistency: 'ON', log_replica_updates: 'ON' }),
  // CLONE archives the redo it needs, so a small capacity only means more frequent checkpoints.
  redoLogSettings: (pool, disk) => ({ innodb_redo_log_capacity: clamp(Math.min(Math.floor(pool / 2), redoCap(disk)), 8 * MiB, 4 * GiB) }),
  // With sync_binlog=1 and innodb_flush_log_at_trx_commit=1 kept (a promoted replica must not
  // lose what it applied), each commit group of the applier costs its fsyncs, and a group holds
  // at most one transaction per worker: with MySQL's default 4 workers a replica applied
  // 0.75-0.98x the commits of a one-client tight loop on the same disk (bench:applier), with 16
  // 1.05-1.14x (then CPU binds at 0.5 core; 32 workers were no better). WRITESET dependency tracking is the only mode since 8.4, so
  // one client's transactions on different rows are applied in parallel.
  // replica_net_timeout: kept across a restart (SET GLOBAL is not): replicaLossDetection.
  applierSettings: () => ({ replica_parallel_workers: 16, replica_preserve_commit_order: 'ON', replica_net_timeout: REPLICA_NET_TIMEOUT_S }),
  // The X Protocol plugin would take port 33060 for every instance on the host: berth serves the
  // classic protocol only. NUMA interleaving needs mbind(), which Docker's seccomp profile
  // refuses (a warning at every start).
  serverSettings: () => ({ mysqlx: 'OFF', innodb_numa_interleave: 'OFF' }),
  memorySettings: (mem) => ({ ...commonMemorySettings(mem), ...mysqlMemorySettings(mem) }),
  memoryBesidePool: MYSQL_BESIDE_POOL,
  // caching_sha2_password is 8.x/9.x's default already; named so a server configured otherwise
  // still hands out what clients expect. Over TCP without TLS clients fetch the server's RSA key.
  ensureAdminUser: adminUser('WITH caching_sha2_password ', MYSQL_BYPASS),
  // Done at initialization already; repeated (idempotent) when a create is retried.
  lockRootToSocket: () => [{ sql: LOCK_ROOT, params: [] }],
  ...serverState,
  ...tableChecks,

  createReplicationUser: (user, host, password, opts) => liftSuperReadOnly(noBinlog(opts, replUser(user, host, password, 'WITH caching_sha2_password BY ?', opts?.requireSsl))),
  dropReplicationUser: (user, host, opts) => liftSuperReadOnly(noBinlog(opts, [{ sql: 'DROP USER IF EXISTS ?@?', params: [user, host] }])),
  // An empty gtid_executed is required before gtid_purged can take a copy's position.
  configureReplica: (src, pos, tls) => [
    { sql: 'STOP REPLICA', params: [] },
    ...(pos !== undefined
      ? [
          { sql: 'RESET BINARY LOGS AND GTIDS', params: [] },
          { sql: 'SET GLOBAL gtid_purged = ?', params: [pos] },
        ]
      : []),
    {
      // Without TLS, caching_sha2_password needs the source's RSA key to send the password.
      sql: `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1, SOURCE_CONNECT_RETRY = 1${tls ? ', SOURCE_SSL = 1, SOURCE_SSL_CA = ?, SOURCE_SSL_VERIFY_SERVER_CERT = 1' : ''}`,
      params: [src.host, src.port, src.user, src.password, ...(tls ? [tls.ca] : [])],
    },
  ],
  startReplica: () => [{ sql: 'START REPLICA', params: [] }],
  stopReplica: (ioOnly) => [{ sql: ioOnly ? 'STOP REPLICA IO_THREAD' : 'STOP REPLICA', params: [] }],
  resetReplica: () => [
    { sql: 'STOP REPLICA', params: [] },
    { sql: 'RESET REPLICA ALL', params: [] },
  ],
  replicaStatus: () => ({ sql: 'SHOW REPLICA STATUS', params: [] }),
  parseReplicaStatus: (row) =>
    threads(row, { io: 'Replica_IO_Running', sql: 'Replica_SQL_Running', behind: 'Seconds_Behind_Source', received: 'Retrieved_Gtid_Set', host: 'Source_Host', port: 'Source_Port' }),
  executedGtid: () => ({ sql: 'SELECT @@GLOBAL.gtid_executed AS gtid', params: [] }),
  originGtids: () => ({ sql: 'SELECT @@GLOBAL.gtid_executed AS gtid', params: [] }),
  // super_read_only stops every account (and implies read_only); turning it off leaves read_only.
  setReadOnly: (on) =>
    on
      ? [{ sql: 'SET GLOBAL super_read_only = ON', params: [] }]
      : [
          { sql: 'SET GLOBAL super_read_only = OFF', params: [] },
          { sql: 'SET GLOBAL read_only = OFF', params: [] },
        ],
  readOnlyBypassPrivileges: MYSQL_BYPASS,
  // mysql.session, mysql.sys and mysql.infoschema are locked system accounts.
  readOnlyBypassers: () => bypassers(MYSQL_BYPASS, "''mysql.%"),
  revokeReadOnlyBypass: (user, host, privilege) => liftSuperReadOnly(noBinlog({}, [{ sql: `REVOKE ${bypassPrivilege(MYSQL_BYPASS, privilege)} ON *.* FROM ?@?`, params: [user, host] }])),
  // information_schema.PROCESSLIST is deprecated in 8.0+; performance_schema has the same rows.
  clientConnections: () => clientConnections(['Binlog Dump', 'Binlog Dump GTID', 'Daemon'], 'performance_schema.processlist'),
  killConnection: (id) => ({ sql: 'KILL CONNECTION ?', params: [id] }),
  waitForGtid: (set, timeout) => ({ sql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r', params: [set, timeout] }),
  serverIdentity: () => ({ sql: 'SELECT @@GLOBAL.server_uuid AS uuid, @@GLOBAL.server_id AS id, @@GLOBAL.read_only AS ro, @@GLOBAL.super_read_only AS sro', params: [] }),
  // The semisync_source plugin's names (8.0.26+); performance_schema returns no rows for them
  // while the plugin is not installed, where SHOW or @@ would fail.
  semiSyncState: () => semiSyncQuery('performance_schema', 'source'),
  parseSemiSync: (rows) => semiSync(rows, 'source'),
  replicaLossDetection: (t) => [
    { sql: 'SET GLOBAL replica_net_timeout = ?', params: [t] },
    // SOURCE_RETRY_COUNT may default to 10 (recent releases): at one try a second the IO thread would stop with an
    // error after 10 s of a source restarting; a day, as MariaDB's default.
    { sql: `CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = ${replicaHeartbeatPeriod(t)}, SOURCE_CONNECT_RETRY = 1, SOURCE_RETRY_COUNT = 86400`, params: [] },
  ],
  clonePluginCheck: () => ({ sql: "SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'", params: [] }),
  // mysql.plugin is a table super_read_only protects (a read-only donor installs it too).
  installClonePlugin: () => liftSuperReadOnly([{ sql: "INSTALL PLUGIN clone SONAME 'mysql_clone.so'", params: [] }]),
  // A cluster's primary is still read-only (super_read_only) while its replicas are cloned.
  createCloneDonorUser: (user, host, password, opts) =>
    liftSuperReadOnly(noBinlog({}, [...replUser(user, host, password, 'WITH caching_sha2_password BY ?', opts?.requireSsl), { sql: 'GRANT BACKUP_ADMIN ON *.* TO ?@?', params: [user, host] }])),
  // The recipient's data is replaced and its mysqld stops afterwards: the agent starts it again.
  reloadTls: () => [{ sql: 'ALTER INSTANCE RELOAD TLS', params: [] }],
  cloneFrom: (d, tls) => [
    { sql: 'SET GLOBAL clone_valid_donor_list = ?', params: [`${d.host}:${d.port}`] },
    ...(tls ? [{ sql: 'SET GLOBAL clone_ssl_ca = ?', params: [tls.ca] }] : []),
    { sql: `CLONE INSTANCE FROM ?@?:? IDENTIFIED BY ?${tls ? ' REQUIRE SSL' : ''}`, params: [d.user, d.host, d.port, d.password] },
  ],
  replicaSettings: () => ({ 'read-only': 'ON', 'skip-replica-start': 'ON' }),
  readOnlyState: () => READ_ONLY_STATE,
  accountChangesLiftReadOnly: true,
  cloneProgress: () => ({ sql: 'SELECT COALESCE(SUM(DATA), 0) AS done, COALESCE(SUM(ESTIMATE), 0) AS total FROM performance_schema.clone_progress', params: [] }),
  cloneStatus: () => ({ sql: 'SELECT STATE AS state, ERROR_NO AS errno, ERROR_MESSAGE AS msg FROM performance_schema.clone_status', params: [] }),
  cloneLocal: (dir) => [{ sql: 'CLONE LOCAL DATA DIRECTORY = ?', params: [dir] }],
  cloneGtid: () => ({ sql: 'SELECT GTID_EXECUTED AS gtid FROM performance_schema.clone_status', params: [] }),
  gtidPurged: () => ({ sql: 'SELECT @@GLOBAL.gtid_purged AS g', params: [] }),
  // The semi-sync plugins ship with the server; plugin-load-add loads them at every start (a
  // list separated by ';' is one option). Their variables are "loose-": --initialize reads this
  // file without loading plugins and would refuse them as unknown.
  semiSyncSettings: (timeoutMs) => ({
    'plugin-load-add': 'semisync_source.so;semisync_replica.so',
    'loose-rpl_semi_sync_source_enabled': 'ON',
    'loose-rpl_semi_sync_replica_enabled': 'ON',
    'loose-rpl_semi_sync_source_wait_point': 'AFTER_SYNC',
    'loose-rpl_semi_sync_source_timeout': timeoutMs,
    'loose-rpl_semi_sync_source_wait_for_replica_count': 1,
    'loose-rpl_semi_sync_source_wait_no_replica': 'OFF',
  }),
  semiSyncStatus: () => semiSyncStatus('performance_schema.global_status', 'Rpl_semi_sync_source_status', 'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_replica_status'),
  // REPLICATION CLIENT: SHOW REPLICA STATUS and SHOW BINARY LOG STATUS.
  createMonitorUser: (user, host, password, opts) => liftSuperReadOnly(monitorUser(user, host, password, 'WITH caching_sha2_password BY ?', 'REPLICATION CLIENT, PROCESS', opts)),
  group: mysqlGroup,
};

import { invalidArgument } from '../errors';
import { commonMemorySettings, MARIADB_BESIDE_POOL, MYSQL_BESIDE_POOL, mysqlMemorySettings } from './memory';

// All flavor-specific MySQL knowledge lives behind this interface, one implementation per
// flavor, so the rest of berth never branches on "is this MariaDB?".
export type Flavor = 'mariadb' | 'mysql';

export interface Statement {
  sql: string;
  params: unknown[];
}

export interface Dialect {
  readonly flavor: Flavor;
  // Shell command run once, inside a throwaway container with the instance's mounts, to create
  // the system tables. The image's entrypoint is never used.
  initCommand(defaultsFile: string): string;
  // my.cnf lines that turn on GTID-based replication (and the binlog format where it is still a
  // setting: MySQL deprecated binlog_format in 8.0.34 and always writes ROW).
  gtidSettings(): Record<string, string | number>;
  // The redo log: a share of the buffer pool, at most an eighth of the disk reservation when
  // that is known (redoCap).
  redoLogSettings(bufferPoolBytes: number, diskBytes?: number): Record<string, string | number>;
  // my.cnf lines of the replica applier (every server: any may become a replica, and a promoted
  // one keeps its file). Commit order is always kept: a replica's executed set then never has
  // gaps, which failover and catch-up decisions compare as sets.
  applierSettings(): Record<string, string | number>;
  // my.cnf lines only this flavor has: plugins turned off, platform settings.
  serverSettings(): Record<string, string | number>;
  // my.cnf memory settings besides the buffer pool, from the container's limit (memory.ts).
  memorySettings(memoryBytes: number): Record<string, string | number>;
  // What mysqld needs beside the buffer pool with those settings, at most: the pool never takes
  // more than the container's memory less this.
  readonly memoryBesidePool: number;
  // Idempotent: safe to run again after a failure half-way.
  ensureAdminUser(user: string, password: string): Statement[];
  // Leaves root reachable only through the unix socket the agent owns.
  lockRootToSocket(): Statement[];

  // ---- Server state the agent keeps (agent/instance) ----
  // The statements with binary logging off for their session: the agent's own changes on a
  // replica would be errant GTIDs (and stop MariaDB's strict-mode replication).
  unlogged(sts: Statement[]): Statement[];
  // SET GLOBAL of each; a name that is not a server variable's is refused (names cannot be
  // bound as parameters).
  setGlobals(vars: Record<string, string | number>): Statement[];
  // One row: `pool` (innodb_buffer_pool_size) and `conns` (max_connections), as set now.
  memoryVariables(): Statement;
  // Rows {Variable_name, Value} of the global status variables matching the LIKE pattern.
  globalStatus(like: string): Statement;
  // Rows {Log_name, File_size}, oldest first.
  binaryLogs(): Statement;
  // Deletes the binary logs before `file`; one a connected replica still reads is kept.
  purgeBinaryLogsTo(file: string): Statement;

  // ---- Replication and data movement (manager/movement, agent/movement) ----
  // A user that may only read the binlog stream, for one replica. Not binlogged unless asked:
  // the source's GTID set stays free of berth's own bookkeeping (errant-transaction checks).
  // requireSsl: the account connects over TLS only (REQUIRE SSL), for servers that require TLS.
  createReplicationUser(user: string, host: string, password: string, opts?: { binlog?: boolean; requireSsl?: boolean }): Statement[];
  dropReplicationUser(user: string, host: string, opts?: { binlog?: boolean }): Statement[];
  // Points this server at a source with GTID auto-positioning. `gtidPosition` (from the copy)
  // is where the copy ends; omit it when the server already knows (a clone carries its set).
  // `tls`: connect to the source over TLS and verify its certificate (the fleet CA, the source's
  // address in its names) with the CA file at `tls.ca` inside the container.
  configureReplica(source: ReplicationSource, gtidPosition?: string, tls?: SourceTls): Statement[];
  startReplica(): Statement[];
  // ioOnly: stop receiving but keep applying the relay log (failover).
  stopReplica(ioOnly?: boolean): Statement[];
  // Forgets the source and its stored password: a promoted or migrated server replicates nothing.
  resetReplica(): Statement[];
  replicaStatus(): Statement;
  parseReplicaStatus(row: Record<string, unknown> | undefined): ReplicaThreads;
  // One row, column `gtid`: every transaction this server has executed.
  executedGtid(): Statement;
  // One row, column `gtid`: the last transaction of each origin (src/mysql/origins.ts).
  originGtids(): Statement;
  setReadOnly(on: boolean): Statement[];
  // Privileges that write through read_only (MariaDB: READ_ONLY ADMIN; MySQL: SUPER and
  // CONNECTION_ADMIN). No account but root on the socket ever keeps one (docs/design.md, "Closed
  // to client writes from the first boot"): the admin is made without them, and the agent takes
  // them from any other account at every boot and every switch to read-only.
  readonly readOnlyBypassPrivileges: readonly string[];
  // Rows {grantee, privilege}: accounts holding one of them, root and the system accounts aside.
  readOnlyBypassers(): Statement;
  // Not binlogged: every server sweeps itself. On MySQL super_read_only is lifted around it (it
  // is an account change), which lets only the accounts being swept write for that moment.
  revokeReadOnlyBypass(user: string, host: string, privilege: string): Statement[];
  // Rows {id, user}: client sessions, not the server's own threads, not replicas reading the
  // binlog (a replica being caught up must keep its connection), not the agent (root on the socket).
  clientConnections(): Statement;
  killConnection(id: number): Statement;
  // One row, column `r`: 0 when this server executed `gtidSet` within the timeout.
  waitForGtid(gtidSet: string, timeoutSeconds: number): Statement;
  // ---- Health (manager/health failure detection, agent/replication-state.ts) ----
  // One row: `uuid` (MySQL server_uuid; empty on MariaDB), `id` (server_id), `ro`, `sro`
  // (super_read_only; 0 on MariaDB, which has none).
  serverIdentity(): Statement;
  // Rows {name, value} (names lower case) of the primary side's semi-sync variables and status;
  // no rows where semi-sync is not loaded (MySQL without its plugin).
  semiSyncState(): Statement;
  parseSemiSync(rows: { name: string; value: unknown }[]): SemiSyncState;
  // A replica notices a source that vanished without closing its connections (a host lost or
  // cut off) within `netTimeoutSeconds` instead of the default minute: the source sends a
  // heartbeat every second. Run on a stopped replica (after configureReplica).
  replicaLossDetection(netTimeoutSeconds: number): Statement[];
  // Physical copy by the server itself (MySQL CLONE); empty lists where the flavor has none.
  clonePluginCheck(): Statement | undefined;
  installClonePlugin(): Statement[];
  createCloneDonorUser(user: string, host: string, password: string, opts?: { requireSsl?: boolean }): Statement[];
  // Reads ssl-ca/ssl-cert/ssl-key again (a rotated certificate) without a restart; sessions open
  // keep theirs.
  reloadTls(): Statement[];
  // `tls`: the clone connection must be encrypted (REQUIRE SSL), the donor checked with this CA.
  cloneFrom(donor: ReplicationSource, tls?: SourceTls): Statement[];
  // my.cnf lines of a server that starts as a replica: read-only, replication not started at
  // boot (the manager starts it once the position is set). MySQL's super_read_only is set at
  // run time (SetReadOnly): in my.cnf it would stop the agent's own set-up at the first start.
  replicaSettings(): Record<string, string | number>;
  // One row, column `ro`: 1 when read_only is on.
  readOnlyState(): Statement;
  // Account changes on a read-only server lift the fence for a moment (MySQL: super_read_only,
  // and read_only alone does not stop CONNECTION_ADMIN sessions meanwhile).
  accountChangesLiftReadOnly: boolean;
  // One row, columns `done` and `total` (bytes) while a CLONE runs; undefined without CLONE.
  cloneProgress(): Statement | undefined;
  // One row, columns `state`, `errno`, `msg`: the last CLONE into this server.
  cloneStatus(): Statement | undefined;

  // ---- Replicated clusters (manager/clusters) ----
  // my.cnf lines of a semi-sync cluster member. Both sides are on for every member, so a
  // promotion needs no reconfiguration: the source side waits only while semi-sync replicas are
  // connected (wait_no_slave off: a server without one, a replica, never waits), AFTER_SYNC (a
  // transaction is visible to nobody before a replica has it), and after `timeoutMs` without an
  // acknowledgement the source goes on asynchronously (Rpl_semi_sync_*_status turns OFF).
  semiSyncSettings(timeoutMs: number): Record<string, string | number>;
  // One row, columns `source_on` (1 while the source side is on and not degraded to async),
  // `clients` (semi-sync replicas connected) and `replica_on` (the replica side is on).
  semiSyncStatus(): Statement;
  // Replication and process status only (SHOW REPLICA STATUS, binlog position, processlist):
  // no data, no writes. Binlogged unless told not to, so every member of a cluster has it.
  createMonitorUser(user: string, host: string, password: string, opts?: { binlog?: boolean }): Statement[];
}

// The primary side of semi-sync in one shape for both flavors. `enabled && !active` is a primary
// that waited out its timeout and degraded to async: acknowledged commits may exist on it alone.
export interface SemiSyncState {
  enabled: boolean;
  active: boolean;
  clients: number;
  timeoutMs: number;
}

// TLS towards a source or donor: the CA file (a path inside the instance's container).
export interface SourceTls {
  ca: string;
}

export interface ReplicationSource {
  host: string;
  port: number;
  user: string;
  password: string;
}

// Replication threads in one shape for both flavors.
export interface ReplicaThreads {
  // A source is configured (SHOW ... STATUS returned a row).
  configured: boolean;
  ioRunning: boolean;
  // The IO thread is trying to (re)connect.
  ioConnecting: boolean;
  sqlRunning: boolean;
  // null while a thread is stopped (the server cannot tell).
  secondsBehind: number | null;
  lastIoError: string;
  lastSqlError: string;
  // Transactions received into the relay log (MySQL Retrieved_Gtid_Set, MariaDB Gtid_IO_Pos).
  receivedGtids: string;
  sourceHost: string;
  sourcePort: number;
}

// `plugin` names the authentication plugin where a flavor's default is not the one wanted.
// The DBA's account: every privilege but those that write through read_only, so read_only
// alone closes a server that is not the primary to every client, from its first boot. Locked
// while it is changed: a session's global privileges are fixed when it connects, so one that
// connected between GRANT ALL and the REVOKE would keep the bypass for its whole life.
const adminUser =
  (plugin: string, bypass: readonly string[]) =>
  (user: string, password: string): Statement[] => [
    { sql: `CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED ${plugin}BY ? ACCOUNT LOCK`, params: [user, password] },
    // A retried create must end with the password the manager handed out, not an older one.
    { sql: `ALTER USER ?@'%' IDENTIFIED ${plugin}BY ? ACCOUNT LOCK`, params: [user, password] },
    { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: [user] },
    { sql: `REVOKE ${bypass.join(', ')} ON *.* FROM ?@'%'`, params: [user] },
    { sql: "ALTER USER ?@'%' ACCOUNT UNLOCK", params: [user] },
  ];

const MARIADB_BYPASS = ['READ_ONLY ADMIN'] as const;
const MYSQL_BYPASS = ['SUPER', 'CONNECTION_ADMIN'] as const;

// information_schema.USER_PRIVILEGES lists static and (MySQL) dynamic global privileges.
const bypassers = (privileges: readonly string[], system: string): Statement => ({
  sql: `SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN (?) AND GRANTEE <> '''root''@''localhost''' AND GRANTEE NOT LIKE '${system}'`,
  params: [privileges],
});

const LOCK_ROOT = "ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket";
const INSTALL_AUTH_SOCKET = "INSTALL PLUGIN auth_socket SONAME 'auth_socket.so'";

const VARIABLE = /^[a-z][a-z0-9_]{0,63}$/;

// What both flavors spell alike.
const serverState = {
  unlogged: (sts: Statement[]) => noBinlog({}, sts),
  setGlobals: (vars: Record<string, string | number>): Statement[] =>
    Object.entries(vars).map(([name, value]) => {
      if (!VARIABLE.test(name)) throw invalidArgument(`"${name.slice(0, 70)}" is not a server variable name`);
      return { sql: `SET GLOBAL ${name} = ?`, params: [value] };
    }),
  memoryVariables: (): Statement => ({ sql: 'SELECT @@GLOBAL.innodb_buffer_pool_size AS pool, @@GLOBAL.max_connections AS conns', params: [] }),
  // SHOW works on both (MySQL has no information_schema.GLOBAL_STATUS).
  globalStatus: (like: string): Statement => ({ sql: 'SHOW GLOBAL STATUS LIKE ?', params: [like] }),
  binaryLogs: (): Statement => ({ sql: 'SHOW BINARY LOGS', params: [] }),
  purgeBinaryLogsTo: (file: string): Statement => ({ sql: 'PURGE BINARY LOGS TO ?', params: [file] }),
};

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
  applierSettings: () => ({}),
  serverSettings: () => ({}),
  memorySettings: (mem) => commonMemorySettings(mem),
  memoryBesidePool: MARIADB_BESIDE_POOL,
  ensureAdminUser: adminUser('', MARIADB_BYPASS),
  // mariadb-install-db already made root@localhost socket-only (and no anonymous users).
  lockRootToSocket: () => [],
  ...serverState,

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
    { sql: 'CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = 1', params: [] },
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
};

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
  applierSettings: () => ({ replica_parallel_workers: 16, replica_preserve_commit_order: 'ON' }),
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
    { sql: 'CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = 1', params: [] },
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
};

export function dialectFor(flavor: Flavor): Dialect {
  return flavor === 'mariadb' ? mariadb : mysql;
}

// `mysqld --version` or SELECT VERSION(): "10.11.18-MariaDB-0+deb12u1", "8.0.36".
export function parseServerVersion(text: string): { flavor: Flavor; version: string } {
  const m = /(\d+\.\d+\.\d+)(-MariaDB)?/i.exec(text);
  if (!m) throw new Error(`cannot read a MySQL or MariaDB version from "${text.trim().slice(0, 200)}"`);
  const flavor: Flavor = m[2] || /mariadb/i.test(text) ? 'mariadb' : 'mysql';
  return { flavor, version: m[1]! };
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
// The redo log exists in full from the first start, before any data: sized from memory alone,
// a small disk reservation would be mostly redo (a 1G MySQL instance on a 384M disk got 256M,
// two thirds of it, and crossed the automatic expansion threshold empty). Whole MiB.
export function redoCap(diskBytes?: number): number {
  return diskBytes ? Math.floor(diskBytes / 8 / MiB) * MiB : Infinity;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

const READ_ONLY_STATE: Statement = { sql: 'SELECT @@GLOBAL.read_only AS ro', params: [] };

const replUser = (user: string, host: string, password: string, auth: string, requireSsl = false): Statement[] => [
  { sql: `CREATE USER IF NOT EXISTS ?@? IDENTIFIED ${auth}${requireSsl ? ' REQUIRE SSL' : ''}`, params: [user, host, password] },
  { sql: `ALTER USER ?@? IDENTIFIED ${auth}${requireSsl ? ' REQUIRE SSL' : ''}`, params: [user, host, password] },
  { sql: 'GRANT REPLICATION SLAVE ON *.* TO ?@?', params: [user, host] },
];

// A handful of connections at most: a monitor never needs more, and a leaked password cannot
// exhaust the server's.
const monitorUser = (user: string, host: string, password: string, auth: string, privileges: string, opts?: { binlog?: boolean }): Statement[] =>
  noBinlog({ binlog: opts?.binlog ?? true }, [
    { sql: `CREATE USER IF NOT EXISTS ?@? IDENTIFIED ${auth} WITH MAX_USER_CONNECTIONS 5`, params: [user, host, password] },
    { sql: `ALTER USER ?@? IDENTIFIED ${auth}`, params: [user, host, password] },
    { sql: `GRANT ${privileges} ON *.* TO ?@?`, params: [user, host] },
  ]);

function semiSyncStatus(table: string, sourceStatus: string, clients: string, replicaStatus: string): Statement {
  const v = (name: string) => `MAX(CASE WHEN UPPER(VARIABLE_NAME) = UPPER('${name}') THEN VARIABLE_VALUE END)`;
  return {
    sql: `SELECT COALESCE(${v(sourceStatus)} = 'ON', 0) AS source_on, COALESCE(${v(clients)}, 0) + 0 AS clients, COALESCE(${v(replicaStatus)} = 'ON', 0) AS replica_on FROM ${table}`,
    params: [],
  };
}

// Session-scoped: the statements run on one connection, which the caller closes afterwards.
function noBinlog(opts: { binlog?: boolean } | undefined, sts: Statement[]): Statement[] {
  if (opts?.binlog) return sts;
  return [{ sql: 'SET SESSION sql_log_bin = 0', params: [] }, ...sts, { sql: 'SET SESSION sql_log_bin = 1', params: [] }];
}

// Account changes on a server that super_read_only fences (a cut-over's old source): lifted for
// these statements only, read_only stays on meanwhile, and put back as it was.
function liftSuperReadOnly(sts: Statement[]): Statement[] {
  return [
    { sql: 'SET @berth_sro = @@GLOBAL.super_read_only', params: [] },
    { sql: 'SET GLOBAL super_read_only = OFF', params: [] },
    ...sts,
    { sql: 'SET GLOBAL super_read_only = @berth_sro', params: [] },
  ];
}

function semiSyncQuery(schema: string, side: 'master' | 'source'): Statement {
  const p = `rpl_semi_sync_${side}_`;
  return {
    sql:
      `SELECT LOWER(VARIABLE_NAME) AS name, VARIABLE_VALUE AS value FROM ${schema}.global_status WHERE LOWER(VARIABLE_NAME) IN (?, ?) ` +
      `UNION ALL SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM ${schema}.global_variables WHERE LOWER(VARIABLE_NAME) IN (?, ?)`,
    params: [`${p}status`, `${p}clients`, `${p}enabled`, `${p}timeout`],
  };
}

function semiSync(rows: { name: string; value: unknown }[], side: 'master' | 'source'): SemiSyncState {
  const v = new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.value ?? '')]));
  const on = (k: string) => /^(on|1|yes)$/i.test(v.get(`rpl_semi_sync_${side}_${k}`) ?? '');
  return {
    enabled: on('enabled'),
    active: on('status'),
    clients: Number(v.get(`rpl_semi_sync_${side}_clients`) ?? 0) || 0,
    timeoutMs: Number(v.get(`rpl_semi_sync_${side}_timeout`) ?? 0) || 0,
  };
}

function clientConnections(serverCommands: string[], table = 'information_schema.PROCESSLIST'): Statement {
  return {
    sql:
      `SELECT ID AS id, USER AS user FROM ${table} WHERE ID <> CONNECTION_ID() ` +
      "AND USER NOT IN ('system user', 'event_scheduler', 'root') AND COMMAND NOT IN (?)",
    params: [serverCommands],
  };
}

function threads(row: Record<string, unknown> | undefined, col: Record<'io' | 'sql' | 'behind' | 'received' | 'host' | 'port', string>): ReplicaThreads {
  if (!row) {
    return { configured: false, ioRunning: false, ioConnecting: false, sqlRunning: false, secondsBehind: null, lastIoError: '', lastSqlError: '', receivedGtids: '', sourceHost: '', sourcePort: 0 };
  }
  const text = (k: string) => (row[k] === null || row[k] === undefined ? '' : String(row[k]));
  const behind = row[col.behind];
  return {
    configured: true,
    ioRunning: text(col.io) === 'Yes',
    ioConnecting: text(col.io) === 'Connecting',
    sqlRunning: text(col.sql) === 'Yes',
    secondsBehind: behind === null || behind === undefined || behind === '' ? null : Number(behind),
    lastIoError: text('Last_IO_Error'),
    lastSqlError: text('Last_SQL_Error'),
    receivedGtids: text(col.received).replace(/\s+/g, ''),
    sourceHost: text(col.host),
    sourcePort: Number(row[col.port] ?? 0),
  };
}

// information_schema's GRANTEE text, 'user'@'host' with quotes doubled, back into its parts.
// Privilege names cannot be bound as parameters: only the flavor's own list is ever spliced in.
function bypassPrivilege(list: readonly string[], privilege: string): string {
  const p = list.find((x) => x === privilege.toUpperCase());
  if (!p) throw new Error(`${privilege.slice(0, 40)} is not a read-only bypass privilege`);
  return p;
}

export function parseGrantee(grantee: string): { user: string; host: string } {
  const m = /^'((?:[^']|'')*)'@'((?:[^']|'')*)'$/.exec(grantee);
  if (!m) throw new Error(`cannot read account ${grantee.slice(0, 100)}`);
  return { user: m[1]!.replaceAll("''", "'"), host: m[2]!.replaceAll("''", "'") };
}

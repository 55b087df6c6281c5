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
  // Closes the current binary log and opens the next (what was written is then in a closed file).
  flushBinaryLogs(): Statement;
  // One row, column `g`: the GTIDs no binary log holds any more (MySQL); MariaDB has no such set.
  gtidPurged(): Statement | undefined;

  // ---- Restore drills (agent/movement/verify-tables.ts) ----
  // Rows {s, t}: the base tables of the instance's own schemas, by schema then name.
  userTables(): Statement;
  // CHECK TABLE of one table: rows {Msg_type, Msg_text}.
  checkTable(schema: string, table: string): Statement;
  // One row {n}: the table's row count.
  countRows(schema: string, table: string): Statement;
  // One row {Checksum}: CHECKSUM TABLE.
  checksumTable(schema: string, table: string): Statement;

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
  // A backup (MySQL): a consistent physical copy of this server into a new local directory
  // (CLONE LOCAL), and the executed GTID set that copy holds (from the last clone's status).
  cloneLocal(dir: string): Statement[];
  cloneGtid(): Statement | undefined;

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

  // ---- Consensus clusters (docs/design.md "Consensus clusters"): MySQL Group Replication
  // (src/mysql/group.ts), MariaDB Galera (src/mysql/galera.ts).
  readonly group?: GroupDialect;
}

// One shape for both flavors' consensus clusters. Galera has no statement to start the group
// part (a member joins at mysqld's start), so its start/bootstrap statements are never run.
export interface GroupDialect {
  readonly kind: 'group-replication' | 'galera';
  // my.cnf lines of a member (the message cache sized from the container's memory).
  settings(g: GroupConfig, memoryBytes: number, tls: boolean): Record<string, string | number>;
  // The distributed recovery channel's account, set before the member starts its group part.
  setRecoveryAccount(user: string, password: string): Statement[];
  bootstrapOn(): Statement[];
  bootstrapOff(): Statement[];
  start(): Statement[];
  stop(): Statement[];
  // The group as this member sees it.
  members(): Statement;
  parseMembers(rows: Record<string, unknown>[]): GroupMember[];
  // What this member reports of itself in heartbeats, from parseMembers' rows.
  self(ms: GroupMember[]): GroupSelf | undefined;
  // Galera: the state transfer account (mariabackup on the donor).
  createSstUser?(user: string, password: string): Statement[];
}

// What one member's my.cnf says of its group (AgentCreateInstanceRequest.group).
export interface GroupConfig {
  // A UUID made at the cluster's create: the group's identity and the origin of its GTIDs.
  groupName: string;
  // host:port of this member's group communication (XCom) endpoint.
  localAddress: string;
  // Every member's localAddress, this one's included.
  seeds: string[];
  // The members' hosts: XCom refuses connections from anywhere else.
  allowlist: string[];
  memberWeight: number;
  // EVENTUAL, BEFORE_ON_PRIMARY_FAILOVER, BEFORE, AFTER or BEFORE_AND_AFTER.
  consistency: string;
  autorejoinTries: number;
  // MariaDB Galera (AgentGroupConfig.galera_*); absent for MySQL.
  galera?: GaleraConfig;
}

export interface GaleraConfig {
  clusterName: string;
  // host:port of this member's group communication.
  address: string;
  // Every member's address, this one's included.
  peers: string[];
  istAddress: string;
  sstAddress: string;
  // host:port of this member's mysqld.
  incomingAddress: string;
  // Only for the first start of the first member: make a new cluster.
  bootstrap: boolean;
  sstUser: string;
  sstPassword: string;
  gtidDomain: number;
}

export interface GroupMember {
  // server_uuid
  id: string;
  host: string;
  port: number;
  // ONLINE, RECOVERING, OFFLINE, ERROR, UNREACHABLE
  state: string;
  // PRIMARY, SECONDARY
  role: string;
  version: string;
  // Transactions received and not yet applied.
  queue: number;
  // This server's own row.
  local: boolean;
  // Galera only: members in its component (wsrep_cluster_size) and wsrep_ready.
  size?: number;
  ready?: boolean;
}

// What a member reports of itself in heartbeats. A member cut off from the majority still says
// ONLINE/PRIMARY of itself but sees the others UNREACHABLE: `online` out of `size` tells the
// two apart.
export interface GroupSelf {
  state: string;
  role: string;
  online: number;
  size: number;
  version: string;
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

import { invalidArgument } from '../errors';
import type { ReplicaThreads, SemiSyncState, Statement } from './dialect-interface';

// The statement builders both flavors use (mariadb.ts, mysql.ts): what differs between them is
// passed in (names, tables, privileges), never decided here.

// `plugin` names the authentication plugin where a flavor's default is not the one wanted.
// The DBA's account: every privilege but those that write through read_only, so read_only
// alone closes a server that is not the primary to every client, from its first boot. Locked
// while it is changed: a session's global privileges are fixed when it connects, so one that
// connected between GRANT ALL and the REVOKE would keep the bypass for its whole life.
export const adminUser =
  (plugin: string, bypass: readonly string[]) =>
  (user: string, password: string): Statement[] => [
    { sql: `CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED ${plugin}BY ? ACCOUNT LOCK`, params: [user, password] },
    // A retried create must end with the password the manager handed out, not an older one.
    { sql: `ALTER USER ?@'%' IDENTIFIED ${plugin}BY ? ACCOUNT LOCK`, params: [user, password] },
    { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: [user] },
    { sql: `REVOKE ${bypass.join(', ')} ON *.* FROM ?@'%'`, params: [user] },
    { sql: "ALTER USER ?@'%' ACCOUNT UNLOCK", params: [user] },
  ];

// information_schema.USER_PRIVILEGES lists static and (MySQL) dynamic global privileges.
export const bypassers = (privileges: readonly string[], system: string): Statement => ({
  sql: `SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN (?) AND GRANTEE <> '''root''@''localhost''' AND GRANTEE NOT LIKE '${system}'`,
  params: [privileges],
});

const VARIABLE = /^[a-z][a-z0-9_]{0,63}$/;

// What both flavors spell alike.
export const serverState = {
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
  flushBinaryLogs: (): Statement => ({ sql: 'FLUSH BINARY LOGS', params: [] }),
};

// A replica gives up on a silent source after this long and reconnects (failure detection asks
// the replicas whether they lost the primary: a cut-off host must show within a second or two,
// not the default minute). It is also the replica's connect timeout, which bounds how long a
// failover's STOP of an IO thread that is reconnecting to a cut-off host waits (bench:failover
// --mode partition: 2 s of stop-io at 2 s). The source sends a heartbeat every quarter of it when
// it has nothing else to send, so a live but idle source never trips it; reconnects are tried
// every second (not every minute), so a replica that gave up on a source that was only slow is
// back at once, and a failover needs every replica to have lost it besides a silent agent and a
// failing probe, so a spurious reconnect alone never causes one.
export const REPLICA_NET_TIMEOUT_S = 1;
export const replicaHeartbeatPeriod = (netTimeoutSeconds: number): number => netTimeoutSeconds / 4;

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;
// The redo log exists in full from the first start, before any data: sized from memory alone,
// a small disk reservation would be mostly redo (a 1G MySQL instance on a 384M disk got 256M,
// two thirds of it, and crossed the automatic expansion threshold empty). Whole MiB.
export function redoCap(diskBytes?: number): number {
  return diskBytes ? Math.floor(diskBytes / 8 / MiB) * MiB : Infinity;
}

export function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

export const READ_ONLY_STATE: Statement = { sql: 'SELECT @@GLOBAL.read_only AS ro', params: [] };

export const replUser = (user: string, host: string, password: string, auth: string, requireSsl = false): Statement[] => [
  { sql: `CREATE USER IF NOT EXISTS ?@? IDENTIFIED ${auth}${requireSsl ? ' REQUIRE SSL' : ''}`, params: [user, host, password] },
  { sql: `ALTER USER ?@? IDENTIFIED ${auth}${requireSsl ? ' REQUIRE SSL' : ''}`, params: [user, host, password] },
  { sql: 'GRANT REPLICATION SLAVE ON *.* TO ?@?', params: [user, host] },
];

// A handful of connections at most: a monitor never needs more, and a leaked password cannot
// exhaust the server's.
export const monitorUser = (user: string, host: string, password: string, auth: string, privileges: string, opts?: { binlog?: boolean }): Statement[] =>
  noBinlog({ binlog: opts?.binlog ?? true }, [
    { sql: `CREATE USER IF NOT EXISTS ?@? IDENTIFIED ${auth} WITH MAX_USER_CONNECTIONS 5`, params: [user, host, password] },
    { sql: `ALTER USER ?@? IDENTIFIED ${auth}`, params: [user, host, password] },
    { sql: `GRANT ${privileges} ON *.* TO ?@?`, params: [user, host] },
  ]);

export function semiSyncStatus(table: string, sourceStatus: string, clients: string, replicaStatus: string): Statement {
  const v = (name: string) => `MAX(CASE WHEN UPPER(VARIABLE_NAME) = UPPER('${name}') THEN VARIABLE_VALUE END)`;
  return {
    sql: `SELECT COALESCE(${v(sourceStatus)} = 'ON', 0) AS source_on, COALESCE(${v(clients)}, 0) + 0 AS clients, COALESCE(${v(replicaStatus)} = 'ON', 0) AS replica_on FROM ${table}`,
    params: [],
  };
}

// Session-scoped: the statements run on one connection, which the caller closes afterwards.
export function noBinlog(opts: { binlog?: boolean } | undefined, sts: Statement[]): Statement[] {
  if (opts?.binlog) return sts;
  return [{ sql: 'SET SESSION sql_log_bin = 0', params: [] }, ...sts, { sql: 'SET SESSION sql_log_bin = 1', params: [] }];
}

// Account changes on a server that super_read_only fences (a cut-over's old source): lifted for
// these statements only, read_only stays on meanwhile, and put back as it was.
export function liftSuperReadOnly(sts: Statement[]): Statement[] {
  return [
    { sql: 'SET @berth_sro = @@GLOBAL.super_read_only', params: [] },
    { sql: 'SET GLOBAL super_read_only = OFF', params: [] },
    ...sts,
    { sql: 'SET GLOBAL super_read_only = @berth_sro', params: [] },
  ];
}

export function semiSyncQuery(schema: string, side: 'master' | 'source'): Statement {
  const p = `rpl_semi_sync_${side}_`;
  return {
    sql:
      `SELECT LOWER(VARIABLE_NAME) AS name, VARIABLE_VALUE AS value FROM ${schema}.global_status WHERE LOWER(VARIABLE_NAME) IN (?, ?) ` +
      `UNION ALL SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM ${schema}.global_variables WHERE LOWER(VARIABLE_NAME) IN (?, ?)`,
    params: [`${p}status`, `${p}clients`, `${p}enabled`, `${p}timeout`],
  };
}

export function semiSync(rows: { name: string; value: unknown }[], side: 'master' | 'source'): SemiSyncState {
  const v = new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.value ?? '')]));
  const on = (k: string) => /^(on|1|yes)$/i.test(v.get(`rpl_semi_sync_${side}_${k}`) ?? '');
  return {
    enabled: on('enabled'),
    active: on('status'),
    clients: Number(v.get(`rpl_semi_sync_${side}_clients`) ?? 0) || 0,
    timeoutMs: Number(v.get(`rpl_semi_sync_${side}_timeout`) ?? 0) || 0,
  };
}

export function clientConnections(serverCommands: string[], table = 'information_schema.PROCESSLIST'): Statement {
  return {
    sql:
      `SELECT ID AS id, USER AS user FROM ${table} WHERE ID <> CONNECTION_ID() ` +
      "AND USER NOT IN ('system user', 'event_scheduler', 'root') AND COMMAND NOT IN (?)",
    params: [serverCommands],
  };
}

export function threads(row: Record<string, unknown> | undefined, col: Record<'io' | 'sql' | 'behind' | 'received' | 'host' | 'port', string>): ReplicaThreads {
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

// Privilege names cannot be bound as parameters: only the flavor's own list is ever spliced in.
export function bypassPrivilege(list: readonly string[], privilege: string): string {
  const p = list.find((x) => x === privilege.toUpperCase());
  if (!p) throw new Error(`${privilege.slice(0, 40)} is not a read-only bypass privilege`);
  return p;
}

// information_schema's GRANTEE text, 'user'@'host' with quotes doubled, back into its parts.
export function parseGrantee(grantee: string): { user: string; host: string } {
  const m = /^'((?:[^']|'')*)'@'((?:[^']|'')*)'$/.exec(grantee);
  if (!m) throw new Error(`cannot read account ${grantee.slice(0, 100)}`);
  return { user: m[1]!.replaceAll("''", "'"), host: m[2]!.replaceAll("''", "'") };
}

// Identifiers cannot be bound as parameters: quoted, a backtick doubled (the server's own rule).
const ident = (name: string): string => `\`${name.replaceAll('`', '``')}\``;
const qualified = (schema: string, table: string) => `${ident(schema)}.${ident(table)}`;

// A restore drill's reads, spelled alike by both flavors.
export const tableChecks = {
  userTables: (): Statement => ({
    sql: "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema') ORDER BY TABLE_SCHEMA, TABLE_NAME",
    params: [],
  }),
  checkTable: (schema: string, table: string): Statement => ({ sql: `CHECK TABLE ${qualified(schema, table)}`, params: [] }),
  countRows: (schema: string, table: string): Statement => ({ sql: `SELECT COUNT(*) AS n FROM ${qualified(schema, table)}`, params: [] }),
  checksumTable: (schema: string, table: string): Statement => ({ sql: `CHECKSUM TABLE ${qualified(schema, table)}`, params: [] }),
};

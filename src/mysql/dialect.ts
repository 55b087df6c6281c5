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
  redoLogSettings(bufferPoolBytes: number): Record<string, string | number>;
  // my.cnf lines only this flavor has: plugins turned off, platform settings.
  serverSettings(): Record<string, string | number>;
  // Idempotent: safe to run again after a failure half-way.
  ensureAdminUser(user: string, password: string): Statement[];
  // Leaves root reachable only through the unix socket the agent owns.
  lockRootToSocket(): Statement[];
}

// `plugin` names the authentication plugin where a flavor's default is not the one wanted.
const adminUser =
  (plugin = '') =>
  (user: string, password: string): Statement[] => [
    { sql: `CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED ${plugin}BY ?`, params: [user, password] },
    // A retried create must end with the password the manager handed out, not an older one.
    { sql: `ALTER USER ?@'%' IDENTIFIED ${plugin}BY ?`, params: [user, password] },
    { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: [user] },
  ];

const LOCK_ROOT = "ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket";
const INSTALL_AUTH_SOCKET = "INSTALL PLUGIN auth_socket SONAME 'auth_socket.so'";

export const mariadb: Dialect = {
  flavor: 'mariadb',
  initCommand: (defaultsFile) =>
    `mariadb-install-db --defaults-file=${defaultsFile} --user=mysql --skip-test-db --auth-root-authentication-method=socket`,
  gtidSettings: () => ({ binlog_format: 'ROW', gtid_strict_mode: 'ON', log_slave_updates: 'ON', gtid_domain_id: 0 }),
  redoLogSettings: (pool) => ({ innodb_log_file_size: clamp(Math.floor(pool / 4), 48 * MiB, 2 * GiB) }),
  serverSettings: () => ({}),
  ensureAdminUser: adminUser(),
  // mariadb-install-db already made root@localhost socket-only (and no anonymous users).
  lockRootToSocket: () => [],
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
  redoLogSettings: (pool) => ({ innodb_redo_log_capacity: clamp(Math.floor(pool / 2), 8 * MiB, 4 * GiB) }),
  // The X Protocol plugin would take port 33060 for every instance on the host: berth serves the
  // classic protocol only. NUMA interleaving needs mbind(), which Docker's seccomp profile
  // refuses (a warning at every start).
  serverSettings: () => ({ mysqlx: 'OFF', innodb_numa_interleave: 'OFF' }),
  // caching_sha2_password is 8.x/9.x's default already; named so a server configured otherwise
  // still hands out what clients expect. Over TCP without TLS clients fetch the server's RSA key.
  ensureAdminUser: adminUser('WITH caching_sha2_password '),
  // Done at initialization already; repeated (idempotent) when a create is retried.
  lockRootToSocket: () => [{ sql: LOCK_ROOT, params: [] }],
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
function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

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
  // my.cnf lines that turn on GTID-based replication for this flavor.
  gtidSettings(): Record<string, string | number>;
  redoLogSettings(bufferPoolBytes: number): Record<string, string | number>;
  // Extra lines needed before root can be locked to the socket.
  pluginSettings(): Record<string, string | number>;
  // Idempotent: safe to run again after a failure half-way.
  ensureAdminUser(user: string, password: string): Statement[];
  // Leaves root reachable only through the unix socket the agent owns.
  lockRootToSocket(): Statement[];
}

const adminUser = (user: string, password: string): Statement[] => [
  { sql: "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", params: [user, password] },
  // A retried create must end with the password the manager handed out, not an older one.
  { sql: "ALTER USER ?@'%' IDENTIFIED BY ?", params: [user, password] },
  { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: [user] },
];

export const mariadb: Dialect = {
  flavor: 'mariadb',
  initCommand: (defaultsFile) =>
    `mariadb-install-db --defaults-file=${defaultsFile} --user=mysql --skip-test-db --auth-root-authentication-method=socket`,
  gtidSettings: () => ({ gtid_strict_mode: 'ON', log_slave_updates: 'ON', gtid_domain_id: 0 }),
  redoLogSettings: (pool) => ({ innodb_log_file_size: clamp(Math.floor(pool / 4), 48 * MiB, 2 * GiB) }),
  pluginSettings: () => ({}),
  ensureAdminUser: adminUser,
  // mariadb-install-db already made root@localhost socket-only (and no anonymous users).
  lockRootToSocket: () => [],
};

export const mysql: Dialect = {
  flavor: 'mysql',
  initCommand: (defaultsFile) => `mysqld --defaults-file=${defaultsFile} --initialize-insecure --user=mysql`,
  gtidSettings: () => ({ gtid_mode: 'ON', enforce_gtid_consistency: 'ON', log_replica_updates: 'ON' }),
  redoLogSettings: (pool) => ({ innodb_redo_log_capacity: clamp(Math.floor(pool / 2), 8 * MiB, 4 * GiB) }),
  pluginSettings: () => ({ 'plugin-load-add': 'auth_socket.so' }),
  ensureAdminUser: adminUser,
  // --initialize-insecure leaves root@localhost with an empty password, reachable over TCP on
  // 127.0.0.1 too: bind it to the OS user on the socket instead.
  lockRootToSocket: () => [{ sql: "ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket", params: [] }],
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

import type { Dialect, Flavor } from './dialect-interface';
import { mariadb } from './mariadb';
import { mysql } from './mysql';

// The Dialect of each flavor, one file each (mariadb.ts, mysql.ts; what both spell alike in
// common-sql.ts); the interface and its types in dialect-interface.ts.
export type * from './dialect-interface';
export { mariadb, mysql };
export { parseGrantee, redoCap } from './common-sql';

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

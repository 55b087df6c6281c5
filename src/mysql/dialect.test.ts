import { describe, expect, it } from 'vitest';
import { dialectFor, parseServerVersion } from './dialect';

describe('parseServerVersion', () => {
  it.each([
    ['mysqld  Ver 10.11.18-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)', 'mariadb', '10.11.18'],
    ['10.11.18-MariaDB-0+deb12u1', 'mariadb', '10.11.18'],
    ['/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)', 'mysql', '8.0.36'],
    ['8.4.3', 'mysql', '8.4.3'],
    ['/usr/sbin/mysqld  Ver 9.7.4-2 for Linux on x86_64 ((Debian))', 'mysql', '9.7.4'],
    ['mariadbd  Ver 11.4.2-MariaDB for Linux', 'mariadb', '11.4.2'],
  ])('%s', (text, flavor, version) => expect(parseServerVersion(text)).toEqual({ flavor, version }));

  it('refuses text with no version', () => expect(() => parseServerVersion('command not found')).toThrow(/cannot read/));
});

describe('dialects', () => {
  it('turn on GTID the way each flavor spells it', () => {
    expect(dialectFor('mariadb').gtidSettings()).toMatchObject({ gtid_strict_mode: 'ON', log_slave_updates: 'ON' });
    expect(dialectFor('mysql').gtidSettings()).toEqual({ gtid_mode: 'ON', enforce_gtid_consistency: 'ON', log_replica_updates: 'ON' });
  });

  it('write binlog_format only for MariaDB (deprecated in MySQL 8.0.34, ROW is all 9.x writes)', () => {
    expect(dialectFor('mariadb').gtidSettings()).toMatchObject({ binlog_format: 'ROW' });
    expect(dialectFor('mysql').gtidSettings()).not.toHaveProperty('binlog_format');
  });

  it('turn the X Protocol (port 33060 would clash) and NUMA interleaving off for MySQL', () => {
    expect(dialectFor('mysql').serverSettings()).toEqual({ mysqlx: 'OFF', innodb_numa_interleave: 'OFF' });
    expect(dialectFor('mariadb').serverSettings()).toEqual({});
  });

  it('create the admin user with the expected SQL', () => {
    expect(dialectFor('mariadb').ensureAdminUser('admin', 'pw')).toEqual([
      { sql: "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", params: ['admin', 'pw'] },
      { sql: "ALTER USER ?@'%' IDENTIFIED BY ?", params: ['admin', 'pw'] },
      { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: ['admin'] },
    ]);
    expect(dialectFor('mysql').ensureAdminUser('admin', 'pw')).toEqual([
      { sql: "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED WITH caching_sha2_password BY ?", params: ['admin', 'pw'] },
      { sql: "ALTER USER ?@'%' IDENTIFIED WITH caching_sha2_password BY ?", params: ['admin', 'pw'] },
      { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: ['admin'] },
    ]);
  });

  it('lock root to the socket: MySQL during initialization and again after, MariaDB by its installer', () => {
    expect(dialectFor('mysql').lockRootToSocket()).toEqual([{ sql: "ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket", params: [] }]);
    expect(dialectFor('mysql').initCommand('/etc/berth/my.cnf')).toBe(
      `echo "INSTALL PLUGIN auth_socket SONAME 'auth_socket.so'; ALTER USER 'root'@'localhost' IDENTIFIED WITH auth_socket;" > /tmp/berth-init.sql && ` +
        'mysqld --defaults-file=/etc/berth/my.cnf --initialize-insecure --user=mysql --init-file=/tmp/berth-init.sql --skip-log-error',
    );
    expect(dialectFor('mariadb').lockRootToSocket()).toEqual([]);
    expect(dialectFor('mariadb').initCommand('/etc/berth/my.cnf')).toContain('--auth-root-authentication-method=socket');
  });

  it('never put the password into the SQL text itself', () => {
    for (const flavor of ['mariadb', 'mysql'] as const) {
      for (const st of dialectFor(flavor).ensureAdminUser('admin', 's3cret!')) {
        expect(st.sql).not.toContain('s3cret');
      }
    }
  });

  it('initialize the data directory with each flavor’s own tool', () => {
    expect(dialectFor('mariadb').initCommand('/etc/berth/my.cnf')).toMatch(/^mariadb-install-db --defaults-file=\/etc\/berth\/my.cnf/);
    expect(dialectFor('mysql').initCommand('/etc/berth/my.cnf')).toMatch(/--initialize-insecure/);
  });
});

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

  it('create the admin user without the privileges that write through read_only, locked while it changes', () => {
    expect(dialectFor('mariadb').ensureAdminUser('admin', 'pw')).toEqual([
      { sql: "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ? ACCOUNT LOCK", params: ['admin', 'pw'] },
      { sql: "ALTER USER ?@'%' IDENTIFIED BY ? ACCOUNT LOCK", params: ['admin', 'pw'] },
      { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: ['admin'] },
      { sql: "REVOKE READ_ONLY ADMIN ON *.* FROM ?@'%'", params: ['admin'] },
      { sql: "ALTER USER ?@'%' ACCOUNT UNLOCK", params: ['admin'] },
    ]);
    expect(dialectFor('mysql').ensureAdminUser('admin', 'pw')).toEqual([
      { sql: "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED WITH caching_sha2_password BY ? ACCOUNT LOCK", params: ['admin', 'pw'] },
      { sql: "ALTER USER ?@'%' IDENTIFIED WITH caching_sha2_password BY ? ACCOUNT LOCK", params: ['admin', 'pw'] },
      { sql: "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", params: ['admin'] },
      { sql: "REVOKE SUPER, CONNECTION_ADMIN ON *.* FROM ?@'%'", params: ['admin'] },
      { sql: "ALTER USER ?@'%' ACCOUNT UNLOCK", params: ['admin'] },
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

  it('configure semi-sync with the built-in MariaDB variables: AFTER_SYNC, a timeout, both sides on', () => {
    expect(dialectFor('mariadb').semiSyncSettings(5000)).toEqual({
      rpl_semi_sync_master_enabled: 'ON',
      rpl_semi_sync_slave_enabled: 'ON',
      rpl_semi_sync_master_wait_point: 'AFTER_SYNC',
      rpl_semi_sync_master_timeout: 5000,
      rpl_semi_sync_master_wait_no_slave: 'OFF',
    });
  });

  it('configure semi-sync on MySQL through the source and replica plugins, loaded at start', () => {
    const s = dialectFor('mysql').semiSyncSettings(5000);
    expect(s['plugin-load-add']).toBe('semisync_source.so;semisync_replica.so');
    expect(s).toMatchObject({
      'loose-rpl_semi_sync_source_enabled': 'ON',
      'loose-rpl_semi_sync_replica_enabled': 'ON',
      'loose-rpl_semi_sync_source_wait_point': 'AFTER_SYNC',
      'loose-rpl_semi_sync_source_timeout': 5000,
      'loose-rpl_semi_sync_source_wait_no_replica': 'OFF',
    });
    // No "master"/"slave" names: MySQL 9 has only the source/replica plugins.
    expect(Object.keys(s).join(' ')).not.toMatch(/master|slave/);
  });

  it('read the semi-sync state from each flavor’s status table and names', () => {
    const m = dialectFor('mariadb').semiSyncStatus().sql;
    expect(m).toContain('information_schema.GLOBAL_STATUS');
    expect(m).toContain('RPL_SEMI_SYNC_MASTER_STATUS');
    expect(m).toContain('RPL_SEMI_SYNC_MASTER_CLIENTS');
    expect(m).toMatch(/AS source_on.*AS clients.*AS replica_on/);
    const y = dialectFor('mysql').semiSyncStatus().sql;
    expect(y).toContain('performance_schema.global_status');
    expect(y).toContain('Rpl_semi_sync_source_status');
    expect(y).toContain('Rpl_semi_sync_replica_status');
  });

  it('give the monitoring user status privileges only, a connection cap, and no password in the SQL', () => {
    const m = dialectFor('mariadb').createMonitorUser('berth_monitor', '%', 's3cret');
    expect(m).toEqual([
      { sql: "CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS 5", params: ['berth_monitor', '%', 's3cret'] },
      { sql: 'ALTER USER ?@? IDENTIFIED BY ?', params: ['berth_monitor', '%', 's3cret'] },
      { sql: 'GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS ON *.* TO ?@?', params: ['berth_monitor', '%'] },
    ]);
    const y = dialectFor('mysql').createMonitorUser('berth_monitor', '%', 's3cret');
    expect(y.map((st) => st.sql)).toContain('GRANT REPLICATION CLIENT, PROCESS ON *.* TO ?@?');
    // Account changes on a read-only member lift super_read_only for themselves only.
    expect(y[1]).toEqual({ sql: 'SET GLOBAL super_read_only = OFF', params: [] });
    for (const st of [...m, ...y]) {
      expect(st.sql).not.toContain('s3cret');
      expect(st.sql).not.toMatch(/ALL PRIVILEGES|SUPER|INSERT|UPDATE|DELETE|SELECT ON/);
    }
    // Binlogged unless told otherwise (every member gets it); kept off the binlog on request.
    expect(m.map((st) => st.sql)).not.toContain('SET SESSION sql_log_bin = 0');
    expect(dialectFor('mariadb').createMonitorUser('u', '%', 'p', { binlog: false })[0]).toEqual({ sql: 'SET SESSION sql_log_bin = 0', params: [] });
  });
});

describe('server state the agent keeps, both flavors', () => {
  it.each(['mariadb', 'mysql'] as const)('%s: SET GLOBAL binds values and refuses what is not a variable name', (flavor) => {
    const d = dialectFor(flavor);
    expect(d.setGlobals({ innodb_buffer_pool_size: 536870912, max_connections: 120 })).toEqual([
      { sql: 'SET GLOBAL innodb_buffer_pool_size = ?', params: [536870912] },
      { sql: 'SET GLOBAL max_connections = ?', params: [120] },
    ]);
    expect(() => d.setGlobals({ 'x = 1; DROP DATABASE mysql; --': 1 })).toThrow(/not a server variable name/);
  });

  it.each(['mariadb', 'mysql'] as const)('%s: the agent’s own statements can run with the binary log off for their session', (flavor) => {
    const d = dialectFor(flavor);
    expect(d.unlogged([{ sql: 'X', params: [] }]).map((s) => s.sql)).toEqual(['SET SESSION sql_log_bin = 0', 'X', 'SET SESSION sql_log_bin = 1']);
  });

  it.each(['mariadb', 'mysql'] as const)('%s: memory read back, status by pattern, binary logs listed and purged with bound names', (flavor) => {
    const d = dialectFor(flavor);
    expect(d.memoryVariables().sql).toMatch(/innodb_buffer_pool_size AS pool, .*max_connections AS conns/);
    expect(d.globalStatus('Uptime')).toEqual({ sql: 'SHOW GLOBAL STATUS LIKE ?', params: ['Uptime'] });
    expect(d.binaryLogs()).toEqual({ sql: 'SHOW BINARY LOGS', params: [] });
    expect(d.purgeBinaryLogsTo("binlog.000007' OR 1")).toEqual({ sql: 'PURGE BINARY LOGS TO ?', params: ["binlog.000007' OR 1"] });
    expect(d.flushBinaryLogs()).toEqual({ sql: 'FLUSH BINARY LOGS', params: [] });
    expect(d.gtidPurged()?.sql).toBe(flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_purged AS g' : undefined);
  });
});

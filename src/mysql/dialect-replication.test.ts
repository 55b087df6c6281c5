import { describe, expect, it } from 'vitest';
import { dialectFor, mariadb, mysql, parseGrantee, type Statement } from './dialect';

const sqlOf = (sts: Statement[]) => sts.map((s) => s.sql);
const src = { host: '127.0.0.1', port: 3701, user: 'berth_repl_x', password: 'Secr3t-pw' };

describe('replication SQL, per flavor', () => {
  it('replication user: only REPLICATION SLAVE, password as a parameter, kept out of the binlog', () => {
    for (const d of [mariadb, mysql]) {
      const all = d.createReplicationUser('r1', '%', 'Secr3t-pw');
      // MySQL: super_read_only lifted around the account change, then put back as it was.
      const sts = d === mysql ? all.slice(2, -1) : all;
      if (d === mysql) expect([all[1]!.sql, all.at(-1)!.sql]).toEqual(['SET GLOBAL super_read_only = OFF', 'SET GLOBAL super_read_only = @berth_sro']);
      expect(sts[0]!.sql).toBe('SET SESSION sql_log_bin = 0');
      expect(sts.at(-1)!.sql).toBe('SET SESSION sql_log_bin = 1');
      const grants = sts.filter((s) => s.sql.startsWith('GRANT'));
      expect(grants).toEqual([{ sql: 'GRANT REPLICATION SLAVE ON *.* TO ?@?', params: ['r1', '%'] }]);
      for (const s of sts) expect(s.sql).not.toContain('Secr3t');
      expect(sts.some((s) => s.params.includes('Secr3t-pw'))).toBe(true);
      expect(sqlOf(d.createReplicationUser('r1', '%', 'p', { binlog: true }))).not.toContain('SET SESSION sql_log_bin = 0');
      expect(sqlOf(d.dropReplicationUser('r1', '%'))).toEqual(expect.arrayContaining(['SET SESSION sql_log_bin = 0', 'DROP USER IF EXISTS ?@?', 'SET SESSION sql_log_bin = 1']));
    }
    // 9.x has no mysql_native_password: name the plugin.
    expect(mysql.createReplicationUser('r1', '%', 'p')[3]!.sql).toBe('CREATE USER IF NOT EXISTS ?@? IDENTIFIED WITH caching_sha2_password BY ?');
  });

  it('MariaDB replica: gtid_slave_pos from the copy, then CHANGE MASTER with MASTER_USE_GTID=slave_pos', () => {
    const sts = mariadb.configureReplica(src, '0-1-7');
    expect(sts).toEqual([
      { sql: 'STOP SLAVE', params: [] },
      { sql: 'SET GLOBAL gtid_slave_pos = ?', params: ['0-1-7'] },
      {
        sql: 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
        params: ['127.0.0.1', 3701, 'berth_repl_x', 'Secr3t-pw'],
      },
    ]);
    expect(sqlOf(mariadb.configureReplica(src))).toEqual(['STOP SLAVE', expect.stringMatching(/^CHANGE MASTER TO .*MASTER_USE_GTID = current_pos/)]);
  });

  it('MySQL replica: CHANGE REPLICATION SOURCE with auto-position and the source public key', () => {
    const sts = mysql.configureReplica(src);
    expect(sqlOf(sts)).toEqual([
      'STOP REPLICA',
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1, SOURCE_CONNECT_RETRY = 1',
    ]);
    expect(sqlOf(mysql.configureReplica(src, 'u:1-5'))).toEqual(['STOP REPLICA', 'RESET BINARY LOGS AND GTIDS', 'SET GLOBAL gtid_purged = ?', expect.any(String)]);
  });

  it('start, stop (all or IO only), reset', () => {
    expect(sqlOf([...mariadb.startReplica(), ...mariadb.stopReplica(), ...mariadb.stopReplica(true), ...mariadb.resetReplica()])).toEqual([
      'START SLAVE',
      'STOP SLAVE',
      'STOP SLAVE IO_THREAD',
      'STOP SLAVE',
      'RESET SLAVE ALL',
    ]);
    expect(sqlOf([...mysql.startReplica(), ...mysql.stopReplica(), ...mysql.stopReplica(true), ...mysql.resetReplica()])).toEqual([
      'START REPLICA',
      'STOP REPLICA',
      'STOP REPLICA IO_THREAD',
      'STOP REPLICA',
      'RESET REPLICA ALL',
    ]);
  });

  it('read-only: MariaDB read_only; MySQL super_read_only, and both off when writable', () => {
    expect(sqlOf(mariadb.setReadOnly(true))).toEqual(['SET GLOBAL read_only = ON']);
    expect(sqlOf(mariadb.setReadOnly(false))).toEqual(['SET GLOBAL read_only = OFF']);
    expect(sqlOf(mysql.setReadOnly(true))).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(sqlOf(mysql.setReadOnly(false))).toEqual(['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF']);
    // What writes through read_only: MariaDB's READ_ONLY ADMIN; MySQL's SUPER and CONNECTION_ADMIN.
    expect(mariadb.readOnlyBypassers().params).toEqual([['READ_ONLY ADMIN']]);
    expect(mysql.readOnlyBypassers().params).toEqual([['SUPER', 'CONNECTION_ADMIN']]);
    expect(mysql.readOnlyBypassers().sql).toContain("GRANTEE NOT LIKE '''mysql.%'");
    expect(sqlOf(mariadb.revokeReadOnlyBypass('admin', '%', 'READ_ONLY ADMIN'))).toEqual(['SET SESSION sql_log_bin = 0', 'REVOKE READ_ONLY ADMIN ON *.* FROM ?@?', 'SET SESSION sql_log_bin = 1']);
    // An account change on MySQL: super_read_only lifted around it, not binlogged.
    expect(sqlOf(mysql.revokeReadOnlyBypass('admin', '%', 'connection_admin'))).toEqual([
      'SET @berth_sro = @@GLOBAL.super_read_only',
      'SET GLOBAL super_read_only = OFF',
      'SET SESSION sql_log_bin = 0',
      'REVOKE CONNECTION_ADMIN ON *.* FROM ?@?',
      'SET SESSION sql_log_bin = 1',
      'SET GLOBAL super_read_only = @berth_sro',
    ]);
    // Only the flavor's own names are ever spliced into the SQL.
    expect(() => mysql.revokeReadOnlyBypass('admin', '%', 'ALL ON *.* TO x; --')).toThrow(/not a read-only bypass privilege/);
  });

  it('client connections leave out replicas reading the binlog, server threads and the agent', () => {
    expect(mariadb.clientConnections().params).toEqual([['Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker']]);
    expect(mysql.clientConnections().params[0]).toContain('Binlog Dump GTID');
    expect(mariadb.clientConnections().sql).toMatch(/FROM information_schema.PROCESSLIST/);
    expect(mysql.clientConnections().sql).toMatch(/FROM performance_schema.processlist/);
    for (const d of [mariadb, mysql]) {
      expect(d.clientConnections().sql).toMatch(/ID <> CONNECTION_ID\(\)/);
      expect(d.clientConnections().sql).toMatch(/'root'/);
      expect(d.killConnection(42)).toEqual({ sql: 'KILL CONNECTION ?', params: [42] });
    }
  });

  it('wait for a GTID set with a timeout, and read the executed set', () => {
    expect(mariadb.waitForGtid('0-1-9', 2.5)).toEqual({ sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS r', params: ['0-1-9', 2.5] });
    expect(mysql.waitForGtid('u:1-9', 2.5)).toEqual({ sql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r', params: ['u:1-9', 2.5] });
    expect(mariadb.executedGtid().sql).toMatch(/gtid_binlog_pos.*gtid_slave_pos/);
    expect(mysql.executedGtid().sql).toBe('SELECT @@GLOBAL.gtid_executed AS gtid');
  });

  it('CLONE on MySQL only: donor with BACKUP_ADMIN, recipient with a donor list', () => {
    expect(mariadb.cloneFrom(src)).toEqual([]);
    expect(mariadb.clonePluginCheck()).toBeUndefined();
    const donor = mysql.createCloneDonorUser('d1', '%', 'pw');
    expect(donor.filter((s) => s.sql.startsWith('GRANT')).map((s) => s.sql)).toEqual(['GRANT REPLICATION SLAVE ON *.* TO ?@?', 'GRANT BACKUP_ADMIN ON *.* TO ?@?']);
    // A read-only donor (a cluster's primary before it opens) lifts super_read_only for these only.
    expect(donor[1]).toEqual({ sql: 'SET GLOBAL super_read_only = OFF', params: [] });
    expect(donor.at(-1)).toEqual({ sql: 'SET GLOBAL super_read_only = @berth_sro', params: [] });
    expect(mysql.cloneFrom(src)).toEqual([
      { sql: 'SET GLOBAL clone_valid_donor_list = ?', params: ['127.0.0.1:3701'] },
      { sql: 'CLONE INSTANCE FROM ?@?:? IDENTIFIED BY ?', params: ['berth_repl_x', '127.0.0.1', 3701, 'Secr3t-pw'] },
    ]);
  });
});

describe('replica status in one shape', () => {
  it('MariaDB SHOW SLAVE STATUS', () => {
    const row = {
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Seconds_Behind_Master: 0,
      Last_IO_Error: '',
      Last_SQL_Error: '',
      Gtid_IO_Pos: '0-1-12',
      Master_Host: '127.0.0.1',
      Master_Port: 3701,
    };
    expect(mariadb.parseReplicaStatus(row)).toEqual({
      configured: true,
      ioRunning: true,
      ioConnecting: false,
      sqlRunning: true,
      secondsBehind: 0,
      lastIoError: '',
      lastSqlError: '',
      receivedGtids: '0-1-12',
      sourceHost: '127.0.0.1',
      sourcePort: 3701,
    });
  });

  it('MySQL SHOW REPLICA STATUS, connecting, with an error and a wrapped GTID set', () => {
    const row = {
      Replica_IO_Running: 'Connecting',
      Replica_SQL_Running: 'Yes',
      Seconds_Behind_Source: null,
      Last_IO_Error: 'error connecting to source',
      Last_SQL_Error: '',
      Retrieved_Gtid_Set: 'u1:1-5,\nu2:1-3',
      Source_Host: '127.0.0.1',
      Source_Port: '3702',
    };
    expect(mysql.parseReplicaStatus(row)).toMatchObject({
      ioRunning: false,
      ioConnecting: true,
      sqlRunning: true,
      secondsBehind: null,
      lastIoError: 'error connecting to source',
      receivedGtids: 'u1:1-5,u2:1-3',
      sourcePort: 3702,
    });
  });

  it('no row: not a replica', () => {
    expect(dialectFor('mariadb').parseReplicaStatus(undefined)).toMatchObject({ configured: false, ioRunning: false, sqlRunning: false, secondsBehind: null });
  });

  it('grantee text back into user and host', () => {
    expect(parseGrantee("'admin'@'%'")).toEqual({ user: 'admin', host: '%' });
    expect(parseGrantee("'o''brien'@'10.0.0.%'")).toEqual({ user: "o'brien", host: '10.0.0.%' });
    expect(() => parseGrantee('admin@%')).toThrow(/cannot read/);
  });
});

describe('replication and CLONE over TLS, per flavor', () => {
  const tls = { ca: '/etc/berth/tls/ca.pem' };

  it('accounts other servers connect with are REQUIRE SSL when asked, both flavors', () => {
    for (const d of [mariadb, mysql]) {
      const users = d.createReplicationUser('r1', '%', 'p', { requireSsl: true }).filter((s) => /^(CREATE|ALTER) USER/.test(s.sql));
      expect(users.map((s) => s.sql.endsWith(' REQUIRE SSL'))).toEqual([true, true]);
      expect(d.createReplicationUser('r1', '%', 'p').some((s) => s.sql.includes('REQUIRE'))).toBe(false);
    }
    const donor = mysql.createCloneDonorUser('c1', '%', 'p', { requireSsl: true }).filter((s) => /^(CREATE|ALTER) USER/.test(s.sql));
    expect(donor.map((s) => s.sql)).toEqual(['CREATE USER IF NOT EXISTS ?@? IDENTIFIED WITH caching_sha2_password BY ? REQUIRE SSL', 'ALTER USER ?@? IDENTIFIED WITH caching_sha2_password BY ? REQUIRE SSL']);
  });

  it('a replica connects with TLS and verifies the source with the CA: MASTER_SSL (MariaDB), SOURCE_SSL (MySQL)', () => {
    expect(mariadb.configureReplica(src, '0-1-7', tls).at(-1)).toEqual({
      sql: 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1',
      params: ['127.0.0.1', 3701, 'berth_repl_x', 'Secr3t-pw', tls.ca],
    });
    expect(mysql.configureReplica(src, undefined, tls).at(-1)).toEqual({
      sql: 'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_SSL = 1, SOURCE_SSL_CA = ?, SOURCE_SSL_VERIFY_SERVER_CERT = 1',
      params: ['127.0.0.1', 3701, 'berth_repl_x', 'Secr3t-pw', tls.ca],
    });
  });

  it('MySQL CLONE: REQUIRE SSL with the CA as clone_ssl_ca; MariaDB has no CLONE', () => {
    expect(mysql.cloneFrom(src, tls)).toEqual([
      { sql: 'SET GLOBAL clone_valid_donor_list = ?', params: ['127.0.0.1:3701'] },
      { sql: 'SET GLOBAL clone_ssl_ca = ?', params: [tls.ca] },
      { sql: 'CLONE INSTANCE FROM ?@?:? IDENTIFIED BY ? REQUIRE SSL', params: ['berth_repl_x', '127.0.0.1', 3701, 'Secr3t-pw'] },
    ]);
    expect(sqlOf(mysql.cloneFrom(src))).toEqual(['SET GLOBAL clone_valid_donor_list = ?', 'CLONE INSTANCE FROM ?@?:? IDENTIFIED BY ?']);
    expect(mariadb.cloneFrom(src, tls)).toEqual([]);
  });
});

describe('certificate reload', () => {
  it('MySQL ALTER INSTANCE RELOAD TLS, MariaDB FLUSH SSL', () => {
    expect(sqlOf(mysql.reloadTls())).toEqual(['ALTER INSTANCE RELOAD TLS']);
    expect(sqlOf(mariadb.reloadTls())).toEqual(['FLUSH SSL']);
  });
});

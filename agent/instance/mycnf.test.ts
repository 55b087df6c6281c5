import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { binlogFileBytes, bufferPoolBytes, maxConnections, renderMyCnf, type MyCnfInput } from './mycnf';

const G = 1024 ** 3;
const M = 1024 ** 2;
const expected = (name: string) => fs.readFileSync(path.join(__dirname, 'testdata', name), 'utf8');

describe('renderMyCnf', () => {
  const base: MyCnfInput = { flavor: 'mariadb', instanceId: 'i-0123456789', serverId: 7, bindAddress: '127.0.0.2', port: 3301, memoryBytes: G, diskBytes: 10 * G };

  it('renders MariaDB 1G as expected', () => expect(renderMyCnf(base)).toBe(expected('mariadb-1g.cnf')));
  it('renders MariaDB 1G with required TLS as expected', () => expect(renderMyCnf({ ...base, tls: { required: true } })).toBe(expected('mariadb-1g-tls.cnf')));
  it('writes the same TLS lines for MySQL, required or not, before the flavor-only section', () => {
    const cnf = renderMyCnf({ ...base, flavor: 'mysql', tls: { required: false } });
    expect(cnf).toContain('\n# TLS for clients (the node certificate from the fleet CA)\nssl-ca = /etc/berth/tls/ca.pem\nssl-cert = /etc/berth/tls/server-cert.pem\nssl-key = /etc/berth/tls/server-key.pem\nrequire-secure-transport = OFF\n');
    expect(cnf.indexOf('# TLS for clients')).toBeLessThan(cnf.indexOf('# mysql only'));
    expect(renderMyCnf({ ...base, flavor: 'mysql' })).not.toContain('ssl-');
  });
  it('renders MySQL 9.7 16G as expected', () =>
    expect(renderMyCnf({ ...base, flavor: 'mysql', memoryBytes: 16 * G, port: 3312, serverId: 42 })).toBe(expected('mysql-16g.cnf')));
  // performance_schema, the log buffer and TempTable sized to a 512M container (they took about
  // 560 MB at rest with mysqld's defaults).
  it('renders MySQL 9.7 512M as expected', () =>
    expect(renderMyCnf({ ...base, flavor: 'mysql', memoryBytes: 512 * M, port: 3312, serverId: 42 })).toBe(expected('mysql-512m.cnf')));

  // A semi-sync cluster member that starts as a replica: both flavors, expected files.
  it.each(['mariadb', 'mysql'] as const)('renders a %s semi-sync cluster member as expected', (flavor) =>
    expect(renderMyCnf({ ...base, flavor, replica: true, semiSyncTimeoutMs: 5000 })).toBe(expected(`${flavor}-semisync-member.cnf`)));

  // A Group Replication member (3 members on 127.0.0.2-4, GR ports beside the instance ports),
  // with TLS: the group's traffic and its recovery channel use the instance's certificate.
  const group = {
    groupName: '3f6c0c8e-55b1-4c2e-9d1a-6f1e2b7a9c01',
    localAddress: '127.0.0.2:4301',
    seeds: ['127.0.0.2:4301', '127.0.0.3:4302', '127.0.0.4:4303'],
    allowlist: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
    memberWeight: 60,
    consistency: 'BEFORE_ON_PRIMARY_FAILOVER',
    autorejoinTries: 3,
  };
  it('renders a MySQL group replication member as expected', () =>
    expect(renderMyCnf({ ...base, flavor: 'mysql', replica: true, tls: { required: false }, group })).toBe(expected('mysql-group-member.cnf')));
  // A Galera member (3 members on 127.0.0.2-4; Galera ports 1000, 2000 and 3000 above the
  // instance ports), after its first start: it joins the peers.
  const galera = {
    clusterName: 'ledger',
    address: '127.0.0.2:4301',
    peers: ['127.0.0.2:4301', '127.0.0.3:4302', '127.0.0.4:4303'],
    istAddress: '127.0.0.2:5301',
    sstAddress: '127.0.0.2:6301',
    incomingAddress: '127.0.0.2:3301',
    bootstrap: false,
    sstUser: 'berth_sst',
    sstPassword: 'c2VjcmV0LXNzdC1wYXNz',
    gtidDomain: 7,
  };
  it('renders a MariaDB Galera member as expected', () => expect(renderMyCnf({ ...base, replica: true, group: { ...group, galera } })).toBe(expected('mariadb-galera-member.cnf')));
  it('makes a new cluster only at the first start of the first member', () => {
    expect(renderMyCnf({ ...base, replica: true, group: { ...group, galera: { ...galera, bootstrap: true } } })).toContain('\nwsrep-cluster-address = gcomm://\n');
    expect(renderMyCnf({ ...base, replica: true, group: { ...group, galera } })).toContain('\nwsrep-cluster-address = gcomm://127.0.0.2:4301,127.0.0.3:4302,127.0.0.4:4303\n');
  });
  it('refuses a MariaDB group member without its Galera settings', () => expect(() => renderMyCnf({ ...base, replica: true, group })).toThrow(/Galera settings/));
  it('writes no Galera line for a MySQL group member given Galera settings too', () =>
    expect(renderMyCnf({ ...base, flavor: 'mysql', replica: true, tls: { required: false }, group: { ...group, galera } })).toBe(expected('mysql-group-member.cnf')));

  // Names MySQL 8.0.x deprecated and 8.4/9.x removed or warn about at start-up; the integration
  // test also fails on any such warning in mysqld's error log.
  const goneInMysql9 = [
    'binlog-format', 'log-slave-updates', 'expire-logs-days', 'default-authentication-plugin', 'innodb-log-file-size',
    'innodb-log-files-in-group', 'master-info-repository', 'relay-log-info-repository', 'query-cache-size',
    'skip-host-cache', 'transaction-write-set-extraction', 'binlog-transaction-dependency-tracking', 'slave-parallel-workers',
  ];
  it.each(goneInMysql9)('never writes %s for MySQL', (name) => {
    const names = renderMyCnf({ ...base, flavor: 'mysql' })
      .split('\n')
      .map((l) => l.split(' = ')[0]);
    expect(names).not.toContain(name);
  });
});

describe('sizing', () => {
  const base0: MyCnfInput = { flavor: 'mariadb', instanceId: 'i-0123456789', serverId: 7, bindAddress: '127.0.0.2', port: 3301, memoryBytes: G };
  it('binlog files are 1/32 of the disk reservation, 16M to 1G', () => {
    expect(binlogFileBytes(10 * G)).toBe(320 * M);
    expect(binlogFileBytes(64 * M)).toBe(16 * M);
    expect(binlogFileBytes(1024 * G)).toBe(G);
  });

  it.each([
    [256 * M, 128 * M, 64 * M],
    [512 * M, 256 * M, 192 * M],
    [768 * M, 384 * M, 384 * M],
    [G, 512 * M, 512 * M],
    [4 * G, 2432 * M, 2432 * M],
    [16 * G, 12 * G, 12 * G],
  ])('buffer pool for %d bytes is %d (MariaDB), %d (MySQL)', (mem, maria, my) => {
    expect(bufferPoolBytes(mem, 'mariadb')).toBe(maria);
    expect(bufferPoolBytes(mem, 'mysql')).toBe(my);
  });

  // The redo log is written in full before the first row: never most of a small disk.
  it.each([
    ['mysql', G, 10 * G, 'innodb-redo-log-capacity', 256 * M],
    ['mysql', G, 384 * M, 'innodb-redo-log-capacity', 48 * M],
    ['mysql', G, 512 * M, 'innodb-redo-log-capacity', 64 * M],
    ['mysql', G, 32 * M, 'innodb-redo-log-capacity', 8 * M],
    ['mysql', 16 * G, 10 * G, 'innodb-redo-log-capacity', 1280 * M],
    ['mysql', 16 * G, 100 * G, 'innodb-redo-log-capacity', 4 * G],
    ['mariadb', G, 10 * G, 'innodb-log-file-size', 128 * M],
    ['mariadb', G, 768 * M, 'innodb-log-file-size', 96 * M],
    ['mariadb', 512 * M, 256 * M, 'innodb-log-file-size', 48 * M],
  ] as const)('%s at %d bytes of memory on a %d-byte disk: %s = %d', (flavor, memoryBytes, diskBytes, key, want) => {
    const cnf = renderMyCnf({ ...base0, flavor, memoryBytes, diskBytes });
    expect(cnf).toContain(`\n${key} = ${want}\n`);
  });

  it('never gives the pool more than the container has, nor MySQL less room beside it than it needs', () => {
    for (let mem = 256 * M; mem <= 64 * G; mem += 256 * M) {
      expect(bufferPoolBytes(mem, 'mariadb')).toBeLessThan(mem);
      if (mem >= 512 * M) expect(mem - bufferPoolBytes(mem, 'mysql')).toBeGreaterThanOrEqual(320 * M);
    }
  });

  it('keeps what mysqld allocates besides the pool within the container, both flavors', () => {
    const base: MyCnfInput = { flavor: 'mariadb', instanceId: 'i-0123456789', serverId: 7, bindAddress: '127.0.0.2', port: 3301, memoryBytes: G };
    const num = (cnf: string, key: string) => Number(cnf.match(new RegExp(`^${key} = (\\d+)$`, 'm'))?.[1] ?? 0);
    for (const flavor of ['mariadb', 'mysql'] as const) {
      for (const mem of [512 * M, G, 4 * G, 16 * G]) {
        const cnf = renderMyCnf({ ...base, flavor, memoryBytes: mem });
        const fixed = num(cnf, 'innodb-buffer-pool-size') + num(cnf, 'innodb-log-buffer-size') + num(cnf, 'key-buffer-size') + num(cnf, 'temptable-max-ram');
        expect(num(cnf, 'innodb-log-buffer-size')).toBeGreaterThan(0);
        expect(fixed, `${flavor} ${mem}`).toBeLessThanOrEqual(mem * 0.85);
        if (flavor === 'mysql') expect(cnf).toContain('performance-schema = ON');
      }
    }
    // From 4G up MySQL's own defaults again.
    const big = renderMyCnf({ ...base, flavor: 'mysql', memoryBytes: 16 * G });
    expect(big).toContain('innodb-log-buffer-size = 67108864');
    expect(big).toContain('performance-schema-digests-size = 10000');
  });

  it('scales connections with memory, within bounds', () => {
    expect(maxConnections(256 * M)).toBe(100);
    expect(maxConnections(4 * G)).toBe(512);
    expect(maxConnections(256 * G)).toBe(4000);
  });
});

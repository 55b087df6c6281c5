import { describe, expect, it } from 'vitest';
import { dialectFor, parseServerVersion } from './dialect';

describe('parseServerVersion', () => {
  it.each([
    ['mysqld  Ver 10.11.18-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)', 'mariadb', '10.11.18'],
    ['10.11.18-MariaDB-0+deb12u1', 'mariadb', '10.11.18'],
    ['/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)', 'mysql', '8.0.36'],
    ['8.4.3', 'mysql', '8.4.3'],
    ['mariadbd  Ver 11.4.2-MariaDB for Linux', 'mariadb', '11.4.2'],
  ])('%s', (text, flavor, version) => expect(parseServerVersion(text)).toEqual({ flavor, version }));

  it('refuses text with no version', () => expect(() => parseServerVersion('command not found')).toThrow(/cannot read/));
});

describe('dialects', () => {
  it('turn on GTID the way each flavor spells it', () => {
    expect(dialectFor('mariadb').gtidSettings()).toMatchObject({ gtid_strict_mode: 'ON', log_slave_updates: 'ON' });
    expect(dialectFor('mysql').gtidSettings()).toMatchObject({ gtid_mode: 'ON', enforce_gtid_consistency: 'ON' });
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

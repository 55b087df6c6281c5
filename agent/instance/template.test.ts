import { describe, expect, it } from 'vitest';
import { IDENTITY_FILES, templateMyCnf, templateRoot } from './template';

describe('data directory templates', () => {
  it("leave out exactly what makes one server distinct: MySQL's UUID, key pairs, binary logs and MariaDB's binlog state", () => {
    const initialized = [
      'auto.cnf', 'ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem', 'private_key.pem', 'public_key.pem',
      'binlog.000001', 'binlog.index', 'binlog.state', 'mysqld-auto.cnf',
      'mysql', 'ibdata1', 'ib_logfile0', '#innodb_redo', 'undo_001', 'mysql.ibd', 'aria_log.00000001', 'aria_log_control', 'performance_schema', 'sys', 'ib_buffer_pool', 'mysql_upgrade_info', '#ib_16384_0.dblwr',
    ];
    expect(initialized.filter((f) => IDENTITY_FILES.test(f))).toEqual(initialized.slice(0, 13));
  });

  it('are initialized with no binary log and no GTIDs, so no copy inherits transactions of the template', () => {
    for (const flavor of ['mysql', 'mariadb'] as const) {
      const cnf = templateMyCnf(flavor);
      expect(cnf).toMatch(/^skip-log-bin$/m);
      expect(cnf).not.toMatch(/^log-bin/m);
      expect(cnf).not.toMatch(/^gtid-mode = ON/m);
    }
    expect(templateMyCnf('mysql')).toMatch(/^gtid-mode = OFF$/m);
  });

  it('are kept per image id on each disk', () => {
    expect(templateRoot('/d1', 'sha256:0123456789abcdef0123456789abcdef')).toBe('/d1/berth/.templates/0123456789abcdef01234567');
  });
});

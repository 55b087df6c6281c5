import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import type { InstanceContainers } from './container';
import type { Layout } from './layout';
import { IDENTITY_FILES, templateMyCnf, templateRoot, Templates } from './template';

// An initializer that writes what a real one would, or fails.
function fakeInit(fail = false) {
  const calls: string[] = [];
  const containers = {
    runInit: async (image: string, _cmd: string[], layout: Layout) => {
      calls.push(image);
      fs.mkdirSync(path.join(layout.dirs.data, 'mysql'), { recursive: true });
      for (const f of ['ibdata1', 'auto.cnf', 'server-key.pem', 'binlog.000001']) fs.writeFileSync(path.join(layout.dirs.data, f), f);
      if (fail) throw new Error('initializing the data directory failed (exit 1)');
    },
  } as unknown as InstanceContainers;
  return { containers, calls };
}

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

  it('are built once per image id, ready only when finished, without identity files; a newer id of the image replaces the older', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tpl-'));
    const { containers, calls } = fakeInit();
    const t = new Templates(containers, createLogger('test', 'silent'));
    expect(await t.ready(disk, 'sha256:aaa')).toBeUndefined();
    await Promise.all([t.ensure(disk, 'img', 'sha256:aaa', 'mariadb'), t.ensure(disk, 'img', 'sha256:aaa', 'mariadb')]);
    await t.ensure(disk, 'img', 'sha256:aaa', 'mariadb');
    expect(calls).toEqual(['img']);
    const data = await t.ready(disk, 'sha256:aaa');
    expect(fs.readdirSync(data!).sort()).toEqual(['ibdata1', 'mysql']);
    await t.ensure(disk, 'other', 'sha256:ccc', 'mysql');
    await t.ensure(disk, 'img', 'sha256:bbb', 'mariadb');
    expect(await t.ready(disk, 'sha256:aaa')).toBeUndefined();
    expect(fs.readdirSync(path.dirname(templateRoot(disk, 'sha256:bbb'))).sort()).toEqual(['bbb', 'ccc']);
    fs.rmSync(disk, { recursive: true, force: true });
  });

  it('a failed build leaves nothing a create would use', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tpl-'));
    const t = new Templates(fakeInit(true).containers, createLogger('test', 'silent'));
    await t.ensure(disk, 'img', 'sha256:aaa', 'mariadb');
    expect(await t.ready(disk, 'sha256:aaa')).toBeUndefined();
    expect(fs.readdirSync(path.join(disk, 'berth', '.templates'))).toEqual([]);
    fs.rmSync(disk, { recursive: true, force: true });
  });
});

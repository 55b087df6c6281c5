import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLsnDir } from './repository-backup';

// What mariabackup 10.11 wrote into --extra-lsndir in a hand run (an incremental on a full).
const CHECKPOINTS = 'backup_type = incremental\nfrom_lsn = 44744\nto_lsn = 46120\nlast_lsn = 46132\nrecover_binlog_info = 0\n';
const INFO = "uuid = x\nbinlog_pos = filename 'binlog.000001', position '1393', GTID of the last change '0-1-6'\ninnodb_from_lsn = 44744\n";

describe('the LSN dir of a mariabackup backup', () => {
  const dirs: string[] = [];
  const dirWith = (checkpoints: string, info = INFO) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lsn-'));
    dirs.push(d);
    fs.writeFileSync(path.join(d, 'xtrabackup_checkpoints'), checkpoints);
    fs.writeFileSync(path.join(d, 'xtrabackup_info'), info);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('reads the LSN range and the GTID of the last change', async () => {
    expect(await readLsnDir(dirWith(CHECKPOINTS), '44744')).toEqual({ fromLsn: '44744', toLsn: '46120', gtid: '0-1-6' });
    expect(await readLsnDir(dirWith(CHECKPOINTS.replace('44744', '0')), '')).toMatchObject({ fromLsn: '0', toLsn: '46120' });
  });

  it('refuses an incremental that does not start where it was asked to, and a missing to_lsn', async () => {
    await expect(readLsnDir(dirWith(CHECKPOINTS), '40000')).rejects.toThrow(/starts at LSN 44744, not at the parent's 40000/);
    await expect(readLsnDir(dirWith('backup_type = full-backuped\n'), '')).rejects.toThrow(/no to_lsn/);
    // Only digits are taken: anything else in the file is not an LSN.
    await expect(readLsnDir(dirWith('to_lsn = 12; rm -rf /\n'), '')).rejects.toThrow(/no to_lsn/);
  });
});

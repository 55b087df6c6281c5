import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renderMyCnf } from '../instance/mycnf';
import { mariadb, mysql } from '../../src/mysql/dialect';
import { copyBytes } from './backup';
import { parseBinlogInfo, Progress } from './progress';
import { withReplicaSection } from './replica-cnf';
import { batched } from './stream';

const base = { instanceId: 'i-0123456789', serverId: 7, bindAddress: '127.0.0.2', port: 3702, memoryBytes: 1024 ** 3 };

describe('replica section of my.cnf', () => {
  for (const [flavor, d] of [['mariadb', mariadb], ['mysql', mysql]] as const) {
    it(`${flavor}: rendered as a replica, it starts read-only without starting replication`, () => {
      const cnf = renderMyCnf({ ...base, flavor, replica: true });
      expect(cnf).toContain('read-only = ON');
      expect(cnf).toMatch(flavor === 'mariadb' ? /skip-slave-start = ON/ : /skip-replica-start = ON/);
      expect(renderMyCnf({ ...base, flavor })).not.toContain('read-only');
    });

    it(`${flavor}: dropping and adding the section gives exactly what rendering gives`, () => {
      const replica = renderMyCnf({ ...base, flavor, replica: true });
      const plain = renderMyCnf({ ...base, flavor });
      expect(withReplicaSection(replica, undefined)).toBe(plain);
      expect(withReplicaSection(plain, d.replicaSettings())).toBe(replica);
      expect(withReplicaSection(replica, d.replicaSettings())).toBe(replica);
      expect(withReplicaSection(plain, undefined)).toBe(plain);
    });
  }
});

describe('xtrabackup_binlog_info', () => {
  it('gives the GTID position, or nothing before the first transaction', () => {
    expect(parseBinlogInfo('binlog.000002\t2345\t0-1-7\n')).toBe('0-1-7');
    expect(parseBinlogInfo('binlog.000002\t2345\t0-1-7,1-2-9\n')).toBe('0-1-7,1-2-9');
    expect(parseBinlogInfo('binlog.000001\t328\n')).toBe('');
    expect(parseBinlogInfo('')).toBe('');
  });
});

describe('copy progress', () => {
  it('reports bytes, total (never below done) and rate, at most every interval', () => {
    const p = new Progress(500);
    const t0 = Date.now();
    expect(p.due(t0)).toBe(true);
    expect(p.due(t0 + 100)).toBe(false);
    expect(p.due(t0 + 600)).toBe(true);
    p.total = 100;
    p.done = 250;
    const r = p.report('copy', t0 + 2000);
    expect(r.bytesTotal).toBe(250);
    expect(r.bytesPerSecond).toBeGreaterThan(100);
    expect(r.bytesPerSecond).toBeLessThanOrEqual(250);
  });
});

describe('copy stream messages', () => {
  it('batch small reads into larger messages without losing a byte', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(300, i));
    const got: Buffer[] = [];
    for await (const b of batched(Readable.from(chunks), 1000)) got.push(b);
    expect(got.map((b) => b.length)).toEqual([1200, 1200, 600]);
    expect(Buffer.concat(got)).toEqual(Buffer.concat(chunks));
  });
});

describe('copy size estimate', () => {
  it('counts data files and leaves out binary logs, relay logs and the socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copybytes-'));
    try {
      fs.mkdirSync(path.join(dir, 'app'));
      fs.writeFileSync(path.join(dir, 'ibdata1'), Buffer.alloc(1000));
      fs.writeFileSync(path.join(dir, 'app', 't.ibd'), Buffer.alloc(500));
      fs.writeFileSync(path.join(dir, 'binlog.000001'), Buffer.alloc(7000));
      fs.writeFileSync(path.join(dir, 'binlog.index'), Buffer.alloc(30));
      fs.writeFileSync(path.join(dir, 'host-relay-bin.000002'), Buffer.alloc(9000));
      fs.writeFileSync(path.join(dir, 'ib_logfile0'), Buffer.alloc(9000));
      fs.writeFileSync(path.join(dir, 'ibtmp1'), Buffer.alloc(9000));
      expect(await copyBytes(dir)).toBe(1500);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

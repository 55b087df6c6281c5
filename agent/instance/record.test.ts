import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutFor } from './layout';
import { parseRecord, readRecord, recordFromLabels, recordPath, writeRecord, type DesiredState } from './record';

const rec = (over: Partial<DesiredState> = {}): DesiredState => ({
  version: 1, id: 'i-0123456789', name: 'orders', image: 'img', port: 3301, diskPath: '/d', serverId: 7,
  shape: { cpuMillis: 500, memoryBytes: 512 * 1024 ** 2, diskBytes: 1024 ** 3 }, role: 'standalone', readOnly: false, flavor: 'mariadb', mysqlVersion: '10.11.6', updatedAt: '', ...over,
});

describe('desired-state record', () => {
  it('is written atomically beside the data directory and read back', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rec-'));
    const layout = layoutFor(disk, 'i-0123456789');
    fs.mkdirSync(layout.root, { recursive: true });
    expect(await readRecord(layout)).toBeUndefined();
    await writeRecord(layout, rec());
    await writeRecord(layout, rec({ shape: { cpuMillis: 1000, memoryBytes: 1024 ** 3, diskBytes: 1024 ** 3 }, readOnly: true }));
    const back = await readRecord(layout);
    expect(back).toMatchObject({ shape: { cpuMillis: 1000, memoryBytes: 1024 ** 3 }, readOnly: true, serverId: 7 });
    expect(back!.updatedAt).not.toBe('');
    // Nothing but the record itself: no temporary file left behind.
    expect(fs.readdirSync(layout.root)).toEqual([path.basename(recordPath(layout))]);
    fs.rmSync(disk, { recursive: true });
  });

  it('refuses a file that is not a record', () => {
    expect(() => parseRecord('{"version":2}')).toThrow(/not a berth instance record/);
    expect(parseRecord(JSON.stringify({ ...rec(), role: undefined, readOnly: undefined }))).toMatchObject({ role: 'standalone', readOnly: false });
  });

  it('is rebuilt from the labels of a container made before records existed', () => {
    const labels = {
      'berth.managed': 'true', 'berth.node': 'n1', 'berth.instance': 'i-0123456789', 'berth.name': 'orders', 'berth.role': 'mysqld', 'berth.port': '3305', 'berth.disk': '/d',
      'berth.cpu-millis': '500', 'berth.memory-bytes': '536870912', 'berth.disk-bytes': '1073741824', 'berth.flavor': 'mariadb', 'berth.version': '10.11.6',
    };
    expect(recordFromLabels(labels, 'img')).toMatchObject({ id: 'i-0123456789', name: 'orders', port: 3305, diskPath: '/d', shape: { cpuMillis: 500, memoryBytes: 536870912, diskBytes: 1073741824 }, flavor: 'mariadb', mysqlVersion: '10.11.6' });
    expect(recordFromLabels({ 'berth.instance': 'i-0123456789', 'berth.disk': '/d' }, 'img')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { Store } from './index';

describe('backups catalog', () => {
  it('keeps a backup running until it is marked complete, lists newest first, removes', () => {
    const s = Store.open(':memory:');
    // Migration 11 made the table; later ones follow it.
    expect(s.db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(11);
    s.backups.insert({ id: 'b-000000000001', instanceId: 'i-1', instanceName: 'orders', cluster: '', flavor: 'mariadb', repository: 'dir:/r', operationId: 'op-1', createdAt: '2026-12-07T10:00:00.000Z' });
    s.backups.insert({ id: 'b-000000000002', instanceId: 'i-1', instanceName: 'orders', cluster: '', flavor: 'mariadb', repository: 'dir:/r', operationId: 'op-2', createdAt: '2026-12-07T11:00:00.000Z' });
    expect(s.backups.get('b-000000000001')?.status).toBe('running');
    s.backups.update('b-000000000001', { status: 'complete', storedBytes: 123, gtid: '0-1-5', completedAt: 'x' });
    expect(s.backups.get('b-000000000001')).toMatchObject({ status: 'complete', storedBytes: 123, gtid: '0-1-5' });
    expect(s.backups.list('orders', 10).map((b) => b.id)).toEqual(['b-000000000002', 'b-000000000001']);
    expect(s.backups.list('', 1).map((b) => b.id)).toEqual(['b-000000000002']);
    s.backups.remove('b-000000000002');
    expect(s.backups.list('', 10).map((b) => b.id)).toEqual(['b-000000000001']);
  });

  it("records an incremental backup's parent and LSN range, and lists the backups built on one", () => {
    const s = Store.open(':memory:');
    const base = { instanceId: 'i-1', instanceName: 'orders', cluster: '', flavor: 'mariadb', repository: 'dir:/r', operationId: 'op' };
    s.backups.insert({ ...base, id: 'b-00000000000a', fromLsn: '0', toLsn: '46000' });
    s.backups.insert({ ...base, id: 'b-00000000000b', parentId: 'b-00000000000a', createdAt: '2026-12-07T10:00:00.000Z' });
    s.backups.insert({ ...base, id: 'b-00000000000c', parentId: 'b-00000000000a', createdAt: '2026-12-07T11:00:00.000Z' });
    s.backups.update('b-00000000000b', { fromLsn: '46000', toLsn: '18446744073709551615' });
    s.backups.update('b-00000000000c', { status: 'failed' });
    expect(s.backups.get('b-00000000000b')).toMatchObject({ parentId: 'b-00000000000a', fromLsn: '46000', toLsn: '18446744073709551615' });
    expect(s.backups.get('b-00000000000a')).toMatchObject({ parentId: '', toLsn: '46000' });
    // A failed incremental depends on nothing: it is never restored.
    expect(s.backups.children('b-00000000000a').map((b) => b.id)).toEqual(['b-00000000000b']);
  });
});

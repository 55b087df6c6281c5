import { describe, expect, it } from 'vitest';
import { openDb } from './db';
import { RequestsTable } from './requests';

describe('request ids table', () => {
  it('folds the older per-id table in (under the caller ""), once, and keys rows by caller and id', () => {
    const db = openDb(':memory:');
    db.exec(`CREATE TABLE requests (id TEXT PRIMARY KEY, method TEXT NOT NULL, fingerprint TEXT NOT NULL, instance_id TEXT NOT NULL, operation_id TEXT NOT NULL, created_at TEXT NOT NULL);
      INSERT INTO requests VALUES ('r-1', 'CreateInstance', 'f', 'i-1', 'op-1', '2026-11-01T00:00:00.000Z');`);
    const t = new RequestsTable(db);
    expect(t.get('', 'r-1')).toEqual({ caller: '', id: 'r-1', method: 'CreateInstance', fingerprint: 'f', instanceId: 'i-1', operationId: 'op-1', result: '', createdAt: '2026-11-01T00:00:00.000Z' });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'requests'").get()).toBeUndefined();
    new RequestsTable(db);
    t.insert({ caller: 'cert:a', id: 'r-1', method: 'CordonNode', fingerprint: 'g', result: '{}' });
    expect(() => t.insert({ caller: 'cert:a', id: 'r-1', method: 'CordonNode', fingerprint: 'g' })).toThrow(/UNIQUE/);
    expect(t.get('cert:a', 'r-1')).toMatchObject({ method: 'CordonNode', result: '{}' });
    expect(t.purge(24 * 3600_000)).toBe(1);
    expect(t.get('', 'r-1')).toBeUndefined();
  });
});

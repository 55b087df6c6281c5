import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from './db';
import { Store } from './index';

describe('store migrations', () => {
  it('keeps rows written before engine v2 and the anti-affinity rename readable', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 2);
    db.exec(`
      INSERT INTO nodes (name, agent_address, host, cpu_millis, memory_bytes, port_min, port_max, registered_at, last_heartbeat_ms)
        VALUES ('n1', 'x:1', '127.0.0.1', 1000, 1073741824, 3301, 3309, '2026-01-01', 1);
      INSERT INTO instances (id, name, server_id, node, disk_path, port, cpu_millis, memory_bytes, disk_bytes, image, state, admin_user, admin_password, created_at, updated_at, cluster)
        VALUES ('i-0000000001', 'old', 1, 'n1', '/d', 3301, 500, 536870912, 1073741824, 'img', 'running', 'admin', 'pw', '2026-01-01', '2026-01-01', 'orders');
      INSERT INTO operations (id, type, instance_id, state, next_step, created_at, updated_at) VALUES ('op-old', 'create', 'i-0000000001', 'running', 1, '2026-01-01', '2026-01-01');
      INSERT INTO operation_steps (operation_id, seq, name, state) VALUES ('op-old', 0, 'reserve', 'done'), ('op-old', 1, 'create-container', 'running');
    `);
    migrate(db);
    const store = new Store(db);
    expect(store.instances.get('i-0000000001')).toMatchObject({ antiAffinityGroup: 'orders', cluster: 'orders' });
    expect(store.operations.get('op-old')).toMatchObject({
      type: 'create',
      instanceId: 'i-0000000001',
      state: 'running',
      nextStep: 1,
      params: {},
      parentId: '',
      subjects: [{ kind: 'instance', name: 'i-0000000001' }],
      progress: { bytesDone: 0, bytesTotal: 0, phase: '' },
      undoStep: -1,
      committed: false,
    });
    expect(store.operations.get('op-old')!.steps.map((s) => [s.name, s.state, s.output, s.attempts])).toEqual([
      ['reserve', 'done', '', 0],
      ['create-container', 'running', '', 0],
    ]);
    expect(store.operations.running().map((o) => o.id)).toEqual(['op-old']);
  });
});

describe('the retention indexes in the numbered migrations', () => {
  const indexes = (db: Database.Database) =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('events_at', 'operations_finished') ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const previous = (db: Database.Database) => db.pragma('user_version', { simple: true }) as number;

  // The previous release stopped one migration short and made the indexes in Retention's
  // constructor, which ran at every start: its databases have them, a test database may not.
  it.each([true, false])('a store the previous release made opens with its rows kept (its indexes there before: %s)', (hadIndexes) => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db);
    const latest = previous(db);
    const fresh = new Database(':memory:');
    fresh.pragma('foreign_keys = ON');
    migrate(fresh, latest - 1);
    if (hadIndexes) {
      fresh.exec(`
        CREATE INDEX IF NOT EXISTS events_at ON events(at);
        CREATE INDEX IF NOT EXISTS operations_finished ON operations(finished_at) WHERE finished_at != '';
      `);
    }
    fresh.exec(`
      INSERT INTO events (at, kind, subject, message) VALUES ('2026-01-01T00:00:00.000Z', 'node.registered', 'n1', 'new node');
      INSERT INTO auth_tokens (name, role, hash, created_at) VALUES ('ci', 'operator', 'h', '2026-01-01');
    `);
    migrate(fresh);
    expect(previous(fresh)).toBe(latest);
    expect(indexes(fresh)).toEqual(['events_at', 'operations_finished']);
    const store = new Store(fresh);
    expect(store.events.recent().map((e) => [e.kind, e.subject])).toEqual([['node.registered', 'n1']]);
    expect(store.tokens.exists('ci')).toBe(true);
    expect(store.retention.purge(1, Date.parse('2026-02-01T00:00:00Z')).events).toBe(1);
  });

  it('no class makes a table or an index at run time: a store opened twice has the same schema', () => {
    const db = new Database(':memory:');
    migrate(db);
    const schema = () => db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    const before = schema();
    new Store(db);
    expect(schema()).toEqual(before);
  });
});

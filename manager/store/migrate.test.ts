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

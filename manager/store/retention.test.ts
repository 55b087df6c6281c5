import { describe, expect, it } from 'vitest';
import { Store } from './index';
import { Retention } from './retention';

const DAY = 86_400_000;

describe('Retention', () => {
  it('deletes events and ended operations (with their steps) older than the period, keeps the rest, through indexes', () => {
    const store = Store.open(':memory:');
    const r = new Retention(store.db);
    const old = new Date(Date.now() - 40 * DAY).toISOString();
    store.db.prepare('INSERT INTO events (at, kind, subject, message) VALUES (?, ?, ?, ?)').run(old, 'node.down', 'n1', 'old');
    store.events.add('node.up', 'n1', 'new');
    for (const [id, state, finished] of [['op-old', 'succeeded', old], ['op-run', 'running', ''], ['op-new', 'failed', new Date().toISOString()]] as const) {
      store.operations.insert({ id, type: 'create', params: {}, subjects: [{ kind: 'instance', name: id }], steps: ['a', 'b'] });
      store.db.prepare('UPDATE operations SET state = ?, finished_at = ? WHERE id = ?').run(state, finished, id);
    }
    expect(r.purge(30 * DAY)).toEqual({ events: 1, operations: 1 });
    expect(store.events.recent(10).map((e) => e.message)).toEqual(['new']);
    expect(store.operations.get('op-old')).toBeUndefined();
    expect(store.operations.get('op-run')).toBeDefined();
    expect(store.db.prepare("SELECT COUNT(*) AS n FROM operation_steps WHERE operation_id = 'op-old'").get()).toEqual({ n: 0 });
    const plan = store.db.prepare('EXPLAIN QUERY PLAN DELETE FROM events WHERE at < ?').all('x') as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/events_at/);
  });
});

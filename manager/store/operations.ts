import type { DB } from './db';
import { nowIso } from './db';

export type OperationState = 'running' | 'succeeded' | 'failed';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'undone';

export interface StepRow {
  seq: number;
  name: string;
  state: StepState;
  startedAt: string;
  finishedAt: string;
  error: string;
}

export interface OperationRow {
  id: string;
  type: string;
  instanceId: string;
  state: OperationState;
  nextStep: number;
  error: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string;
  steps: StepRow[];
}

const COLUMNS = `id, type, instance_id AS instanceId, state, next_step AS nextStep, error, created_at AS createdAt,
  updated_at AS updatedAt, finished_at AS finishedAt`;

export class OperationsTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      insert: db.prepare(`INSERT INTO operations (id, type, instance_id, state, next_step, created_at, updated_at)
                          VALUES (?, ?, ?, 'running', ?, ?, ?)`),
      insertStep: db.prepare(`INSERT INTO operation_steps (operation_id, seq, name, state, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?)`),
      stepStart: db.prepare(`UPDATE operation_steps SET state = 'running', started_at = ?, error = '' WHERE operation_id = ? AND seq = ?`),
      stepEnd: db.prepare(`UPDATE operation_steps SET state = ?, finished_at = ?, error = ? WHERE operation_id = ? AND seq = ?`),
      advance: db.prepare(`UPDATE operations SET next_step = ?, updated_at = ? WHERE id = ?`),
      finish: db.prepare(`UPDATE operations SET state = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ?`),
      get: db.prepare(`SELECT ${COLUMNS} FROM operations WHERE id = ?`),
      running: db.prepare(`SELECT ${COLUMNS} FROM operations WHERE state = 'running' ORDER BY created_at`),
      steps: db.prepare(`SELECT seq, name, state, started_at AS startedAt, finished_at AS finishedAt, error
                         FROM operation_steps WHERE operation_id = ? ORDER BY seq`),
    };
  }

  // Steps before `firstPending` were done as part of the same transaction that inserts the
  // operation (the reservation of a create, say).
  insert(id: string, type: string, instanceId: string, steps: string[], firstPending = 0): void {
    const now = nowIso();
    this.q.insert.run(id, type, instanceId, firstPending, now, now);
    steps.forEach((name, seq) => this.q.insertStep.run(id, seq, name, seq < firstPending ? 'done' : 'pending', seq < firstPending ? now : '', seq < firstPending ? now : ''));
  }

  stepStarted(id: string, seq: number): void {
    this.q.stepStart.run(nowIso(), id, seq);
  }

  stepEnded(id: string, seq: number, state: StepState, error = ''): void {
    this.db.transaction(() => {
      const now = nowIso();
      this.q.stepEnd.run(state, now, error, id, seq);
      if (state === 'done') this.q.advance.run(seq + 1, now, id);
    })();
  }

  finish(id: string, state: OperationState, error = ''): void {
    const now = nowIso();
    this.q.finish.run(state, error, now, now, id);
  }

  get(id: string): OperationRow | undefined {
    const op = this.q.get.get(id) as Omit<OperationRow, 'steps'> | undefined;
    return op && { ...op, steps: this.q.steps.all(id) as StepRow[] };
  }

  running(): OperationRow[] {
    return (this.q.running.all() as Omit<OperationRow, 'steps'>[]).map((op) => ({ ...op, steps: this.q.steps.all(op.id) as StepRow[] }));
  }
}

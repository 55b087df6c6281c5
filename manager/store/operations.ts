import type { DB } from './db';
import { nowIso } from './db';

// running: moving forward (or waiting for its subjects); rolling_back: undoing its steps, from
// undoStep down; stuck: past its point of no return and out of retries, waiting for a person.
export type OperationState = 'running' | 'rolling_back' | 'succeeded' | 'failed' | 'stuck';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'undoing' | 'undone' | 'undo_failed';
export const ACTIVE_STATES: readonly OperationState[] = ['running', 'rolling_back'];

export type SubjectKind = 'cluster' | 'node' | 'instance';
export interface Subject {
  kind: SubjectKind;
  name: string;
}

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
  phase: string;
}

export interface StepRow {
  seq: number;
  name: string;
  state: StepState;
  startedAt: string;
  finishedAt: string;
  error: string;
  attempts: number;
  // What run() returned, as JSON ('' when nothing).
  output: string;
}

export interface OperationRow {
  id: string;
  type: string;
  // The first instance subject ('' when none): what one-instance readers key on.
  instanceId: string;
  state: OperationState;
  nextStep: number;
  error: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string;
  params: Record<string, unknown>;
  parentId: string;
  childKey: string;
  subjects: Subject[];
  // Own progress; with children, their bytes are added (rolled up at read time).
  progress: Progress;
  // Its own, without the children's.
  ownProgress: Progress;
  childIds: string[];
  // While rolling back: the step being undone; -1 otherwise.
  undoStep: number;
  // The failure that started the rollback.
  failure: string;
  // A point-of-no-return step has completed: failures roll forward.
  committed: boolean;
  steps: StepRow[];
}

export interface NewOperation {
  id: string;
  type: string;
  params: Record<string, unknown>;
  subjects: Subject[];
  steps: string[];
  // Steps before this were done in the transaction that records the operation (a reservation).
  firstPending?: number;
  parentId?: string;
  childKey?: string;
}

export interface OperationQuery {
  state?: string;
  type?: string;
  instance?: string;
  limit: number;
  offset: number;
}

// What a write did, to be done to a row held in memory (the engine's copy of the operations it
// drives) once that write is durable: each mutator below returns one, so the copy and the table
// change together and the engine never reads a running operation back.
export type Mirror = (row: OperationRow) => void;

// A row as SQLite returns it: params still JSON, progress in columns, committed as 0/1.
type RawOp = Pick<OperationRow, 'id' | 'type' | 'instanceId' | 'state' | 'nextStep' | 'error' | 'createdAt' | 'updatedAt' | 'finishedAt' | 'parentId' | 'childKey' | 'undoStep' | 'failure'> &
  Progress & { params: string; committed: number };

const COLUMNS = `id, type, instance_id AS instanceId, state, next_step AS nextStep, error, created_at AS createdAt,
  updated_at AS updatedAt, finished_at AS finishedAt, params, parent_id AS parentId, child_key AS childKey, phase,
  bytes_done AS bytesDone, bytes_total AS bytesTotal, undo_step AS undoStep, failure, committed`;

function prepare(db: DB) {
  return {
    insert: db.prepare(`INSERT INTO operations (id, type, instance_id, state, next_step, params, parent_id, child_key, created_at, updated_at)
                        VALUES (@id, @type, @instanceId, 'running', @nextStep, @params, @parentId, @childKey, @now, @now)`),
    insertStep: db.prepare(`INSERT INTO operation_steps (operation_id, seq, name, state, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?)`),
    insertSubject: db.prepare('INSERT OR IGNORE INTO operation_subjects (operation_id, kind, name) VALUES (?, ?, ?)'),
    stepStart: db.prepare(`UPDATE operation_steps SET state = 'running', started_at = ?, error = '', attempts = attempts + 1 WHERE operation_id = ? AND seq = ?`),
    stepEnd: db.prepare(`UPDATE operation_steps SET state = ?, finished_at = ?, error = ? WHERE operation_id = ? AND seq = ?`),
    stepOutput: db.prepare(`UPDATE operation_steps SET output = ? WHERE operation_id = ? AND seq = ?`),
    stepState: db.prepare(`UPDATE operation_steps SET state = ? WHERE operation_id = ? AND seq = ?`),
    stepError: db.prepare(`UPDATE operation_steps SET error = ? WHERE operation_id = ? AND seq = ?`),
    advance: db.prepare(`UPDATE operations SET next_step = ?, committed = MAX(committed, ?), updated_at = ? WHERE id = ?`),
    rollback: db.prepare(`UPDATE operations SET state = 'rolling_back', undo_step = ?, failure = ?, updated_at = ? WHERE id = ?`),
    undoAt: db.prepare(`UPDATE operations SET undo_step = ?, updated_at = ? WHERE id = ?`),
    setState: db.prepare(`UPDATE operations SET state = ?, error = ?, updated_at = ? WHERE id = ?`),
    finish: db.prepare(`UPDATE operations SET state = ?, error = ?, undo_step = -1, updated_at = ?, finished_at = ? WHERE id = ?`),
    progress: db.prepare(`UPDATE operations SET bytes_done = ?, bytes_total = ?, phase = ?, updated_at = ? WHERE id = ?`),
    get: db.prepare(`SELECT ${COLUMNS} FROM operations WHERE id = ?`),
    active: db.prepare(`SELECT ${COLUMNS} FROM operations WHERE state IN ('running', 'rolling_back', 'stuck') ORDER BY created_at, rowid`),
    children: db.prepare(`SELECT ${COLUMNS} FROM operations WHERE parent_id = ? AND parent_id != '' ORDER BY created_at, rowid`),
    child: db.prepare(`SELECT id FROM operations WHERE parent_id = ? AND child_key = ?`),
    steps: db.prepare(`SELECT seq, name, state, started_at AS startedAt, finished_at AS finishedAt, error, attempts, output
                       FROM operation_steps WHERE operation_id = ? ORDER BY seq`),
    subjects: db.prepare('SELECT kind, name FROM operation_subjects WHERE operation_id = ? ORDER BY kind, name'),
    ended: db.prepare(`SELECT id, type, state, created_at AS createdAt, finished_at AS finishedAt FROM operations
                       WHERE state NOT IN ('running', 'rolling_back') AND finished_at != '' AND finished_at >= ? ORDER BY finished_at`),
    countActive: db.prepare(`SELECT COUNT(*) AS n FROM operations WHERE state IN ('running', 'rolling_back')`),
  };
}

// The engine's durable record: every transition an operation makes is written here before the
// engine acts on it, so a restarted manager knows exactly where each one was.
export class OperationsTable {
  private readonly q;
  private readonly insertTx;
  private readonly stepDoneTx;
  private readonly rollbackTx;
  private readonly undoingTx;

  constructor(private readonly db: DB) {
    this.q = prepare(db);
    // Made once: a better-sqlite3 transaction function built per call showed in the profile.
    this.insertTx = db.transaction((o: NewOperation, now: string) => this.insertRows(o, now));
    this.stepDoneTx = db.transaction((id: string, seq: number, json: string, ponr: boolean, startNext: boolean, now: string) => {
      this.q.stepEnd.run('done', now, '', id, seq);
      this.q.stepOutput.run(json, id, seq);
      this.q.advance.run(seq + 1, ponr ? 1 : 0, now, id);
      if (startNext) this.q.stepStart.run(now, id, seq + 1);
    });
    this.rollbackTx = db.transaction((id: string, failedSeq: number, failure: string, stepError: string, now: string) => {
      this.q.stepEnd.run('failed', now, stepError, id, failedSeq);
      this.q.rollback.run(failedSeq, failure, now, id);
    });
    this.undoingTx = db.transaction((id: string, seq: number, now: string) => {
      this.q.stepState.run('undoing', id, seq);
      this.q.undoAt.run(seq, now, id);
    });
  }

  // The positional form is the first engine's (one instance, no parameters), kept for callers
  // written against it. Returns the row as get() would read it after the commit.
  insert(o: NewOperation): OperationRow;
  insert(id: string, type: string, instanceId: string, steps: string[], firstPending?: number): OperationRow;
  insert(a: NewOperation | string, type?: string, subject?: string, steps?: string[], firstPending?: number): OperationRow {
    const o: NewOperation = typeof a === 'string' ? { id: a, type: type!, params: { instanceId: subject }, subjects: [{ kind: 'instance', name: subject! }], steps: steps!, firstPending } : a;
    const now = nowIso();
    this.insertTx(o, now);
    return newRow(o, now);
  }

  private insertRows(o: NewOperation, now: string): void {
    const first = o.firstPending ?? 0;
    this.q.insert.run({ id: o.id, type: o.type, instanceId: instanceOf(o.subjects), nextStep: first, params: JSON.stringify(o.params), parentId: o.parentId ?? '', childKey: o.childKey ?? '', now });
    o.steps.forEach((name, seq) => this.q.insertStep.run(o.id, seq, name, seq < first ? 'done' : 'pending', seq < first ? now : '', seq < first ? now : ''));
    for (const s of o.subjects) this.q.insertSubject.run(o.id, s.kind, s.name);
  }

  stepStarted(id: string, seq: number): Mirror {
    const now = nowIso();
    this.q.stepStart.run(now, id, seq);
    return (r) => startStep(r, seq, now);
  }

  // Output and the move to the next step in one commit: a restart either re-runs the step or
  // sees its output, never a done step without one. startNext: the next step's start is
  // recorded in the same commit (the engine goes straight on to it), saving it a commit.
  // now: the same instant as the write it shares a commit with (the operation's end).
  stepDone(id: string, seq: number, output: unknown, pointOfNoReturn = false, startNext = false, now = nowIso()): Mirror {
    const json = output === undefined ? '' : JSON.stringify(output);
    this.stepDoneTx(id, seq, json, pointOfNoReturn, startNext, now);
    return (r) => {
      endStep(r, seq, 'done', now, '');
      r.steps[seq]!.output = json;
      r.nextStep = seq + 1;
      r.committed ||= pointOfNoReturn;
      r.updatedAt = now;
      if (startNext) startStep(r, seq + 1, now);
    };
  }

  stepEnded(id: string, seq: number, state: StepState, error = ''): Mirror {
    const now = nowIso();
    this.q.stepEnd.run(state, now, error, id, seq);
    return (r) => endStep(r, seq, state, now, error);
  }

  // The failed step, undone, reads "failed" with its error still there.
  undone(id: string, seq: number, failedSeq: number): Mirror {
    if (seq === failedSeq) {
      this.q.stepState.run('failed', id, seq);
      return (r) => void (r.steps[seq]!.state = 'failed');
    }
    return this.stepEnded(id, seq, 'undone');
  }

  // A retry is coming: the step stays running, with the last attempt's error visible.
  stepError(id: string, seq: number, error: string): Mirror {
    this.q.stepError.run(error, id, seq);
    return (r) => void (r.steps[seq]!.error = error);
  }

  startRollback(id: string, failedSeq: number, failure: string, stepError: string): Mirror {
    const now = nowIso();
    this.rollbackTx(id, failedSeq, failure, stepError, now);
    return (r) => {
      endStep(r, failedSeq, 'failed', now, stepError);
      Object.assign(r, { state: 'rolling_back', undoStep: failedSeq, failure, updatedAt: now });
    };
  }

  // Recorded before the undo runs, so a restart undoes this step again (undos are idempotent).
  undoing(id: string, seq: number): Mirror {
    const now = nowIso();
    this.undoingTx(id, seq, now);
    return (r) => {
      r.steps[seq]!.state = 'undoing';
      Object.assign(r, { undoStep: seq, updatedAt: now });
    };
  }

  setState(id: string, state: OperationState, error = ''): Mirror {
    const now = nowIso();
    this.q.setState.run(state, error, now, id);
    return (r) => void Object.assign(r, { state, error, updatedAt: now });
  }

  finish(id: string, state: OperationState, error = '', now = nowIso()): Mirror {
    this.q.finish.run(state, error, now, now, id);
    return (r) => void Object.assign(r, { state, error, undoStep: -1, updatedAt: now, finishedAt: now });
  }

  // The children's bytes stay in `progress` as they were read.
  setProgress(id: string, p: Progress): Mirror {
    const now = nowIso();
    this.q.progress.run(p.bytesDone, p.bytesTotal, p.phase, now, id);
    return (r) => {
      r.progress = { bytesDone: r.progress.bytesDone - r.ownProgress.bytesDone + p.bytesDone, bytesTotal: r.progress.bytesTotal - r.ownProgress.bytesTotal + p.bytesTotal, phase: p.phase };
      r.ownProgress = { ...p };
      r.updatedAt = now;
    };
  }

  get(id: string): OperationRow | undefined {
    const r = this.q.get.get(id) as RawOp | undefined;
    return r && this.hydrate(r);
  }

  // Not yet ended (stuck included: it still holds its subjects).
  active(): OperationRow[] {
    return (this.q.active.all() as RawOp[]).map((r) => this.hydrate(r));
  }

  // Kept for readers of the first engine: operations the engine still has to drive.
  running(): OperationRow[] {
    return this.active().filter((o) => o.state !== 'stuck');
  }

  children(parentId: string): OperationRow[] {
    return (this.q.children.all(parentId) as RawOp[]).map((r) => this.hydrate(r));
  }

  childByKey(parentId: string, key: string): string | undefined {
    return (this.q.child.get(parentId, key) as { id: string } | undefined)?.id;
  }

  page(q: OperationQuery): { items: OperationRow[]; total: number } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state) (where.push('state = ?'), args.push(q.state));
    if (q.type) (where.push('type = ?'), args.push(q.type));
    if (q.instance) (where.push("id IN (SELECT operation_id FROM operation_subjects WHERE kind = 'instance' AND name = ?)"), args.push(q.instance));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM operations ${w}`).get(...args) as { n: number }).n;
    const raw = this.db.prepare(`SELECT ${COLUMNS} FROM operations ${w} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as RawOp[];
    return { items: raw.map((r) => this.hydrate(r)), total };
  }

  // Operations that ended at or after an instant (the metrics' watermark).
  endedSince(at: string): { id: string; type: string; state: string; createdAt: string; finishedAt: string }[] {
    return this.q.ended.all(at) as { id: string; type: string; state: string; createdAt: string; finishedAt: string }[];
  }

  countActive(): number {
    return (this.q.countActive.get() as { n: number }).n;
  }

  private hydrate(r: RawOp): OperationRow {
    const children = (this.q.children.all(r.id) as RawOp[]).map((c) => this.hydrate(c));
    const own = { bytesDone: r.bytesDone, bytesTotal: r.bytesTotal, phase: r.phase };
    const progress = children.reduce(
      (p, c) => ({ bytesDone: p.bytesDone + c.progress.bytesDone, bytesTotal: p.bytesTotal + c.progress.bytesTotal, phase: p.phase }),
      own,
    );
    return {
      id: r.id,
      type: r.type,
      instanceId: r.instanceId,
      state: r.state,
      nextStep: r.nextStep,
      error: r.error,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      finishedAt: r.finishedAt,
      params: JSON.parse(r.params) as Record<string, unknown>,
      parentId: r.parentId,
      childKey: r.childKey,
      subjects: this.q.subjects.all(r.id) as Subject[],
      progress,
      ownProgress: own,
      childIds: children.map((c) => c.id),
      undoStep: r.undoStep,
      failure: r.failure,
      committed: r.committed === 1,
      steps: this.q.steps.all(r.id) as StepRow[],
    };
  }
}

const instanceOf = (subjects: Subject[]) => subjects.find((s) => s.kind === 'instance')?.name ?? '';

function startStep(r: OperationRow, seq: number, now: string): void {
  const s = r.steps[seq]!;
  s.state = 'running';
  s.startedAt = now;
  s.error = '';
  s.attempts++;
}

function endStep(r: OperationRow, seq: number, state: StepState, now: string, error: string): void {
  const s = r.steps[seq]!;
  s.state = state;
  s.finishedAt = now;
  s.error = error;
}

// The row insert() wrote, as get() reads it back (subjects deduplicated and in the query's order).
function newRow(o: NewOperation, now: string): OperationRow {
  const first = o.firstPending ?? 0;
  const seen = new Set<string>();
  const subjects = o.subjects
    .filter((s) => !seen.has(`${s.kind}\0${s.name}`) && !!seen.add(`${s.kind}\0${s.name}`))
    .map((s) => ({ kind: s.kind, name: s.name }))
    .sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind < b.kind ? -1 : 1));
  const zero = { bytesDone: 0, bytesTotal: 0, phase: '' };
  return {
    id: o.id, type: o.type, instanceId: instanceOf(o.subjects), state: 'running', nextStep: first, error: '', createdAt: now, updatedAt: now, finishedAt: '',
    params: JSON.parse(JSON.stringify(o.params)) as Record<string, unknown>, parentId: o.parentId ?? '', childKey: o.childKey ?? '', subjects,
    progress: { ...zero }, ownProgress: { ...zero }, childIds: [], undoStep: -1, failure: '', committed: false,
    steps: o.steps.map((name, seq) => ({ seq, name, state: seq < first ? 'done' : 'pending', startedAt: seq < first ? now : '', finishedAt: seq < first ? now : '', error: '', attempts: 0, output: '' })),
  };
}

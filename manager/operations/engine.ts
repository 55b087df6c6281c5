import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { errorMessage, failedPrecondition } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { FleetState } from '../state/fleet';
import type { Store } from '../store/index';
import type { Mirror, OperationRow, Progress, Subject } from '../store/operations';
import type { OperationTypes } from './index';
import { LockTable, lockOrder } from './locks';
import { claimRequest, currentRequest, type RequestKey, type RequestScope } from './request-scope';
import type { Admission, AnyOperationType, FailureInfo, OperationType, ParamsOf, RequestOf, StepContext, StepDef } from './types';

export type { Admission, AdmitContext, FailureInfo, OperationType, StepContext, StepDef } from './types';

const PROGRESS_EVERY_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const ENDED = new Set(['succeeded', 'failed', 'stuck']);

export interface EngineOptions {
  // Attempts of a failing step after the point of no return (unless its type says otherwise).
  rollForwardRetries?: number;
  rollForwardBackoffMs?: number;
}

export interface SubmitOptions {
  // A portal call's request id, recorded with the operation (CreateInstance passes its own; the
  // other RPCs' come from their request scope, request-scope.ts).
  request?: RequestKey;
  parentId?: string;
  childKey?: string;
}

// An operation as recorded, its parameters typed as its type records them.
export type Submitted<P> = OperationRow & { params: P };

export const newOperationId = () => `op-${randomBytes(6).toString('hex')}`;

// Runs operations as recorded sequences of steps (see docs/design.md, "Operations engine"):
// each transition is written to the store before the engine acts on it, so a manager that
// restarts resumes forward at the step it was on, or goes on undoing from the step it was
// undoing. An operation runs only while it holds all of its subjects.
// C: the registered types by name (manager/operations/index.ts), so that submit() checks what a
// caller asks for against the type it names.
export class Engine<C = OperationTypes> {
  private readonly types = new Map<string, AnyOperationType>();
  private readonly locks = new LockTable();
  private readonly events = new EventEmitter();
  private readonly inFlight = new Set<string>();
  private readonly progressState = new Map<string, { at: number; timer?: NodeJS.Timeout; last: Progress }>();
  // The rows of the operations this engine is driving, kept equal to the store by applying each
  // write's Mirror once the write is durable: a running operation is never read back.
  private readonly rows = new Map<string, OperationRow>();
  private readonly store: Store;

  constructor(
    private readonly fleet: FleetState,
    private readonly log: Logger,
    private readonly opts: EngineOptions = {},
  ) {
    this.store = fleet.store;
    this.events.setMaxListeners(0);
  }

  // Registering a name again replaces its type.
  register<P, R>(t: OperationType<P, R>): void {
    this.types.set(t.type, t as AnyOperationType);
  }

  has(type: string): boolean {
    return this.types.has(type);
  }

  stepNames(type: string): string[] {
    return this.mustType(type).steps.map((s) => s.name);
  }

  // The one way an operation comes to be: the type's admission (preconditions, subjects,
  // reservations, a refusal) and the operation's record are one transaction, group-committed
  // with the other writes of this turn (a burst of creates shares its fsyncs); the operation
  // takes its place in the lock queue in the same synchronous step, so nothing admitted after it
  // overtakes it or slips past a refusal. It starts once durable.
  async submit<K extends keyof C & string>(type: K, request: RequestOf<C[K]>, o: SubmitOptions = {}): Promise<Submitted<ParamsOf<C[K]>>> {
    const id = newOperationId();
    // The request scope is the handler's synchronous part: read now, the write runs later.
    const scope = o.parentId ? undefined : currentRequest();
    let row: OperationRow;
    try {
      row = await this.fleet.commit(() => this.admit(id, this.mustType(type), request, o, scope));
    } catch (err) {
      this.locks.release(id);
      throw err;
    }
    this.start(id, row);
    return row as Submitted<ParamsOf<C[K]>>;
  }

  private admit(id: string, t: AnyOperationType, request: unknown, o: SubmitOptions, scope: RequestScope | undefined): OperationRow {
    const parentId = o.parentId ?? '';
    const a: Admission<unknown> & { type?: string } = t.admit(request, { opId: id, now: Date.now(), parentId });
    const type = a.type ?? t.type;
    const keys = lockOrder(a.subjects);
    if (a.ifBusy === 'refuse') {
      const holder = this.locks.blockers(keys, this.family(parentId)).find((h) => !this.brief(h));
      if (holder) throw failedPrecondition(this.busyMessage(holder));
    }
    const params = a.params as Record<string, unknown>;
    const row = this.store.operations.insert({ id, type, params, subjects: a.subjects, steps: this.stepNames(type), firstPending: a.firstPending, parentId: o.parentId, childKey: o.childKey });
    const instanceId = a.subjects.find((s) => s.kind === 'instance')?.name ?? '';
    if (o.request) this.claimKey(o.request, id, instanceId);
    else if (scope) claimRequest(this.store, scope, id, instanceId);
    // Last: nothing after it can throw, so a savepoint rolled back never leaves a waiter.
    void this.locks.acquire(id, keys, this.family(parentId));
    return row;
  }

  private brief(opId: string): boolean {
    const type = this.get(opId)?.type;
    return !!(type && this.types.get(type)?.brief);
  }

  private claimKey(k: RequestKey, operationId: string, instanceId: string): void {
    claimRequest(this.store, { key: k, claimed: false, done: false }, operationId, instanceId);
  }

  // The operation as it stands: the engine's copy while it drives it, else the store's row.
  get(opId: string): OperationRow | undefined {
    return this.rows.get(opId) ?? this.store.operations.get(opId);
  }

  // The operation that holds (or waits earlier for) one of these subjects.
  holder(subjects: Subject[]): OperationRow | undefined {
    const id = this.locks.blocker(lockOrder(subjects), new Set());
    return id ? this.get(id) : undefined;
  }

  // Every operation that holds (or waits for) one of these subjects, holders first.
  holders(subjects: Subject[]): OperationRow[] {
    return this.locks.blockers(lockOrder(subjects), new Set()).flatMap((id) => this.get(id) ?? []);
  }

  busy(instanceId: string): boolean {
    return !!this.locks.blocker([`instance:${instanceId}`], new Set());
  }

  // `row`: the operation as just recorded and committed (insert()'s answer), saving a read.
  private start(opId: string, row?: OperationRow): void {
    if (this.inFlight.has(opId)) return;
    const op = row?.id === opId ? row : this.store.operations.get(opId);
    if (!op) throw new Error(`operation ${opId} does not exist`);
    this.inFlight.add(opId);
    this.rows.set(opId, op);
    void this.locks
      .acquire(opId, lockOrder(op.subjects), this.family(op.parentId))
      .then(() => this.execute(opId))
      .catch((err: unknown) => this.log.error({ op: opId, err: errorMessage(err) }, 'operation engine error'))
      .finally(() => {
        this.inFlight.delete(opId);
        const now = this.rows.get(opId);
        this.rows.delete(opId);
        // A stuck operation keeps its subjects: nothing else may touch them until a person acts.
        if (now?.state !== 'stuck') this.locks.release(opId);
        this.events.emit(opId);
      });
  }

  // Operations that were in progress when the manager stopped, oldest first so waits keep
  // their order; stuck ones take their subjects back and wait for retry().
  resumeAll(): number {
    const ops = this.store.operations.active();
    for (const op of ops) {
      if (op.state === 'stuck') {
        void this.locks.acquire(op.id, lockOrder(op.subjects), this.family(op.parentId));
        continue;
      }
      this.log.info({ op: op.id, type: op.type, state: op.state, step: op.state === 'rolling_back' ? op.undoStep : op.nextStep }, 'resuming operation');
      this.start(op.id);
    }
    return ops.filter((o) => o.state !== 'stuck').length;
  }

  // A person fixed what made the operation stuck: try its steps again from where it stopped.
  retry(opId: string): OperationRow {
    const op = this.get(opId);
    if (!op || op.state !== 'stuck') throw failedPrecondition(`operation ${opId} is not stuck`);
    this.store.operations.setState(opId, 'running')(op);
    this.fleet.event(`${op.type}.retried`, this.subjectOf(op), `operation ${opId} retried after being stuck`);
    // It still holds its subjects: start() takes them again at once.
    this.start(opId);
    return this.get(opId)!;
  }

  // Resolves with the operation once it has ended (or is stuck), or as it stands at the timeout.
  // How many WaitOperation callers listen on an operation (tests: cancelled waiters leave none).
  waiters(opId: string): number {
    return this.events.listenerCount(opId);
  }

  // `signal`: the waiter went away (a client cancelled its WaitOperation): stop listening at once.
  wait(opId: string, timeoutMs: number, signal?: AbortSignal): Promise<OperationRow | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const op = this.store.operations.get(opId);
        if (!op || ENDED.has(op.state)) return finish(op);
      };
      const abort = () => finish();
      const finish = (op = this.store.operations.get(opId)) => {
        clearTimeout(timer);
        this.events.off(opId, check);
        signal?.removeEventListener('abort', abort);
        resolve(op);
      };
      const timer = setTimeout(finish, timeoutMs);
      this.events.on(opId, check);
      signal?.addEventListener('abort', abort, { once: true });
      if (signal?.aborted) return finish();
      check();
    });
  }

  private async execute(opId: string): Promise<void> {
    const op = this.rows.get(opId);
    if (!op) return;
    const t = this.mustType(op.type);
    if (this.misaligned(op, t)) return;
    if (op.state === 'running') await this.forward(op, t);
    // The same row: forward() applied its writes to it.
    if (op.state === 'rolling_back') await this.rollback(op, t);
    this.flushProgress(opId);
  }

  // A synchronous (autocommitted) write, applied to the engine's copy at once.
  private now(op: OperationRow, write: (ops: Store['operations']) => Mirror): void {
    this.fleet.change(() => write(this.store.operations))(op);
  }

  // A group-committed write, applied to the engine's copy once it is durable.
  private async durable(op: OperationRow, write: (ops: Store['operations']) => Mirror): Promise<void> {
    (await this.fleet.commit(() => write(this.store.operations)))(op);
  }

  // Each step's end is durable before the next step starts, and group-committed with every other
  // operation's bookkeeping of this turn (store/writer.ts): one fsync for a burst, not one per
  // step. The same commit records the next step's start, or, after the last step, the
  // operation's success: one commit per step.
  private async forward(op: OperationRow, t: AnyOperationType): Promise<void> {
    let committed = op.committed;
    let started = -1;
    for (let seq = op.nextStep; seq < t.steps.length; seq++) {
      const step = t.steps[seq]!;
      const last = seq === t.steps.length - 1;
      try {
        const out = await this.attempts(op, step, seq, committed ? this.rollForward(step, t) : step, false, started === seq);
        this.flushProgress(op.id);
        await this.durable(op, (ops) => {
          // The last step's end and the operation's success: one commit, one instant.
          const at = new Date().toISOString();
          const done = ops.stepDone(op.id, seq, out, !!step.pointOfNoReturn, !last, at);
          if (!last) return done;
          const fin = ops.finish(op.id, 'succeeded', '', at);
          this.fleet.event(`${op.type}.succeeded`, this.subjectOf(op), `operation ${op.id} succeeded`);
          return (r) => (done(r), fin(r));
        });
        started = seq + 1;
        committed ||= !!step.pointOfNoReturn;
      } catch (err) {
        const msg = `${step.name}: ${errorMessage(err)}`;
        if (committed) return this.stick(op, t, seq, msg);
        this.log.warn({ op: op.id, type: op.type, subject: this.subjectOf(op), err: msg }, 'operation failed; undoing its steps');
        this.now(op, (ops) => ops.startRollback(op.id, seq, msg, errorMessage(err)));
        return;
      }
    }
    // Nothing left to run but not ended: an operation recorded with every step done, or one an
    // earlier engine left between its last step and its end.
    if (op.state === 'running') {
      await this.durable(op, (ops) => {
        const fin = ops.finish(op.id, 'succeeded');
        this.fleet.event(`${op.type}.succeeded`, this.subjectOf(op), `operation ${op.id} succeeded`);
        return fin;
      });
    }
  }

  // Steps are stored by position. An operation recorded by a version whose type had other steps
  // (one inserted, say) would run or undo the wrong step at each position: it is stopped
  // instead, failed when none of its steps ever ran (nothing to undo), else stuck, since
  // neither going on nor undoing can be trusted and a person must look.
  private misaligned(op: OperationRow, t: AnyOperationType): boolean {
    const stored = op.steps.map((s) => s.name);
    const want = t.steps.map((s) => s.name);
    if (stored.length === want.length && stored.every((n, i) => n === want[i])) return false;
    const untouched = op.steps.every((s) => s.state === 'pending');
    const msg = `its stored steps [${stored.join(', ')}] do not match the steps of ${op.type} in this version [${want.join(', ')}]: ${untouched ? 'nothing had run; not resumed' : 'neither resumed nor undone; finish or clean up what it did by hand'}`;
    this.log.error({ op: op.id, type: op.type, stored, want }, 'operation steps do not match its type');
    if (untouched) {
      this.now(op, (ops) => ops.finish(op.id, 'failed', msg));
      this.fleet.event(`${op.type}.failed`, this.subjectOf(op), `operation ${op.id} failed: ${msg}`);
    } else {
      this.now(op, (ops) => ops.setState(op.id, 'stuck', msg));
      this.fleet.event(`${op.type}.stuck`, this.subjectOf(op), `operation ${op.id} needs a person: ${msg}`);
    }
    return true;
  }

  private rollForward(step: StepDef<unknown>, t: AnyOperationType): StepDef<unknown> {
    const retries = Math.max(step.retries ?? 0, t.rollForwardRetries ?? this.opts.rollForwardRetries ?? 3);
    return { ...step, retries, backoffMs: step.backoffMs ?? this.opts.rollForwardBackoffMs ?? 1000 };
  }

  private stick(op: OperationRow, t: AnyOperationType, seq: number, msg: string): void {
    const full = `${msg} (past the point of no return: not undone; fix the cause, then retry the operation)`;
    this.now(op, (ops) => ops.stepEnded(op.id, seq, 'failed', msg));
    this.now(op, (ops) => ops.setState(op.id, 'stuck', full));
    this.log.error({ op: op.id, type: op.type, err: msg }, 'operation stuck past its point of no return');
    this.fleet.event(`${op.type}.stuck`, this.subjectOf(op), `operation ${op.id} needs a person: ${full}`);
    t.stuck?.(this.context(op, 1, new AbortController().signal), full);
  }

  // Undoes from the recorded step down to the first. A failed undo stops the ones before it
  // unless they say they are independent; what could not be undone is named in the error.
  private async rollback(op: OperationRow, t: AnyOperationType): Promise<void> {
    const left: string[] = [];
    const undoErrors: string[] = [];
    let blocked = false;
    for (let i = op.undoStep; i >= 0; i--) {
      const step = t.steps[i]!;
      const state = op.steps[i]?.state;
      if (state === 'pending' || state === 'undone') continue;
      if (!step.undo) continue;
      if (blocked && !step.independentUndo) {
        left.push(step.name);
        continue;
      }
      this.now(op, (ops) => ops.undoing(op.id, i));
      try {
        await this.attempts(op, { ...step, run: step.undo }, i, undefined, true);
        // The step that failed is the one forward never got past.
        this.now(op, (ops) => ops.undone(op.id, i, op.nextStep));
      } catch (err) {
        undoErrors.push(`undo ${step.name}: ${errorMessage(err)}`);
        left.push(step.name);
        this.now(op, (ops) => ops.stepEnded(op.id, i, 'undo_failed', errorMessage(err)));
        blocked = true;
      }
    }
    await this.release(op, t, blocked, left, undoErrors);
    this.endRollback(op, t, { error: [op.failure, ...undoErrors].join('; '), clean: left.length === 0, left });
  }

  // What the type's admission reserved goes back last, unless an undo before it failed (the
  // reservation of a container that may still exist is kept) and it is not independent.
  private async release(op: OperationRow, t: AnyOperationType, blocked: boolean, left: string[], undoErrors: string[]): Promise<void> {
    if (!t.release) return;
    if (blocked && !t.release.independent) {
      left.push('reservation');
      return;
    }
    const rel = t.release;
    try {
      await this.attempts(op, { name: 'release', run: async (ctx) => void (await rel.run(ctx)) }, -1, undefined, true);
    } catch (err) {
      undoErrors.push(`release: ${errorMessage(err)}`);
      left.push('reservation');
    }
  }

  private endRollback(op: OperationRow, t: AnyOperationType, f: FailureInfo): void {
    const error = f.clean ? f.error : `${f.error}; left behind: ${f.left.join(', ')}`;
    this.now(op, (ops) => ops.finish(op.id, 'failed', error));
    t.failed?.(this.context(op, 1, new AbortController().signal), { ...f, error });
    this.fleet.event(`${op.type}.failed`, this.subjectOf(op), error);
  }

  // Runs one step (or undo) with its retries, backoff and per-attempt timeout. started: the
  // first attempt's start was recorded with the previous step's end.
  private async attempts(op: OperationRow, step: StepDef<unknown>, seq: number, def = step, undo = false, started = false): Promise<unknown> {
    const tries = (def.retries ?? 0) + 1;
    for (let attempt = 1; ; attempt++) {
      if (!undo && !(started && attempt === 1)) await this.durable(op, (ops) => ops.stepStarted(op.id, seq));
      const ac = new AbortController();
      try {
        return await this.withTimeout(def.run(this.context(op, attempt, ac.signal)), def.timeoutMs, ac, step.name);
      } catch (err) {
        if (attempt >= tries) throw err;
        this.now(op, (ops) => ops.stepError(op.id, seq, `attempt ${attempt}: ${errorMessage(err)}`));
        this.log.info({ op: op.id, step: step.name, attempt, err: errorMessage(err) }, undo ? 'undo failed; retrying' : 'step failed; retrying');
        await sleep(Math.min(MAX_BACKOFF_MS, (def.backoffMs ?? 500) * 2 ** (attempt - 1)));
      }
    }
  }

  private withTimeout<T>(p: Promise<T>, ms: number | undefined, ac: AbortController, name: string): Promise<T> {
    if (!ms) return p;
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Rejected first: a step that gives up when aborted must not win the race.
        reject(new Error(`${name} timed out after ${ms / 1000} s`));
        ac.abort();
      }, ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  // op is the engine's copy (kept current), so reading it is reading the store.
  private context(op: OperationRow, attempt: number, signal: AbortSignal): StepContext<unknown> {
    const parent = this.log;
    let log: Logger | undefined;
    return {
      opId: op.id,
      type: op.type,
      parentId: op.parentId,
      params: op.params,
      subjects: op.subjects,
      attempt,
      signal,
      failure: op.failure,
      // Made when a step logs: a child logger per attempt showed in the profile of a burst.
      get log() {
        return (log ??= parent.child({ op: op.id, type: op.type }));
      },
      output: <T>(name: string) => {
        const s = op.steps.find((x) => x.name === name);
        return s?.output ? (JSON.parse(s.output) as T) : undefined;
      },
      progress: (p) => this.progress(op.id, p),
      startChild: (key, c) => this.startChild(op, key, c),
      waitChildren: (ids) => this.waitChildren(op.id, ids),
    };
  }

  // Idempotent by key: a drain's step run again finds the migrations it started.
  private async startChild(op: OperationRow, key: string, c: { type: string; request: unknown }): Promise<string> {
    const existing = this.store.operations.childByKey(op.id, key);
    if (existing) {
      const child = this.get(existing)!;
      if (!ENDED.has(child.state)) this.start(existing);
      return existing;
    }
    const loose = this as Engine<Record<string, AnyOperationType>>;
    return (await loose.submit(c.type, c.request, { parentId: op.id, childKey: key })).id;
  }

  private async waitChildren(parentId: string, ids?: string[]): Promise<OperationRow[]> {
    const want = ids ?? this.store.operations.children(parentId).map((c) => c.id);
    const out: OperationRow[] = [];
    for (const id of want) out.push((await this.wait(id, 2 ** 31 - 1))!);
    return out;
  }

  // Kept in memory at once, written at most once a second (and when the phase changes or the
  // step ends), so a copy reporting every chunk does not turn into a write per chunk.
  private progress(opId: string, p: Partial<Progress>): void {
    const s = this.progressState.get(opId) ?? { at: 0, last: this.ownProgress(opId) };
    const phaseChanged = p.phase !== undefined && p.phase !== s.last.phase;
    s.last = { ...s.last, ...p };
    this.progressState.set(opId, s);
    const now = Date.now();
    if (phaseChanged || now - s.at >= PROGRESS_EVERY_MS) return this.flushProgress(opId);
    s.timer ??= setTimeout(() => this.flushProgress(opId), PROGRESS_EVERY_MS - (now - s.at));
  }

  private flushProgress(opId: string): void {
    const s = this.progressState.get(opId);
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = undefined;
    s.at = Date.now();
    const mirror = this.store.operations.setProgress(opId, s.last);
    const row = this.rows.get(opId);
    if (row) mirror(row);
    if (ENDED.has(this.get(opId)?.state ?? '')) this.progressState.delete(opId);
  }

  private ownProgress(opId: string): Progress {
    return this.get(opId)?.ownProgress ?? { bytesDone: 0, bytesTotal: 0, phase: '' };
  }

  // The operation's ancestors: it shares the subjects they hold.
  private family(parentId: string): Set<string> {
    const out = new Set<string>();
    for (let id = parentId; id && !out.has(id); id = this.get(id)?.parentId ?? '') out.add(id);
    return out;
  }

  private busyMessage(holderId: string): string {
    const h = this.get(holderId);
    const what = h ? `${h.type} operation ${h.id} (${h.state}) on ${h.subjects.map((s) => `${s.kind} ${s.name}`).join(', ')}` : `operation ${holderId}`;
    return `busy: ${what} holds it; wait for it to end (berthctl operation wait ${holderId}) and try again`;
  }

  private subjectOf(op: OperationRow): string {
    return op.instanceId || op.subjects[0]?.name || op.id;
  }

  private mustType(type: string): AnyOperationType {
    const t = this.types.get(type);
    if (!t) throw new Error(`unknown operation type ${type}`);
    return t;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

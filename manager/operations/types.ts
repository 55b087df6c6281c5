import type { Logger } from '../../src/log';
import type { OperationRow, Progress, Subject } from '../store/operations';

export type { Progress, Subject } from '../store/operations';

// What a step sees. Everything on it is durable or derived from durable state, so a step run
// again after a restart sees what the first run would have seen.
export interface StepContext<P = Record<string, unknown>> {
  readonly opId: string;
  readonly type: string;
  readonly parentId: string;
  readonly params: P;
  readonly subjects: readonly Subject[];
  // The output an earlier step of this operation returned (undefined: none, or not run yet).
  output<T = unknown>(step: string): T | undefined;
  // 1 on the first attempt of this run or undo.
  readonly attempt: number;
  // Aborted when the step's timeout passes: long waits should give up when it fires.
  readonly signal: AbortSignal;
  // While undoing: the failure that started the rollback.
  readonly failure: string;
  readonly log: Logger;
  // Persisted (throttled) and shown by GetOperation/WaitOperation; a parent adds its children's.
  progress(p: Partial<Progress>): void;
  // Starts (once per key, even when the step runs again) a child operation; returns its id.
  startChild(key: string, child: { type: string; request: unknown }): Promise<string>;
  // Resolves when every given child (default: all of this operation's) has ended.
  waitChildren(ids?: string[]): Promise<OperationRow[]>;
}

export interface StepDef<P = Record<string, unknown>> {
  name: string;
  // Idempotent: after a restart it may run again from the start. What it returns (JSON) is
  // stored with the step and readable by later steps through ctx.output(name).
  run(ctx: StepContext<P>): Promise<unknown>;
  // Rolls the step back (also after a partial run). Idempotent as well.
  undo?(ctx: StepContext<P>): Promise<void>;
  // Extra attempts after the first (default 0), with exponential backoff from backoffMs.
  retries?: number;
  backoffMs?: number;
  // One attempt's limit; the attempt fails with a timeout error (and ctx.signal aborts).
  timeoutMs?: number;
  // Once this step has completed the operation can no longer go back: a later failure is
  // retried (rollForwardRetries) and then leaves the operation stuck for a person.
  pointOfNoReturn?: boolean;
  // Undo this step even when the undo of a later step failed (it frees something that does not
  // depend on the later ones). Default: stop undoing at the first failed undo.
  independentUndo?: boolean;
}

export interface FailureInfo {
  error: string;
  // Every undo worked.
  clean: boolean;
  // Steps whose effects are still there (their undo failed or was not attempted).
  left: string[];
}

// What an operation type decides when it is submitted, inside the transaction that records it
// (Engine.submit): the parameters it records (what its steps read), the subjects it holds, and
// whether it queues behind or refuses an operation already on one of them. Anything it reserves
// (a create's placement, a resize's new shape) is written in the same transaction; release()
// gives it back when the operation is undone.
export interface Admission<P> {
  params: P;
  subjects: Subject[];
  // wait: queue behind the holder; refuse: FAILED_PRECONDITION naming the holder.
  ifBusy: IfBusy;
  // Steps admission has already done (a resize to the shape it has: all of them).
  firstPending?: number;
}

// Admitted as another type, whose admission decided it: a resize that does not fit in place is
// a migration.
export interface Redirect extends Admission<unknown> {
  type: string;
}

export interface AdmitContext {
  // The id the operation will be recorded under (reservations name it).
  readonly opId: string;
  readonly now: number;
  // Set for a child operation (a drain's migrations).
  readonly parentId: string;
}

// One file per operation type owns everything about it: what a caller asks (R), what it records
// (P, read by its steps), its admission and its steps. See docs/design.md, "Adding an operation type".
export interface OperationType<P = Record<string, unknown>, R = P> {
  type: string;
  // Preconditions, subjects, reservations; a refusal throws a BerthError (its gRPC status).
  // Synchronous: it runs inside the submit's transaction, nothing else runs meanwhile.
  admit(request: R, a: AdmitContext): Admission<P> | Redirect;
  steps: StepDef<P>[];
  // Gives back what admit reserved: the last undo of a rollback (idempotent). Skipped, and named
  // in `left`, when an undo before it failed, unless independent.
  release?: { run(ctx: StepContext<P>): Promise<void> | void; independent?: boolean };
  // Holds its subjects only for one short call (a reconciler's repair): an operation that would
  // refuse when busy queues behind it instead, so a DBA's switchover is not refused because a
  // replica's replication was being started at that moment.
  brief?: boolean;
  // Attempts of a failing step after the point of no return, before the operation is stuck.
  rollForwardRetries?: number;
  // Called once after the rollback ended.
  failed?(ctx: StepContext<P>, f: FailureInfo): void;
  stuck?(ctx: StepContext<P>, error: string): void;
}

export type IfBusy = 'wait' | 'refuse';

// A registered type, its parameter types erased (the engine stores JSON).
export type AnyOperationType = OperationType<unknown, unknown>;
export type ParamsOf<T> = T extends OperationType<infer P, infer _R> ? P : never;
export type RequestOf<T> = T extends OperationType<infer _P, infer R> ? R : never;

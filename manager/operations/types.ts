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
  startChild(key: string, child: { type: string; params: Record<string, unknown>; subjects: Subject[] }): string;
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

export interface OperationType<P = Record<string, unknown>> {
  type: string;
  steps: StepDef<P>[];
  // Attempts of a failing step after the point of no return, before the operation is stuck.
  rollForwardRetries?: number;
  // Called once after the rollback ended.
  failed?(ctx: StepContext<P>, f: FailureInfo): void;
  stuck?(ctx: StepContext<P>, error: string): void;
}

export type IfBusy = 'wait' | 'refuse';

export interface SubmitRequest {
  type: string;
  params: Record<string, unknown>;
  subjects: Subject[];
  // wait: queue behind the holder; refuse: FAILED_PRECONDITION naming the holder.
  ifBusy: IfBusy;
  id?: string;
  firstPending?: number;
  parentId?: string;
  childKey?: string;
}

import { EventEmitter } from 'node:events';
import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { Store } from '../store/index';
import type { OperationRow } from '../store/operations';

// A step must be idempotent: after a manager restart it may run again from the start.
export interface Step {
  name: string;
  run(instanceId: string): Promise<void>;
  // Rolls the step back when a later step fails. Also idempotent.
  undo?(instanceId: string): Promise<void>;
}

export interface OperationType {
  type: string;
  steps: Step[];
  // Called once the operation has failed, after the undos; `clean` says whether every undo
  // worked (if not, what the operation touched needs a person or a later retry).
  failed?(instanceId: string, error: string, clean: boolean): void;
}

// Runs operations as recorded sequences of steps: each step's start and end are written to the
// store before the next begins, so a manager that restarts resumes at the step it was on. When
// a step fails the steps already done are undone in reverse order. Operations on one instance
// run one at a time, in the order they were started.
export class Engine {
  private readonly types = new Map<string, OperationType>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly done = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.done.setMaxListeners(0);
  }

  register(t: OperationType): void {
    this.types.set(t.type, t);
  }

  stepNames(type: string): string[] {
    return this.mustType(type).steps.map((s) => s.name);
  }

  // Call after the operation's row was committed (often in the same transaction as the change
  // it makes, like a create's reservation).
  start(opId: string): void {
    const op = this.store.operations.get(opId);
    if (!op) throw new Error(`operation ${opId} does not exist`);
    const prev = this.chains.get(op.instanceId) ?? Promise.resolve();
    const next = prev.then(() => this.execute(opId)).catch((err: unknown) => this.log.error({ op: opId, err: errorMessage(err) }, 'operation engine error'));
    this.chains.set(op.instanceId, next);
    void next.then(() => {
      if (this.chains.get(op.instanceId) === next) this.chains.delete(op.instanceId);
    });
  }

  // Operations that were running when the manager stopped.
  resumeAll(): number {
    const ops = this.store.operations.running();
    for (const op of ops) {
      this.log.info({ op: op.id, type: op.type, step: op.nextStep }, 'resuming operation');
      this.start(op.id);
    }
    return ops.length;
  }

  busy(instanceId: string): boolean {
    return this.chains.has(instanceId);
  }

  // Resolves with the operation once it has ended, or as it stands when the timeout passes.
  wait(opId: string, timeoutMs: number): Promise<OperationRow | undefined> {
    const op = this.store.operations.get(opId);
    if (!op || op.state !== 'running') return Promise.resolve(op);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.done.off(opId, finish);
        resolve(this.store.operations.get(opId));
      };
      const timer = setTimeout(finish, timeoutMs);
      this.done.on(opId, finish);
    });
  }

  private async execute(opId: string): Promise<void> {
    const op = this.store.operations.get(opId);
    if (!op || op.state !== 'running') return;
    const t = this.mustType(op.type);
    const ops = this.store.operations;
    let seq = op.nextStep;
    try {
      for (; seq < t.steps.length; seq++) {
        ops.stepStarted(opId, seq);
        await t.steps[seq]!.run(op.instanceId);
        ops.stepEnded(opId, seq, 'done');
      }
      ops.finish(opId, 'succeeded');
      this.store.events.add(`${op.type}.succeeded`, op.instanceId, `operation ${opId} succeeded`);
    } catch (err) {
      const msg = `${t.steps[seq]?.name ?? 'step'}: ${errorMessage(err)}`;
      ops.stepEnded(opId, seq, 'failed', errorMessage(err));
      this.log.warn({ op: opId, type: op.type, instance: op.instanceId, err: msg }, 'operation failed; undoing its steps');
      // The failed step may have done part of its work: undo it too, then the ones before it.
      const undoErrors: string[] = [];
      for (let i = seq; i >= 0; i--) {
        const step = t.steps[i]!;
        if (!step.undo) continue;
        try {
          await step.undo(op.instanceId);
          ops.stepEnded(opId, i, i === seq ? 'failed' : 'undone', i === seq ? errorMessage(err) : '');
        } catch (undoErr) {
          undoErrors.push(`undo ${step.name}: ${errorMessage(undoErr)}`);
          break; // later undos rely on this one having worked
        }
      }
      const full = undoErrors.length ? `${msg}; ${undoErrors.join('; ')}` : msg;
      ops.finish(opId, 'failed', full);
      t.failed?.(op.instanceId, full, undoErrors.length === 0);
      this.store.events.add(`${op.type}.failed`, op.instanceId, full);
    } finally {
      this.done.emit(opId);
    }
  }

  private mustType(type: string): OperationType {
    const t = this.types.get(type);
    if (!t) throw new Error(`unknown operation type ${type}`);
    return t;
  }
}

import * as grpc from '@grpc/grpc-js';
import type { Event__Output } from './gen/berth/v1/Event';
import type { Operation__Output } from './gen/berth/v1/Operation';
import type { PortalClient } from './gen/berth/v1/Portal';
import { backoff, type RetryPolicy, RETRIED_CODES, isServiceError } from './retry';

// An operation has ended in one of these; `succeeded` is the only good one. `stuck` is past its
// point of no return and waits for a person (see `berthctl operation retry`).
export const ENDED_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'stuck']);

export class OperationFailedError extends Error {
  constructor(readonly operation: Operation__Output) {
    super(`operation ${operation.id} (${operation.type}) ended ${operation.state}${operation.error ? `: ${operation.error}` : ''}`);
    this.name = 'OperationFailedError';
  }
}

export interface StreamDeps {
  raw: PortalClient;
  metadata: () => grpc.Metadata;
  policy: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
}

// Reads one server stream to its end, cancelling it when the reader stops early or `signal`
// aborts.
async function* drain<T>(call: grpc.ClientReadableStream<T>, signal?: AbortSignal): AsyncGenerator<T> {
  const cancel = () => call.cancel();
  signal?.addEventListener('abort', cancel);
  try {
    for await (const msg of call as AsyncIterable<T>) yield msg;
  } finally {
    signal?.removeEventListener('abort', cancel);
    call.cancel();
  }
}

// A broken stream is opened again (the manager sends an operation's current state first, and
// events after the last id seen), so a reader sees no gap and no repeat; a refusal is thrown.
// Ends when `done` says so, or quietly when `signal` aborts.
async function* reconnecting<T>(d: StreamDeps, open: () => grpc.ClientReadableStream<T>, done: (m: T) => boolean, signal?: AbortSignal): AsyncGenerator<T> {
  for (let failures = 0; !signal?.aborted; ) {
    try {
      for await (const m of drain(open(), signal)) {
        failures = 0;
        yield m;
        if (done(m)) return;
      }
    } catch (err) {
      if (signal?.aborted) return;
      if (!isServiceError(err) || !RETRIED_CODES.has(err.code)) throw err;
      if (++failures >= d.policy.attempts) throw err;
    }
    if (!signal?.aborted) await d.sleep(backoff(d.policy, Math.max(1, failures)));
  }
}

// Every state an operation goes through, from its current one to its end.
export function watchOperation(d: StreamDeps, id: string, signal?: AbortSignal): AsyncGenerator<Operation__Output> {
  return reconnecting(d, () => d.raw.watchOperations({ id, subject: '' }, d.metadata()), (op) => ENDED_STATES.has(op.state), signal);
}

// Events as they are recorded, after `afterId` (0: from now on), resuming after the last one
// received when the stream breaks. Runs until the caller stops reading or aborts `signal`.
export function followEvents(d: StreamDeps, q: { afterId?: number; kind?: string; subject?: string }, signal?: AbortSignal): AsyncGenerator<Event__Output> {
  let after = q.afterId ?? 0;
  const open = () => d.raw.watchEvents({ afterId: after, kind: q.kind ?? '', subject: q.subject ?? '' }, d.metadata());
  return reconnecting(d, open, (e) => {
    after = Number(e.id);
    return false;
  }, signal);
}

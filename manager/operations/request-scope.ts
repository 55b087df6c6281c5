import { alreadyExists } from '../../src/errors';
import type { Store } from '../store/index';

// The request id of the portal call being handled (manager/api/requests.ts sets it), so that the
// operation the call records and the id are written in one transaction, whichever handler and
// operation type it is: one mechanism for every mutating RPC, no id threaded through each one.
// A client's request id with what identifies the call (manager/api/requests.ts makes it).
export interface RequestKey {
  caller: string;
  id: string;
  method: string;
  fingerprint: string;
}

export interface RequestScope {
  key: RequestKey;
  // The call's operation has been recorded with the id (later records are not the call's).
  claimed: boolean;
  // The call has been answered: nothing recorded from now on is its own.
  done: boolean;
}

let current: RequestScope | undefined;

// Runs the synchronous part of a handler in the scope: the part that validates and records the
// call's operation (its continuations after an await are not in it). Synchronous on purpose:
// an AsyncLocalStorage would follow every promise of the process, at a cost to all of them.
export function withRequestScope<T>(scope: RequestScope, fn: () => T): T {
  const outer = current;
  current = scope;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

// The scope of the handler running now (its synchronous part), read when an operation is
// submitted: the write that records it runs later, in the group commit.
export function currentRequest(): RequestScope | undefined {
  return current;
}

// Called by the engine inside the transaction that records a top-level operation.
export function claimRequest(store: Store, s: RequestScope, operationId: string, instanceId: string): void {
  if (s.claimed || s.done) return;
  // The same id racing itself (a client retry while the first call runs): the second loses here
  // and its transaction rolls back; the caller then answers it with the first call's result.
  if (store.requests.get(s.key.caller, s.key.id)) throw alreadyExists(`request_id ${s.key.id} is already taken`);
  store.requests.insert({ ...s.key, operationId, instanceId });
  s.claimed = true;
}

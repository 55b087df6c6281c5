import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { BerthError, errorMessage, invalidArgument } from '../../src/errors';
import { isServiceError } from '../../src/rpc';
import type { RequestRow } from '../store/requests';
import type { Store } from '../store/index';
import { principalOf } from '../auth/principal';
import { withRequestScope, type RequestKey, type RequestScope } from '../operations/request-scope';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// A client's idempotency key (request_id), checked at the edge; empty means none.
export function checkRequestId(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (!REQUEST_ID.test(v)) throw invalidArgument('request_id must be 1 to 128 letters, digits, ".", "_", ":" or "-"');
  return v;
}

export type { RequestKey } from '../operations/request-scope';

// Ids are per caller: the principal the portal guard found ("" when there is none).
export const callerOf = (call: object): string => principalOf(call)?.who ?? '';

export function fingerprintOf(fields: unknown): string {
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

// The fields that make a request what it is; the same key over other fields is a client bug.
export function requestKey(caller: string, id: string | undefined, method: string, fields: unknown): RequestKey | undefined {
  if (!id) return undefined;
  return { caller, id, method, fingerprint: fingerprintOf(fields) };
}

// What the first call with this key did, if it got as far as a commit. The same id for another
// method or other fields is INVALID_ARGUMENT, not ALREADY_EXISTS: the id is the bad argument
// (a client reusing keys), and clients read ALREADY_EXISTS as "done already", which it is not.
export function priorRequest(store: Store, key: RequestKey | undefined): RequestRow | undefined {
  if (!key) return undefined;
  const r = store.requests.get(key.caller, key.id);
  if (r && (r.method !== key.method || r.fingerprint !== key.fingerprint)) {
    throw invalidArgument(`request_id ${key.id} was already used for another request (${r.method} at ${r.createdAt})`);
  }
  return r;
}

// How one mutating RPC is made retry-safe: what a retry answers, and what to keep of the first
// answer when the call recorded no operation (an operation's id is kept by the engine itself).
export interface IdempotentMethod {
  replay(row: RequestRow): unknown;
  remember(res: any): Partial<Pick<RequestRow, 'operationId' | 'instanceId' | 'result'>>;
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof BerthError) return { code: err.code, details: err.message };
  if (isServiceError(err)) return { code: err.code, details: err.details };
  return { code: grpc.status.INTERNAL, details: errorMessage(err) };
}

// Wraps the named unary handlers: a request id seen before (same caller) answers with the first
// call's result; a new one runs the handler's synchronous part (unary() runs it at once) in a
// request scope, so that the operation it records carries the id in the same transaction
// (operations/request-scope.ts), or, for a call that makes no operation, the id and the answer
// are kept as the answer is sent.
export function withRequestIds<H extends object>(handlers: H, methods: Record<string, IdempotentMethod>, store: Store): H {
  const out: Record<string, unknown> = { ...(handlers as Record<string, unknown>) };
  for (const [method, m] of Object.entries(methods)) {
    const inner = (handlers as Record<string, grpc.handleUnaryCall<any, any>>)[method];
    if (!inner) continue;
    out[method] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
      const answerFrom = (row: RequestRow) => Promise.resolve().then(() => m.replay(row)).then((res) => callback(null, res), (err: unknown) => callback(toStatus(err)));
      let key: RequestKey | undefined;
      let prior: RequestRow | undefined;
      try {
        const { requestId, ...fields } = call.request as { requestId?: string };
        key = requestKey(callerOf(call), checkRequestId(requestId), method, fields);
        prior = priorRequest(store, key);
      } catch (err) {
        return callback(toStatus(err));
      }
      if (!key) return inner(call, callback);
      if (prior) return void answerFrom(prior);
      const scope: RequestScope = { key, claimed: false, done: false };
      const k = key;
      withRequestScope(scope, () =>
        inner(call, (err, res) => {
          scope.done = true;
          let first: RequestRow | undefined;
          try {
            // Lost a race with its own retry (or the first call's answer got here first): answer as that one.
            first = priorRequest(store, k);
            if (!first && !err && !scope.claimed) store.requests.insert({ ...k, ...m.remember(res) });
          } catch (e) {
            return callback(toStatus(e));
          }
          if (first && !scope.claimed) return void answerFrom(first);
          callback(err, res);
        }),
      );
    };
  }
  return out as H;
}

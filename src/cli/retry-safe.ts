import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { portalMutatingMethods } from '../proto';
import { isServiceError, type AsyncClient } from '../rpc';

// The portal RPCs that change something: those taking a request_id (portal.proto).
const MUTATING = portalMutatingMethods();

// Answers that say the call may not have reached the manager, or may have been done without
// the answer coming back: with a request id, asking again is safe.
const RETRIED = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

export interface RetryOptions {
  attempts?: number;
  backoffMs?: number;
}

// Every mutating call of one berthctl run gets a request id (the run's --request-id, or a new
// UUID; a second mutating call in the same run gets "<id>.2", and so on, so running the same
// command again with --request-id repeats exactly the same ids), and is retried with that id when
// the manager was unreachable or the answer was lost.
export function retrySafe(client: AsyncClient<PortalClient>, base: string = randomUUID(), o: RetryOptions = {}): AsyncClient<PortalClient> {
  const attempts = o.attempts ?? 4;
  const backoffMs = o.backoffMs ?? 500;
  let calls = 0;
  return new Proxy(client, {
    get(target, prop: string) {
      const method = (target as unknown as Record<string, unknown>)[prop];
      if (!MUTATING.has(prop) || typeof method !== 'function') return method;
      return async (arg: { requestId?: string }, deadlineMs?: number) => {
        calls++;
        const req = arg.requestId ? arg : { ...arg, requestId: calls === 1 ? base : `${base}.${calls}` };
        for (let k = 1; ; k++) {
          try {
            return await (method as (a: unknown, d?: number) => Promise<unknown>)(req, deadlineMs);
          } catch (err) {
            if (k >= attempts || !isServiceError(err) || !RETRIED.has(err.code)) throw err;
            await new Promise((r) => setTimeout(r, backoffMs * 2 ** (k - 1)));
          }
        }
      };
    },
  }) as AsyncClient<PortalClient>;
}

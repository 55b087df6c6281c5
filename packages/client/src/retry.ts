import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

// Answers that say the call may not have reached the manager, or was done without the answer
// coming back. A read is asked again; a change is asked again only with the same request id,
// which the manager uses to answer a repeat with the first call's result instead of doing it twice.
export const RETRIED_CODES: ReadonlySet<grpc.status> = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

export interface RetryPolicy {
  // Attempts in all, the first included (1: no retry).
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, backoffMs: 300, maxBackoffMs: 5_000 };

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && 'code' in err && 'details' in err;
}

// Full jitter: clients that lost the manager together do not come back in step.
export function backoff(p: RetryPolicy, attempt: number, random = Math.random): number {
  return Math.floor(random() * Math.min(p.maxBackoffMs, p.backoffMs * 2 ** (attempt - 1)));
}

// Calls `once` until it answers, fails with a code not worth retrying, or runs out of attempts.
// A mutating request gets its request id here, once, so every attempt carries the same one.
export async function withRetry<Req extends object, Res>(
  once: (req: Req) => Promise<Res>,
  req: Req,
  o: { mutating: boolean; policy: RetryPolicy; sleep?: (ms: number) => Promise<void> },
): Promise<Res> {
  const sent = o.mutating && !(req as { requestId?: string }).requestId ? { ...req, requestId: randomUUID() } : req;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(sent);
    } catch (err) {
      if (attempt >= o.policy.attempts || !isServiceError(err) || !RETRIED_CODES.has(err.code)) throw err;
      await sleep(backoff(o.policy, attempt));
    }
  }
}

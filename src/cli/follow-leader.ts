import * as grpc from '@grpc/grpc-js';
import { isServiceError, LEADER_METADATA } from '../rpc';

// A client whose unary calls follow the leader: a follower manager answers UNAVAILABLE naming
// the leader's portal address (docs/ha.md), and the call is made again there, once. Later
// calls go to the leader directly.
export function followLeader<C extends { close(): void }>(client: C, dial: (address: string) => C): C {
  let current = client;
  return new Proxy({} as C, {
    get(_t, prop: string) {
      if (prop === 'then') return undefined;
      if (prop === 'close') return () => current.close();
      return async (arg: unknown, deadlineMs?: number) => {
        const call = (c: C) => (c as unknown as Record<string, (a: unknown, d?: number) => Promise<unknown>>)[prop]!(arg, deadlineMs);
        try {
          return await call(current);
        } catch (err) {
          const leader = isServiceError(err) && err.code === grpc.status.UNAVAILABLE ? err.metadata?.get(LEADER_METADATA)[0] : undefined;
          if (leader === undefined) throw err;
          current.close();
          current = dial(String(leader));
          return call(current);
        }
      };
    },
  });
}

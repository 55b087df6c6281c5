import * as grpc from '@grpc/grpc-js';
import { BerthError, errorMessage } from './errors';
import type { Logger } from './log';

export const DEFAULT_DEADLINE_MS = 10_000;

// The generated client types overload each method; the last overload is (argument, callback),
// which is what these infer from.
type Unary<F> = F extends (arg: infer A, cb: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall
  ? (arg: A, deadlineMs?: number) => Promise<R>
  : never;

// A promise-returning view of a generated client: `await portal.createInstance(req)`.
export type AsyncClient<C> = {
  [K in keyof C as K extends `${Lowercase<string>}${string}` ? (Unary<C[K]> extends never ? never : K) : never]: Unary<C[K]>;
} & { close(): void };

// Every call carries a deadline, so a silent peer turns into DEADLINE_EXCEEDED, never a hang.
export function asyncClient<C extends grpc.Client>(client: C, defaultDeadlineMs = DEFAULT_DEADLINE_MS): AsyncClient<C> {
  return new Proxy(
    {},
    {
      get(_t, prop: string) {
        if (prop === 'close') return () => client.close();
        if (prop === 'then') return undefined; // not a thenable
        const method = (client as unknown as Record<string, Function>)[prop];
        if (typeof method !== 'function') return undefined;
        return (arg: unknown, deadlineMs = defaultDeadlineMs) =>
          new Promise((resolve, reject) => {
            method.call(client, arg, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: unknown) =>
              err ? reject(err) : resolve(res),
            );
          });
      },
    },
  ) as AsyncClient<C>;
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && 'code' in err && 'details' in err;
}

// Server side: handlers are plain async functions; a thrown BerthError becomes its status, any
// other error INTERNAL (logged, since it is a bug or an unexpected failure).
export function unary<Req, Res>(
  log: Logger,
  name: string,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (callObj, callback) => {
    Promise.resolve()
      .then(() => fn(callObj.request, callObj))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof BerthError) {
            callback({ code: err.code, details: err.message });
          } else if (isServiceError(err)) {
            // A downstream call (manager -> agent) failed: pass its status through, naming the hop.
            callback({ code: err.code, details: err.details });
          } else {
            log.error({ err, rpc: name }, 'rpc failed');
            callback({ code: grpc.status.INTERNAL, details: `${name}: ${errorMessage(err)}` });
          }
        },
      );
  };
}

export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

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
// `metadata` (a bearer token, say) is sent with every call.
export function asyncClient<C extends grpc.Client>(client: C, defaultDeadlineMs = DEFAULT_DEADLINE_MS, metadata?: grpc.Metadata): AsyncClient<C> {
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
            method.call(client, arg, metadata ? metadata.clone() : new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: unknown) =>
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

// How long a handler may run on the server, whatever deadline its caller set (or none): a
// minute unless the handler says otherwise (an agent's create initializes a data directory).
export const DEFAULT_HANDLER_LIMIT_MS = 60_000;

// Server side: handlers are plain async functions; a thrown BerthError becomes its status, any
// other error INTERNAL (logged, since it is a bug or an unexpected failure). A handler that
// outlives its limit or its caller's deadline is answered DEADLINE_EXCEEDED and its `signal`
// aborts (also when the caller cancels): long work watches it, or is idempotent and may finish
// unobserved (its late answer is dropped).
export function unary<Req, Res>(
  log: Logger,
  name: string,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>, signal: AbortSignal) => Promise<Res> | Res,
  // A number, or one per request for calls whose request says how long they may wait (bound it).
  limitMs: number | ((req: Req) => number) = DEFAULT_HANDLER_LIMIT_MS,
): grpc.handleUnaryCall<Req, Res> {
  return (callObj, callback) => {
    const ac = new AbortController();
    let answered = false;
    const answer = (err: Partial<grpc.StatusObject> | null, res?: Res) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      callObj.off?.('cancelled', cancelled);
      callback(err, res);
    };
    const limit = typeof limitMs === 'function' ? limitMs(callObj.request) : limitMs;
    const ms = Math.max(0, Math.min(limit, untilDeadline(callObj.getDeadline?.() ?? Infinity)));
    const timer = setTimeout(() => {
      log.warn({ rpc: name, limitMs: ms }, 'rpc overran its deadline; cancelled');
      answer({ code: grpc.status.DEADLINE_EXCEEDED, details: `${name} did not finish within ${(ms / 1000).toFixed(1)} s on the server` });
      ac.abort();
    }, ms);
    const cancelled = () => {
      answered = true;
      clearTimeout(timer);
      ac.abort();
    };
    callObj.once?.('cancelled', cancelled);
    // fn's synchronous part runs now, in the caller's turn (a request id's scope covers it:
    // manager/api/requests.ts); a synchronous throw still becomes a rejection.
    new Promise<Res>((resolve) => resolve(fn(callObj.request, callObj, ac.signal)))
      .then(
        (res) => answer(null, res),
        (err: unknown) => {
          if (err instanceof BerthError) {
            answer({ code: err.code, details: err.message });
          } else if (isServiceError(err)) {
            // A downstream call (manager -> agent) failed: pass its status through, naming the hop.
            answer({ code: err.code, details: err.details });
          } else {
            if (!answered) log.error({ err, rpc: name }, 'rpc failed');
            answer({ code: grpc.status.INTERNAL, details: `${name}: ${errorMessage(err)}` });
          }
        },
      );
  };
}

function untilDeadline(d: grpc.Deadline): number {
  const at = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(at) ? at - Date.now() : Infinity;
}

export function bindServer(server: grpc.Server, address: string, creds: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

// Explicit limits instead of the library's defaults: no message of ours comes near 4 MiB.
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Peers are dialled by IP; the TLS server name is a fixed word (identities are checked from
  // the certificate subject, not from the host name).
  'grpc.ssl_target_name_override': 'berth',
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

// Wraps every unary handler of a service with a check that runs before it: the check throws a
// BerthError (UNAUTHENTICATED, PERMISSION_DENIED) to refuse the call. Handlers added later to the
// service are covered without touching this code.
export function guarded<H extends object>(handlers: H, check: (call: grpc.ServerUnaryCall<unknown, unknown>, method: string) => void): H {
  const out: Record<string, unknown> = {};
  for (const [method, fn] of Object.entries(handlers)) {
    // Unary handlers take (call, callback); server-streaming ones only (call) and report a
    // status by emitting 'error' on the call.
    const streaming = (fn as Function).length < 2;
    out[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      try {
        check(call, method);
      } catch (err) {
        const e = err instanceof BerthError ? err : new BerthError(grpc.status.PERMISSION_DENIED, errorMessage(err));
        if (streaming || !callback) call.emit('error', { code: e.code, details: e.message });
        else callback({ code: e.code, details: e.message });
        return;
      }
      (fn as (c: unknown, cb?: unknown) => void)(call, callback);
    };
  }
  return out as H;
}

// Metadata between berth's own processes. Every manager -> agent call carries the caller's
// leader epoch (agent/epoch.ts); a follower's refusal names the leader's portal and registry
// addresses in its trailing metadata, so berthctl and agents can follow it.
export const EPOCH_METADATA = 'berth-epoch';
export const LEADER_METADATA = 'berth-leader';
export const LEADER_REGISTRY_METADATA = 'berth-leader-registry';

// Adds `key: value()` to the metadata of every call made on a client (read at each call).
export function metadataInterceptor(key: string, value: () => string | undefined): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const v = value();
        if (v !== undefined) metadata.set(key, v);
        next(metadata, listener);
      },
    });
}

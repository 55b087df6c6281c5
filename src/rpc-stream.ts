import * as grpc from '@grpc/grpc-js';
import { BerthError, errorMessage } from './errors';
import type { Logger } from './log';
import { isServiceError } from './rpc';

// Server-streaming handler from an async generator: messages are written with backpressure,
// an exception becomes the call's status, and a cancelled call aborts the generator's signal
// (so a copy stops reading its source and cleans up).
export function serverStream<Req, Res>(
  log: Logger,
  name: string,
  fn: (req: Req, signal: AbortSignal, call: grpc.ServerWritableStream<Req, Res>) => AsyncGenerator<Res>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort(new Error(`${name}: the caller went away`)));
    void (async () => {
      try {
        for await (const msg of fn(call.request, abort.signal, call)) {
          if (abort.signal.aborted) break;
          if (!call.write(msg)) await drained(call, abort.signal);
        }
        call.end();
      } catch (err) {
        if (abort.signal.aborted) return;
        call.emit('error', toStatus(log, name, err));
      }
    })();
  };
}

function drained(call: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done);
  });
}

function toStatus(log: Logger, name: string, err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof BerthError) return { code: err.code, details: err.message };
  if (isServiceError(err)) return { code: err.code, details: err.details };
  log.error({ err: { message: errorMessage(err) }, rpc: name }, 'rpc failed');
  return { code: grpc.status.INTERNAL, details: `${name}: ${errorMessage(err)}` };
}

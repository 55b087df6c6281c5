import * as grpc from '@grpc/grpc-js';
import { BerthError, errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import { isServiceError } from '../../src/rpc';

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

// Gathers small reads into messages of about `size` bytes: fewer, larger gRPC messages.
export async function* batched(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    n += chunk.length;
    if (n >= size) {
      yield Buffer.concat(parts, n);
      parts = [];
      n = 0;
    }
  }
  if (n > 0) yield Buffer.concat(parts, n);
}

// Reads a file (a FIFO) into buffers of `size` bytes, each filled by as many reads as it takes.
// A FIFO gives at most its pipe's 64 KiB a read, and a read stream allocates its whole
// highWaterMark for every read: 1 MiB for each 64 KiB made garbage collection about 40% of the
// source agent's time. Here one buffer a message, no concatenation.
export async function* fillChunks(fh: { read(buf: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }> }, size: number): AsyncGenerator<Buffer> {
  for (;;) {
    const buf = Buffer.allocUnsafeSlow(size);
    let n = 0;
    while (n < size) {
      const { bytesRead } = await fh.read(buf, n, size - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > 0) yield n === size ? buf : buf.subarray(0, n);
    if (n < size) return;
  }
}

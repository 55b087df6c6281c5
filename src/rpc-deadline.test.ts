import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from './log';
import { bindServer, unary } from './rpc';

// Server-side limits over a real gRPC connection on loopback: a handler that overruns is
// answered DEADLINE_EXCEEDED by the server (whatever deadline the caller set, or none) and its
// signal aborts; one that finishes in time answers normally.
describe('unary handler limits', () => {
  const server = new grpc.Server();
  const aborted: string[] = [];
  let client: grpc.Client;
  const def = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
    path, requestStream: false, responseStream: false,
    requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
  });
  const service = { Slow: def('/t.T/Slow'), Fast: def('/t.T/Fast') };
  const log = createLogger('test', 'silent');
  const slow = (name: string) => (_req: Buffer, _call: unknown, signal: AbortSignal) =>
    new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => resolve(Buffer.from('late')), 5000);
      signal.addEventListener('abort', () => (clearTimeout(t), aborted.push(name), reject(new Error('aborted'))));
    });

  beforeAll(async () => {
    server.addService(service, {
      Slow: unary(log, 'Slow', slow('Slow'), 300),
      Fast: unary(log, 'Fast', async () => Buffer.from('ok'), 300),
    });
    const port = await bindServer(server, '127.0.0.1:0');
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const call = (path: string, deadlineMs?: number) =>
    new Promise<{ code: number; details: string; ms: number }>((resolve) => {
      const t0 = Date.now();
      const m = def(path);
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, Buffer.from('x'), new grpc.Metadata(), deadlineMs ? { deadline: Date.now() + deadlineMs } : {}, (err, res) =>
        resolve({ code: err?.code ?? 0, details: err?.details ?? String(res), ms: Date.now() - t0 }),
      );
    });

  it('answers DEADLINE_EXCEEDED from the server at its limit, with no client deadline, and cancels the work', async () => {
    const r = await call('/t.T/Slow');
    expect(r).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Slow did not finish within 0.3 s on the server' });
    expect(r.ms).toBeLessThan(3000);
    expect(aborted).toEqual(['Slow']);
  });

  it("a client's longer deadline does not lift the server's limit; a shorter one aborts the work too", async () => {
    expect(await call('/t.T/Slow', 60_000)).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Slow did not finish within 0.3 s on the server' });
    const short = await call('/t.T/Slow', 100);
    expect(short.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The caller's deadline passing reaches the server as a cancel.
    await vi.waitFor(() => expect(aborted).toEqual(['Slow', 'Slow', 'Slow']), { timeout: 2000 });
  });

  it('answers a handler that finishes in time', async () => {
    expect(await call('/t.T/Fast')).toMatchObject({ code: 0, details: 'ok' });
  });
});

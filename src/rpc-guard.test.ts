import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { permissionDenied } from './errors';
import { guarded } from './rpc';

// The guard in front of unary and server-streaming handlers: a refused call reaches neither, and
// its status goes out the way each kind of call reports one.
describe('guarded', () => {
  const refuse = (_call: unknown, method: string) => {
    if (method.startsWith('No')) throw permissionDenied(`not ${method}`);
  };

  it('answers a refused unary call through its callback and never runs the handler', () => {
    let ran = false;
    const h = guarded({ NoUnary: (_c: unknown, _cb: unknown) => void (ran = true), YesUnary: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, 'ok') }, refuse);
    const got: unknown[] = [];
    (h.NoUnary as Function)({ emit: () => undefined }, (err: unknown) => got.push(err));
    (h.YesUnary as Function)({}, (err: unknown, res: unknown) => got.push(err ?? res));
    expect(ran).toBe(false);
    expect(got).toEqual([{ code: grpc.status.PERMISSION_DENIED, details: 'not NoUnary' }, 'ok']);
  });

  it("emits a refused streaming call's status as an error event and never runs the handler", () => {
    let ran = false;
    const h = guarded({ NoStream: (_c: unknown) => void (ran = true) }, refuse);
    const events: unknown[] = [];
    (h.NoStream as Function)({ emit: (ev: string, e: unknown) => events.push([ev, e]) });
    expect(ran).toBe(false);
    expect(events).toEqual([['error', { code: grpc.status.PERMISSION_DENIED, details: 'not NoStream' }]]);
  });
});

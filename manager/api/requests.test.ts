import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, vi } from 'vitest';
import { TokensTable } from '../store/tokens';
import { createLogger } from '../../src/log';
import { unary } from '../../src/rpc';
import { portalGuard } from '../auth/principal';
import type { Engine } from '../operations/engine';
import { testEngine, withAdmit, type TestTypes } from '../../test/harness/operation-types';
import { Store } from '../store/index';
import { withRequestIds, type IdempotentMethod } from './requests';

const log = createLogger('test', 'silent');

function setup() {
  const store = Store.open(':memory:');
  const engine = testEngine(store, log, [{ type: 'noop', steps: [{ name: 'only', run: async () => undefined }] }]);
  const calls: string[] = [];
  return { store, engine, calls };
}

type Res = { id: string; instanceId: string; replayed?: boolean };

// A portal-shaped service: one handler that records an operation, one that changes a counter.
function service(store: Store, engine: Engine<TestTypes>, calls: string[]) {
  let counter = 0;
  const handlers = {
    Start: unary<{ instance: string; requestId: string }, Res>(log, 'Start', async (req) => {
      calls.push(`start ${req.instance}`);
      const { id } = await engine.submit('noop', { subjects: [{ kind: 'instance', name: req.instance }] });
      return { id, instanceId: req.instance };
    }),
    Bump: unary<{ by: number; requestId: string }, { value: number }>(log, 'Bump', (req) => {
      calls.push(`bump ${req.by}`);
      counter += req.by;
      return { value: counter };
    }),
    Read: unary<{ requestId: string }, { value: number }>(log, 'Read', () => ({ value: counter })),
  };
  const methods: Record<string, IdempotentMethod> = {
    Start: { replay: (row) => ({ id: row.operationId, instanceId: row.instanceId, replayed: true }), remember: (res: Res) => ({ operationId: res.id }) },
    Bump: { replay: (row) => JSON.parse(row.result) as unknown, remember: (res: unknown) => ({ result: JSON.stringify(res) }) },
  };
  return withRequestIds(handlers, methods, store);
}

// Calls a handler the way grpc-js does, as a caller holding `token` (through the portal guard).
function invoke<T>(store: Store, h: grpc.handleUnaryCall<any, any>, request: object, token?: string): Promise<T> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const call = { request, metadata, getDeadline: () => Infinity, once() {}, off() {} } as unknown as grpc.ServerUnaryCall<any, any>;
  portalGuard({ tokens: store.tokens, insecure: true })(call as grpc.ServerUnaryCall<unknown, unknown>, 'CordonNode');
  return new Promise((resolve, reject) => h(call, (err, res) => (err ? reject(err) : resolve(res as T))));
}

describe('request ids on every mutating RPC (withRequestIds)', () => {
  it('a retry answers with the operation the first call recorded, in the same transaction; nothing runs twice', async () => {
    const { store, engine, calls } = setup();
    const h = service(store, engine, calls);
    const first = await invoke<Res>(store, h.Start, { instance: 'i-1', requestId: 'r-1' });
    expect(store.requests.get('insecure', 'r-1')).toMatchObject({ method: 'Start', operationId: first.id, instanceId: 'i-1' });
    const again = await invoke<Res>(store, h.Start, { instance: 'i-1', requestId: 'r-1' });
    expect(again).toEqual({ ...first, replayed: true });
    expect(calls).toEqual(['start i-1']);
    expect(store.operations.page({ limit: 10, offset: 0 }).items).toHaveLength(1);
  });

  it('the same id with other fields or for another method is INVALID_ARGUMENT and changes nothing', async () => {
    const { store, engine, calls } = setup();
    const h = service(store, engine, calls);
    await invoke(store, h.Start, { instance: 'i-1', requestId: 'r-1' });
    await expect(invoke(store, h.Start, { instance: 'i-2', requestId: 'r-1' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^request_id r-1 was already used for another request \(Start at /) });
    await expect(invoke(store, h.Bump, { by: 1, requestId: 'r-1' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(invoke(store, h.Bump, { by: 1, requestId: 'bad id!' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('request_id must be') });
    expect(calls).toEqual(['start i-1']);
  });

  it('ids are per caller: another caller with the same id makes its own request', async () => {
    const { store, engine, calls } = setup();
    const h = service(store, engine, calls);
    const tokens = store.tokens;
    const alice = tokens.create('alice', 'operator');
    const bob = tokens.create('bob', 'operator');
    const a = await invoke<{ value: number }>(store, h.Bump, { by: 2, requestId: 'x' }, alice);
    const b = await invoke<{ value: number }>(store, h.Bump, { by: 5, requestId: 'x' }, bob);
    expect([a.value, b.value]).toEqual([2, 7]);
    expect(await invoke(store, h.Bump, { by: 2, requestId: 'x' }, alice)).toEqual({ value: 2 });
    expect(calls).toEqual(['bump 2', 'bump 5']);
    expect(store.requests.get('token:bob', 'x')).toMatchObject({ method: 'Bump', result: '{"value":7}' });
  });

  it('a call without an id, and the reads, run as before', async () => {
    const { store, engine, calls } = setup();
    const h = service(store, engine, calls);
    await invoke(store, h.Bump, { by: 1, requestId: '' });
    await invoke(store, h.Bump, { by: 1, requestId: '' });
    expect(await invoke(store, h.Read, { requestId: 'anything' })).toEqual({ value: 2 });
    expect(calls).toEqual(['bump 1', 'bump 1']);
  });

  it('the same id twice at once (a retry racing its first call): one operation, both answered with it', async () => {
    const { store, engine, calls } = setup();
    const h = service(store, engine, calls);
    const [x, y] = await Promise.all([invoke<Res>(store, h.Start, { instance: 'i-1', requestId: 'r-1' }), invoke<Res>(store, h.Start, { instance: 'i-1', requestId: 'r-1' })]);
    expect(y.id).toBe(x.id);
    expect(store.operations.page({ limit: 10, offset: 0 }).items.map((o) => o.id)).toEqual([x.id]);
    const [p, q] = await Promise.all([invoke(store, h.Bump, { by: 3, requestId: 'b-1' }), invoke(store, h.Bump, { by: 3, requestId: 'b-1' })]);
    expect(q).toEqual(p);
  });

  it('an operation recorded later by the work the call started is not the call\'s', async () => {
    const { store, engine, calls } = setup();
    engine.register(withAdmit({ type: 'spawn', steps: [{ name: 'later', run: async () => void (await engine.submit('noop', { subjects: [{ kind: 'node', name: 'n' }] })) }] }));
    const h = withRequestIds({ Go: unary(log, 'Go', async () => ({ id: (await engine.submit('spawn', { subjects: [{ kind: 'node', name: 'm' }] })).id })) }, { Go: { replay: (r) => ({ id: r.operationId }), remember: () => ({}) } }, store);
    const first = await invoke<{ id: string }>(store, h.Go, { requestId: 'g' });
    await engine.wait(first.id, 5000);
    await vi.waitFor(() => expect(store.operations.page({ limit: 10, offset: 0 }).items).toHaveLength(2));
    expect(store.requests.get('insecure', 'g')!.operationId).toBe(first.id);
    expect(calls).toEqual([]);
  });
});

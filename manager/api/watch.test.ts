import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event__Output } from '../../src/gen/berth/v1/Event';
import type { Operation__Output } from '../../src/gen/berth/v1/Operation';
import type { PortalClient } from '../../src/gen/berth/v1/Portal';
import { createLogger } from '../../src/log';
import { portalProto } from '../../src/proto';
import { bindServer } from '../../src/rpc';
import { Snapshot } from '../scheduler/snapshot';
import { FleetState } from '../state/fleet';
import { Store } from '../store/index';
import { MAX_WATCHES_PER_CALLER, watchHandlers } from './watch';

// The two watch streams over a real gRPC connection on loopback, against a real (in-memory)
// store: what a portal following operations and events receives.
describe('WatchOperations and WatchEvents', () => {
  const store = new Store(Store.open(':memory:').db);
  const fleet = FleetState.of(store, Snapshot.fromStore([], []));
  const server = new grpc.Server();
  let client: PortalClient;

  beforeAll(async () => {
    server.addService(portalProto().berth.v1.Portal.service, watchHandlers({ store, fleet, operation: (id) => store.operations.get(id), log: createLogger('test', 'silent') }));
    const port = await bindServer(server, '127.0.0.1:0');
    client = new (portalProto().berth.v1.Portal)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const collect = <T>(call: grpc.ClientReadableStream<T>, until: (got: T[]) => boolean) =>
    new Promise<{ got: T[]; error?: grpc.ServiceError }>((resolve) => {
      const got: T[] = [];
      call.on('data', (m: T) => {
        got.push(m);
        if (until(got)) {
          call.cancel();
          resolve({ got });
        }
      });
      call.on('error', (error: grpc.ServiceError) => resolve({ got, error }));
      call.on('end', () => resolve({ got }));
    });

  it('follows one operation step by step with its progress, and ends with its last state', async () => {
    store.operations.insert({ id: 'op-0000000a', type: 'migrate', params: {}, subjects: [{ kind: 'instance', name: 'i-1' }], steps: ['copy', 'cut-over'] });
    const call = client.watchOperations({ id: 'op-0000000a', subject: '' });
    const done = collect<Operation__Output>(call, () => false);
    await new Promise((r) => setTimeout(r, 50));
    store.operations.stepStarted('op-0000000a', 0);
    fleet.event('test.wake', 'i-1', 'a step started');
    await new Promise((r) => setTimeout(r, 400));
    store.operations.setProgress('op-0000000a', { bytesDone: 512, bytesTotal: 1024, phase: 'copying' });
    await new Promise((r) => setTimeout(r, 400));
    store.operations.finish('op-0000000a', 'succeeded');
    const { got, error } = await done;
    expect(error).toBeUndefined();
    expect(got[0]!.steps.map((s) => s.state)).toEqual(['pending', 'pending']);
    expect(got.some((o) => o.steps[0]!.state === 'running' && !o.progress?.bytesTotal)).toBe(true);
    expect(got.some((o) => o.progress?.phase === 'copying' && Number(o.progress.bytesDone) === 512)).toBe(true);
    expect(got.at(-1)!.state).toBe('succeeded');
    // Nothing sent twice: each message differs from the one before.
    for (let i = 1; i < got.length; i++) expect(JSON.stringify(got[i])).not.toBe(JSON.stringify(got[i - 1]));
  });

  it('an operation the engine finishes in place while its last running state is being sent still ends with its final state', async () => {
    // The engine keeps the row it drives and changes it in place (its Mirror): the state a
    // watch checks after sending must be the one it sent.
    store.operations.insert({ id: 'op-0000000b', type: 'delete', params: {}, subjects: [{ kind: 'instance', name: 'i-2' }], steps: ['release'] });
    const row = store.operations.get('op-0000000b')!;
    const server2 = new grpc.Server();
    server2.addService(portalProto().berth.v1.Portal.service, watchHandlers({
      store, fleet, log: createLogger('test', 'silent'),
      operation: () => {
        if (row.state === 'running') queueMicrotask(() => (row.state = 'succeeded'));
        return row;
      },
    }));
    const port = await bindServer(server2, '127.0.0.1:0');
    const c2 = new (portalProto().berth.v1.Portal)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const { got } = await collect<Operation__Output>(c2.watchOperations({ id: 'op-0000000b', subject: '' }), () => false);
      expect(got.map((o) => o.state)).toEqual(['running', 'succeeded']);
    } finally {
      c2.close();
      server2.forceShutdown();
    }
  });

  it('gives the events after a cursor in order, then new ones as they come; a resumed watch neither misses nor repeats one', async () => {
    for (let i = 0; i < 3; i++) fleet.event('cluster.test', 'c1', `before ${i}`);
    fleet.event('node.test', 'n1', 'another kind');
    const first = store.events.lastId() - 3;
    const a = await collect<Event__Output>(client.watchEvents({ afterId: first - 1, kind: 'cluster.', subject: '' }), (g) => g.length === 3);
    expect(a.got.map((e) => e.message)).toEqual(['before 0', 'before 1', 'before 2']);
    // Resume from the last one received: only what came after, as it comes.
    const b = collect<Event__Output>(client.watchEvents({ afterId: a.got.at(-1)!.id, kind: 'cluster.', subject: 'c1' }), (g) => g.length === 2);
    fleet.event('cluster.test', 'c2', 'other subject');
    fleet.event('cluster.test', 'c1', 'after 0');
    fleet.event('cluster.test', 'c1', 'after 1');
    expect((await b).got.map((e) => e.message)).toEqual(['after 0', 'after 1']);
  });

  it('refuses a bad request at the edge and more than the watches a caller may hold', async () => {
    expect((await collect(client.watchOperations({ id: 'x; DROP', subject: '' }), () => true)).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await collect(client.watchEvents({ afterId: 0, kind: 'A%B', subject: '' }), () => true)).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await collect(client.watchOperations({ id: 'op-000000ff', subject: '' }), () => true)).error?.code).toBe(grpc.status.NOT_FOUND);
    const held = Array.from({ length: MAX_WATCHES_PER_CALLER }, () => client.watchEvents({ afterId: 0, kind: '', subject: '' }).on('error', () => undefined));
    await new Promise((r) => setTimeout(r, 200));
    const over = await collect(client.watchEvents({ afterId: 0, kind: '', subject: '' }), () => true);
    expect(over.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    for (const c of held) c.cancel();
    // Cancelled watches free their places.
    await new Promise((r) => setTimeout(r, 400));
    const again = client.watchEvents({ afterId: 0, kind: '', subject: '' });
    const res = collect<Event__Output>(again, (g) => g.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    fleet.event('node.test', 'n1', 'seen');
    expect((await res).got[0]!.message).toBe('seen');
  });
});

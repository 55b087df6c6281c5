import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import type { PortalClient } from '../../src/gen/berth/v1/Portal';
import { portalProto } from '../../src/proto';
import { asyncClient, bindServer, LEADER_METADATA, LEADER_REGISTRY_METADATA } from '../../src/rpc';
import type { LeaseRow } from '../leader/lease';
import { BerthClient } from '../../packages/client/src/client';
import { addFollowerServices, leaderFrom } from './follower';

describe('a follower refuses every call, naming the leader', () => {
  let leader: LeaseRow | undefined = { holder: 'm1', portalAddress: '127.0.0.121:7400', registryAddress: '127.0.0.121:7402', epoch: 3, expiresAtMs: Date.now() + 60_000 };
  const portal = new grpc.Server();
  const registry = new grpc.Server();
  addFollowerServices(portal, registry, () => leader);
  afterAll(() => (portal.forceShutdown(), registry.forceShutdown()));

  it('unary and streaming calls get UNAVAILABLE with the leader in the message and the metadata', async () => {
    const port = await bindServer(portal, '127.0.0.1:0');
    const raw = new (portalProto().berth.v1.Portal)(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as PortalClient;
    const err = await asyncClient(raw).listInstances({}).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect((err as grpc.ServiceError).details).toMatch(/ListInstances: this manager is a follower; the leader is m1 \(epoch 3\) at 127.0.0.121:7400/);
    expect(leaderFrom(err)).toBe('127.0.0.121:7400');
    expect(leaderFrom(err, LEADER_REGISTRY_METADATA)).toBe('127.0.0.121:7402');
    const streamErr = await new Promise<grpc.ServiceError>((resolve) => raw.watchEvents({}).on('error', resolve).on('data', () => undefined));
    expect(streamErr.code).toBe(grpc.status.UNAVAILABLE);
    expect(streamErr.metadata.get(LEADER_METADATA)[0]).toBe('127.0.0.121:7400');
    // An expired lease names nobody: there is no leader to follow yet.
    leader = { ...leader!, expiresAtMs: Date.now() - 1 };
    const none = await asyncClient(raw).listInstances({}).catch((e: grpc.ServiceError) => e);
    expect((none as grpc.ServiceError).details).toMatch(/no manager holds the leader lease/);
    expect(leaderFrom(none)).toBeUndefined();
    raw.close();
  });
});

describe('the client package follows the leader a follower names', () => {
  it('retries a refused call on the leader, with the same request id', async () => {
    const seen: { requestId?: string }[] = [];
    const leaderServer = new grpc.Server();
    const handlers = { ListNodes: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { nodes: [{ name: 'from-leader' }] }), CordonNode: (c: grpc.ServerUnaryCall<{ requestId?: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => (seen.push(c.request), cb(null, {})) };
    leaderServer.addService(portalProto().berth.v1.Portal.service, handlers as unknown as grpc.UntypedServiceImplementation);
    const leaderPort = await bindServer(leaderServer, '127.0.0.1:0');
    const follower = new grpc.Server();
    const row = { holder: 'm1', portalAddress: `127.0.0.1:${leaderPort}`, registryAddress: 'x:1', epoch: 2, expiresAtMs: Date.now() + 60_000 };
    addFollowerServices(follower, new grpc.Server(), () => row);
    const followerPort = await bindServer(follower, '127.0.0.1:0');
    const berth = new BerthClient({ address: `127.0.0.1:${followerPort}`, insecure: true, retry: { backoffMs: 1 } });
    try {
      expect((await berth.call.listNodes({})).nodes.map((n) => n.name)).toEqual(['from-leader']);
      await berth.call.cordonNode({ name: 'n1', requestId: 'r-1' } as never);
      expect(seen.map((r) => r.requestId)).toEqual(['r-1']);
    } finally {
      berth.close();
      leaderServer.forceShutdown();
      follower.forceShutdown();
    }
  });
});

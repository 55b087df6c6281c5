import * as grpc from '@grpc/grpc-js';
import { agentProto, portalProto } from '../../src/proto';
import { LEADER_METADATA, LEADER_REGISTRY_METADATA } from '../../src/rpc';
import { followerMessage, type LeaseRow } from '../leader/lease';

// A follower's answer to every call of a service: UNAVAILABLE (clients retry it, and the
// retry should go to the leader), the leader in the message and, while its lease runs, its
// portal and registry addresses in the trailing metadata (berthctl and agents follow them).
// Reads are not served by followers yet: their in-memory view is built when they lead.
export function refusingService(service: grpc.ServiceDefinition, leader: () => LeaseRow | undefined): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(service)) {
    const refusal = (): Partial<grpc.StatusObject> => {
      const now = Date.now();
      const l = leader();
      const metadata = new grpc.Metadata();
      if (l && l.expiresAtMs > now) {
        metadata.set(LEADER_METADATA, l.portalAddress);
        metadata.set(LEADER_REGISTRY_METADATA, l.registryAddress);
      }
      return { code: grpc.status.UNAVAILABLE, details: `${method}: ${followerMessage(l, now)}`, metadata };
    };
    out[method] = def.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', refusal())
      : (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(refusal());
  }
  return out;
}

// The leader a refusal named, if any (berthctl, agents).
export function leaderFrom(err: unknown, key = LEADER_METADATA): string | undefined {
  const md = (err as { metadata?: grpc.Metadata }).metadata;
  const v = md?.get(key)[0];
  return v === undefined ? undefined : String(v);
}

// What a follower serves on the leader's ports: the portal and the registry, each refusing.
export function addFollowerServices(portal: grpc.Server, registry: grpc.Server, leader: () => LeaseRow | undefined): void {
  portal.addService(portalProto().berth.v1.Portal.service, refusingService(portalProto().berth.v1.Portal.service, leader));
  registry.addService(agentProto().berth.v1.Registry.service, refusingService(agentProto().berth.v1.Registry.service, leader));
}

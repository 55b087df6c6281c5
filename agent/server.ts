import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import { checkAgentCreate, checkInstanceId, checkShape } from '../src/validate';
import { failedPrecondition, notFound, permissionDenied } from '../src/errors';
import type { Logger } from '../src/log';
import { agentProto } from '../src/proto';
import { guarded, unary } from '../src/rpc';
import { peerOf } from '../src/tls/credentials';
import { peerRevocations } from '../src/tls/revocation';
import { AGENT_POLICY } from '../src/policy';
import { checkGrant } from '../src/tls/grant';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { InstanceStatus, Instances } from './instance/lifecycle';
import type { MovementHandlers } from './movement/handlers';
import type { RouterHandlers } from './router/handlers';
import { readOnlyAtBoot } from './fence';
import { probeDisk } from './host';
import { epochOf, type EpochFence } from './epoch';

export function toAgentInstance(i: InstanceStatus): AgentInstance {
  return {
    id: i.id,
    name: i.name,
    state: i.state,
    containerId: i.containerId,
    port: i.port,
    diskPath: i.diskPath,
    image: i.image,
    flavor: i.flavor,
    version: i.version,
    resources: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes },
    tls: !!i.tls,
    tlsRequired: !!i.tls?.required,
  };
}

const checkId = checkInstanceId;

// Server-side limits of the slow calls (the rest: rpc.ts DEFAULT_HANDLER_LIMIT_MS). Above what
// the manager asks for (10 min for a create, 2 min for a remove).
const LIMIT = { create: 15 * 60_000, startStop: 5 * 60_000 };

// Agent RPCs another node's agent may call (with its node certificate and the manager's grant);
// everything else only the manager (src/policy.ts).
const FROM_NODES = new Set(Object.entries(AGENT_POLICY).filter(([, who]) => who === 'manager-or-granted-node').map(([m]) => m));

// Every request is checked here, once, through the shared validation module; the node-specific
// checks (its port range, its disks) are the instance code's.
// requireManager: every call must come over a connection whose client certificate is the
// manager's (the TLS layer has checked it against the fleet CA); false only with --insecure.
export function agentServer(instances: Instances, log: Logger, movement: MovementHandlers & RouterHandlers, requireManager = false, options: grpc.ServerOptions = {}, self?: { node: string; disks: string[]; ca?: string; epochs?: EpochFence }): grpc.Server {
  const ca = self?.ca ? new X509Certificate(readFileSync(self.ca)) : undefined;
  const mine = (req: { id: string; node?: string; diskPath?: string }) => {
    if (self && req.node && req.node !== self.node) throw failedPrecondition(`this agent is node ${self.node}, not ${req.node}: nothing removed`);
    if (self && req.diskPath && !self.disks.includes(req.diskPath)) throw failedPrecondition(`${req.diskPath} is not a disk of node ${self.node}: nothing removed`);
    return checkId(req.id);
  };
  const server = new grpc.Server(options);
  const h: AgentHandlers = {
    // Past its limit a create goes on under the instance's lock (each step is idempotent, and a
    // remove that follows waits for it): the caller's retry or undo finds a consistent state.
    CreateInstance: unary(log, 'CreateInstance', async (req) => {
      const { spec, admin } = checkAgentCreate(req);
      return toAgentInstance(await instances.create({ ...spec, requireTls: req.requireTls }, admin));
    }, LIMIT.create),
    StartInstance: unary(log, 'StartInstance', async (req) => {
      if (req.readOnly) await readOnlyAtBoot(instances, checkId(req.id));
      return toAgentInstance(await instances.start(checkId(req.id)));
    }, LIMIT.startStop),
    StopInstance: unary(log, 'StopInstance', async (req) => toAgentInstance(await instances.stop(checkId(req.id))), LIMIT.startStop),
    RemoveInstance: unary(log, 'RemoveInstance', async (req) => {
      const r = await instances.remove(mine(req), { keepStartedData: req.keepStartedData, purge: req.purge, purgeStartedData: req.purgeStartedData });
      // Real free space after the removal (a disk that cannot be read is left out).
      const disks = await Promise.all((self?.disks ?? []).map((d) => probeDisk(d).catch(() => undefined)));
      return { ...r, disks: disks.filter((d) => d !== undefined) };
    }, LIMIT.startStop),
    InspectInstance: unary(log, 'InspectInstance', async (req) => {
      const i = await instances.get(checkId(req.id));
      if (!i) throw notFound(`instance ${req.id} is not on this node`);
      return toAgentInstance(i);
    }),
    ListInstances: unary(log, 'ListInstances', async () => ({ instances: (await instances.list()).map(toAgentInstance) })),
    ResizeInstance: unary(log, 'ResizeInstance', async (req) => {
      const r = await instances.resize(checkId(req.id), checkShape(req.resources));
      return {
        instance: toAgentInstance(r.instance),
        nanoCpus: r.limits.nanoCpus,
        memoryBytes: r.limits.memoryBytes,
        memorySwapBytes: r.limits.memorySwapBytes,
        bufferPoolBytes: r.server.bufferPoolBytes,
        maxConnections: r.server.maxConnections,
        uptimeSeconds: r.server.uptimeSeconds,
        applyMs: r.applyMs,
      };
    }, LIMIT.startStop),
    ...movement,
  };
  const onlyManager = (call: grpc.ServerUnaryCall<unknown, unknown>, method: string) => {
    if (!requireManager) return;
    const p = peerOf(call);
    // Revoked by the manager (pushed with heartbeat answers): refused whoever it names.
    const revoked = peerRevocations.whyPeer(call.getAuthContext?.()?.sslPeerCertificate);
    if (revoked) {
      log.warn({ method, peer: p ? `${p.kind}:${p.name}` : 'none', revoked }, 'agent call refused: revoked certificate');
      throw permissionDenied(`${method} refused: ${revoked}`);
    }
    // A hot copy is pulled by the target node's agent from the source's (StreamBackup, read-only),
    // with the manager's grant for that instance and that node.
    if (p?.kind === 'node' && FROM_NODES.has(method)) return checkNodeGrant(call, p.name, method);
    if (p?.kind !== 'manager') {
      log.warn({ method, peer: p ? `${p.kind}:${p.name}` : 'none' }, 'agent call refused: not the manager');
      throw permissionDenied(`only the manager may call the agent (${p ? `this certificate names ${p.kind} ${p.name}` : 'no certificate'})`);
    }
  };
  const checkNodeGrant = (call: grpc.ServerUnaryCall<unknown, unknown>, node: string, method: string) => {
    const req = call.request as { id?: string; grant?: string } | undefined;
    try {
      if (!ca) throw new Error('this agent has no fleet CA to check grants with');
      checkGrant(req?.grant ?? '', ca, { instance: req?.id ?? '', node });
    } catch (err) {
      log.warn({ method, peer: `node:${node}`, instance: req?.id, err: (err as Error).message }, 'agent call refused: no valid grant');
      throw permissionDenied(`${method} from node ${node} refused: ${(err as Error).message}`);
    }
  };
  // Every manager call carries its leader epoch (agent/epoch.ts); a deposed leader's is refused.
  // The read-only streams another node pulls with a grant carry none and need none.
  const fenced = (call: grpc.ServerUnaryCall<unknown, unknown>, method: string) => {
    onlyManager(call, method);
    if (FROM_NODES.has(method) && epochOf(call.metadata) === undefined) return;
    self?.epochs?.check(call.metadata, method);
  };
  server.addService(agentProto().berth.v1.Agent.service, guarded(h, fenced));
  return server;
}

import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import { checkAgentCreate, checkInstanceId, checkShape } from '../src/validate';
import { notFound } from '../src/errors';
import type { Logger } from '../src/log';
import { agentProto } from '../src/proto';
import { unary } from '../src/rpc';
import type { InstanceStatus, Instances } from './instance/lifecycle';
import type { MovementHandlers } from './movement/handlers';

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
  };
}

const checkId = checkInstanceId;

// Every request is checked here, once, through the shared validation module; the node-specific
// checks (its port range, its disks) are the instance code's.
export function agentServer(instances: Instances, log: Logger, movement: MovementHandlers): grpc.Server {
  const server = new grpc.Server();
  const h: AgentHandlers = {
    CreateInstance: unary(log, 'CreateInstance', async (req) => {
      const { spec, admin } = checkAgentCreate(req);
      return toAgentInstance(await instances.create(spec, admin));
    }),
    StartInstance: unary(log, 'StartInstance', async (req) => toAgentInstance(await instances.start(checkId(req.id)))),
    StopInstance: unary(log, 'StopInstance', async (req) => toAgentInstance(await instances.stop(checkId(req.id)))),
    RemoveInstance: unary(log, 'RemoveInstance', async (req) => ({ existed: await instances.remove(checkId(req.id)) })),
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
    }),
    ...movement,
  };
  server.addService(agentProto().berth.v1.Agent.service, h);
  return server;
}

import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import { checkName, checkShape } from '../src/validate';
import { invalidArgument, notFound } from '../src/errors';
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

const ID = /^i-[0-9a-f]{10,32}$/;
function checkId(id: string): string {
  if (!ID.test(id)) throw invalidArgument(`instance id "${id}" is not a berth instance id`);
  return id;
}

export function agentServer(instances: Instances, log: Logger, movement: MovementHandlers): grpc.Server {
  const server = new grpc.Server();
  const h: AgentHandlers = {
    CreateInstance: unary(log, 'CreateInstance', async (req) => {
      const shape = checkShape(req.resources);
      if (!req.adminUser || !req.adminPassword) throw invalidArgument('admin user and password are required');
      const created = await instances.create(
        {
          id: checkId(req.id),
          name: checkName('instance name', req.name),
          image: req.image,
          ...shape,
          port: req.port,
          diskPath: req.diskPath,
          serverId: req.serverId,
          replica: req.replica,
        },
        { user: req.adminUser, password: req.adminPassword },
      );
      return toAgentInstance(created);
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
    ...movement,
  };
  server.addService(agentProto().berth.v1.Agent.service, h);
  return server;
}

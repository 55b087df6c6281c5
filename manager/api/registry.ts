import type * as grpc from '@grpc/grpc-js';
import type { RegistryHandlers } from '../../src/gen/berth/v1/Registry';
import type { Logger } from '../../src/log';
import { agentProto } from '../../src/proto';
import { unary } from '../../src/rpc';
import { checkNodeInfo } from '../../src/validate';
import type { UsageMap } from '../health/usage';
import type { FleetState } from '../state/fleet';

// The agent-facing side: registration, heartbeats, and bringing the store in line with what
// each agent actually runs (through the fleet state owner).
export function addRegistry(server: grpc.Server, d: { fleet: FleetState; heartbeatIntervalMs: number; log: Logger; usage?: UsageMap }): void {
  const { fleet, log } = d;
  const unknown = (node: string) => (ids: string[]) => log.warn({ node, unknown: ids }, 'agent runs berth containers this manager does not know; leaving them alone');

  const h: RegistryHandlers = {
    Register: unary(log, 'Register', (req) => {
      const n = checkNodeInfo(req.node);
      fleet.registerNode(
        {
          name: n.name,
          agentAddress: n.agentAddress,
          host: n.host,
          labels: n.labels,
          cpuMillis: n.cpuMillis,
          memoryBytes: n.memoryBytes,
          portMin: n.portMin,
          portMax: n.portMax,
          busyPorts: n.busyPorts,
          agentVersion: n.agentVersion,
          dockerVersion: n.dockerVersion,
          lastHeartbeatMs: Date.now(),
          disks: n.disks,
        },
        req.instances,
        unknown(n.name),
      );
      d.usage?.report(n.name, req.instances);
      log.info({ node: n.name, address: n.agentAddress, instances: req.instances.length }, 'node registered');
      return { heartbeatIntervalMs: d.heartbeatIntervalMs };
    }),
    Heartbeat: unary(log, 'Heartbeat', async (req) => {
      if (!fleet.snapshot.get(req.node)) return { reregister: true };
      await fleet.heartbeat(req.node, Date.now(), req.disks, req.busyPorts, req.instances, unknown(req.node));
      d.usage?.report(req.node, req.instances);
      return { reregister: false };
    }),
  };
  server.addService(agentProto().berth.v1.Registry.service, h);
}

import type * as grpc from '@grpc/grpc-js';
import type { RegistryHandlers } from '../../src/gen/berth/v1/Registry';
import { invalidArgument } from '../../src/errors';
import type { Logger } from '../../src/log';
import { agentProto } from '../../src/proto';
import { unary } from '../../src/rpc';
import { checkName } from '../../src/validate';
import { reconcile, type Reported } from '../health/reconcile';
import type { UsageMap } from '../health/usage';
import type { Snapshot } from '../scheduler/snapshot';
import type { Store } from '../store/index';

// The agent-facing side: registration, heartbeats, and bringing the store in line with what
// each agent actually runs.
export function addRegistry(server: grpc.Server, d: { store: Store; snapshot: Snapshot; heartbeatIntervalMs: number; log: Logger; usage?: UsageMap }): void {
  const { store, snapshot, log } = d;

  function applyReport(node: string, reported: Reported[]) {
    const { updates, unknown } = reconcile(store.instances.onNode(node), reported);
    for (const u of updates) {
      store.instances.update(u.id, { state: u.state, containerId: u.containerId });
      store.events.add(`instance.${u.state}`, u.id, `node ${node} reports the instance ${u.state}`);
    }
    if (unknown.length) log.warn({ node, unknown }, 'agent runs berth containers this manager does not know; leaving them alone');
  }

  const h: RegistryHandlers = {
    Register: unary(log, 'Register', (req) => {
      const n = req.node;
      if (!n) throw invalidArgument('node is required');
      checkName('node name', n.name);
      if (!n.agentAddress || !n.host) throw invalidArgument('agent address and host are required');
      if (n.portMin < 1 || n.portMax > 65535 || n.portMin > n.portMax) throw invalidArgument(`bad port range ${n.portMin}-${n.portMax}`);
      if (n.disks.length === 0) throw invalidArgument('a node needs at least one data disk');
      const now = Date.now();
      const isNew = !store.nodes.get(n.name);
      store.tx(() => {
        store.nodes.register({
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
          lastHeartbeatMs: now,
          disks: n.disks,
        });
        store.events.add('node.registered', n.name, `${isNew ? 'new node' : 'node back'} at ${n.agentAddress}, ${req.instances.length} instances`);
        applyReport(n.name, req.instances);
      });
      snapshot.upsertNode(store.nodes.get(n.name)!);
      d.usage?.report(n.name, req.instances);
      log.info({ node: n.name, address: n.agentAddress, instances: req.instances.length }, 'node registered');
      return { heartbeatIntervalMs: d.heartbeatIntervalMs };
    }),
    Heartbeat: unary(log, 'Heartbeat', (req) => {
      if (!store.nodes.get(req.node)) return { reregister: true };
      const now = Date.now();
      store.tx(() => {
        store.nodes.heartbeat(req.node, now, req.disks, req.busyPorts);
        applyReport(req.node, req.instances);
      });
      snapshot.heartbeat(req.node, now, req.disks, req.busyPorts);
      d.usage?.report(req.node, req.instances);
      return { reregister: false };
    }),
  };
  server.addService(agentProto().berth.v1.Registry.service, h);
}

import type { InstanceTlsState } from '../state/instance-tls';
import type * as grpc from '@grpc/grpc-js';
import type { RegistryHandlers } from '../../src/gen/berth/v1/Registry';
import type { Logger } from '../../src/log';
import { agentProto } from '../../src/proto';
import { unary } from '../../src/rpc';
import { checkNodeInfo } from '../../src/validate';
import { permissionDenied } from '../../src/errors';
import { peerOf } from '../../src/tls/credentials';
import type { UsageMap } from '../state/usage';
import type { ReplicationMap } from '../state/replication';
import type { WriteLease } from '../../src/gen/berth/v1/WriteLease';
import type { FleetState } from '../state/fleet';
import { NodeReports } from '../state/reports';

// The agent-facing side: registration, heartbeats, and bringing the store in line with what
// each agent actually runs (through the fleet state owner).
export interface RegistryDeps {
  fleet: FleetState;
  heartbeatIntervalMs: number;
  log: Logger;
  usage?: UsageMap;
  // Replication state per instance (failure detection), and the write lease of the node's
  // cluster primaries (fencing; see docs/design.md "Failover").
  replication?: ReplicationMap;
  writeLease?: (node: string) => WriteLease | undefined;
  // The TLS each instance serves now (state/instance-tls.ts).
  tls?: InstanceTlsState;
  // With TLS a node may register and heartbeat only as the node its certificate names, so no
  // one else can take over its name, address or host. false only with --insecure.
  requireNodeCert: boolean;
}

export function addRegistry(server: grpc.Server, d: RegistryDeps): void {
  const { fleet, log } = d;
  const checkPeer = (call: Parameters<typeof peerOf>[0], node: string) => {
    if (!d.requireNodeCert) return;
    const p = peerOf(call);
    if (p?.kind !== 'node' || p.name !== node) {
      log.warn({ node, peer: p ? `${p.kind}:${p.name}` : 'none' }, 'registry call refused: certificate does not name this node');
      throw permissionDenied(`only the holder of node ${node}'s certificate may register or heartbeat as ${node}${p ? ` (this certificate names ${p.kind} ${p.name})` : ''}`);
    }
  };
  const reports = new NodeReports();
  const unknown = (node: string) => (ids: string[]) => log.warn({ node, unknown: ids }, 'agent runs berth containers this manager does not know; leaving them alone');

  const h: RegistryHandlers = {
    Register: unary(log, 'Register', (req, call) => {
      const n = checkNodeInfo(req.node);
      checkPeer(call, n.name);
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
      reports.apply(n.name, { instances: req.instances });
      d.usage?.report(n.name, req.instances);
      d.replication?.report(n.name, req.instances);
      d.tls?.report(n.name, req.instances);
      log.info({ node: n.name, address: n.agentAddress, instances: req.instances.length }, 'node registered');
      return { heartbeatIntervalMs: d.heartbeatIntervalMs, writeLease: d.writeLease?.(n.name) ?? null };
    }),
    Heartbeat: unary(log, 'Heartbeat', async (req, call) => {
      checkPeer(call, req.node);
      if (!fleet.snapshot.get(req.node)) return { reregister: true };
      const instances = reports.apply(req.node, req);
      if (!instances) return { reregister: false, acceptsDelta: true, fullReport: true };
      await fleet.heartbeat(req.node, Date.now(), req.disks, req.busyPorts, instances, unknown(req.node));
      // A delta without instances repeats the usage already known and has no replication state.
      if (!req.delta || req.instances.length || req.removedInstanceIds.length) {
        d.usage?.report(req.node, instances);
        d.replication?.report(req.node, instances);
        d.tls?.report(req.node, instances);
      }
      return { reregister: false, writeLease: d.writeLease?.(req.node) ?? null, acceptsDelta: true };
    }),
  };
  server.addService(agentProto().berth.v1.Registry.service, h);
}

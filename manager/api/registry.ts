import type { InstanceTlsState } from '../state/instance-tls';
import type * as grpc from '@grpc/grpc-js';
import type { NodeInfo__Output } from '../../src/gen/berth/v1/NodeInfo';
import type { RegistryHandlers } from '../../src/gen/berth/v1/Registry';
import type { Logger } from '../../src/log';
import { agentProto } from '../../src/proto';
import { unary } from '../../src/rpc';
import { checkNodeInfo } from '../../src/validate';
import { failedPrecondition, permissionDenied } from '../../src/errors';
import { peerOf } from '../../src/tls/credentials';
import type { UsageMap } from '../state/usage';
import type { ReplicationMap } from '../state/replication';
import type { WriteLease } from '../../src/gen/berth/v1/WriteLease';
import type { FleetState } from '../state/fleet';
import { NodeReports } from '../state/reports';
import type { RevocationState } from '../state/revocations';

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
  // The agent's clock when it sent what was just received (the base of write grants: see
  // AgentPool.heard).
  heard?: (node: string, agentSentAtMs: number) => void;
  // The TLS each instance serves now (state/instance-tls.ts).
  tls?: InstanceTlsState;
  // With TLS a node may register and heartbeat only as the node its certificate names, so no
  // one else can take over its name, address or host. false only with --insecure.
  requireNodeCert: boolean;
  // Per-instance reports dropped because the store does not place the instance on the node that
  // sent them (a metric: berth_heartbeat_foreign_reports_total).
  onForeignReports?: (node: string, count: number) => void;
  // A node heard from within this long is alive: no other node may register at its address.
  nodeTimeoutMs?: number;
  // Revoked certificates: refused here on every call, and sent to each agent whose heartbeat
  // names an older list version.
  revocations?: RevocationState;
}

export function addRegistry(server: grpc.Server, d: RegistryDeps): void {
  const { fleet, log } = d;
  const checkPeer = (call: Parameters<typeof peerOf>[0], node: string) => checkNodePeer(d, call, node);
  const reports = new NodeReports();
  const book = new AddressBook(fleet, d.nodeTimeoutMs ?? 15_000);
  const ownOnly = ownReportsOnly(d);
  const unknown = (node: string) => (ids: string[]) => log.warn({ node, unknown: ids }, 'agent runs berth containers this manager does not know; leaving them alone');

  const h: RegistryHandlers = {
    Register: unary(log, 'Register', (req, call) => {
      const n = checkNodeInfo(req.node);
      checkPeer(call, n.name);
      // One live node per agent address: the manager dials agents by address, and two live rows
      // at one address make every call to either a gamble. A row left behind by a host that
      // re-registered under a new name is down, and does not block it.
      const clash = book.liveAt(n.agentAddress, n.name);
      if (clash) {
        log.warn({ node: n.name, address: n.agentAddress, live: clash.name }, 'registration refused: another live node has this agent address');
        throw failedPrecondition(`agent address ${n.agentAddress} belongs to node ${clash.name}, which is alive; stop that agent (or wait until it is down) before registering ${n.name} there`);
      }
      fleet.registerNode(nodeRegistration(n), req.instances, unknown(n.name));
      book.addressed(n.name, n.agentAddress);
      d.heard?.(n.name, Number(req.sentAtMs) || 0);
      reports.apply(n.name, { instances: req.instances });
      const own = ownOnly(n.name, req.instances);
      d.usage?.report(n.name, own);
      d.replication?.report(n.name, own);
      d.tls?.report(n.name, own);
      log.info({ node: n.name, address: n.agentAddress, instances: req.instances.length }, 'node registered');
      return { heartbeatIntervalMs: d.heartbeatIntervalMs, writeLease: d.writeLease?.(n.name) ?? null, revocations: d.revocations?.forAgent(-1) ?? null };
    }),
    Heartbeat: unary(log, 'Heartbeat', async (req, call) => {
      checkPeer(call, req.node);
      const revocations = d.revocations?.forAgent(Number(req.revocationsVersion ?? 0)) ?? null;
      if (!fleet.snapshot.get(req.node)) return { reregister: true, revocations };
      const instances = reports.apply(req.node, req);
      if (!instances) return { reregister: false, acceptsDelta: true, fullReport: true, revocations };
      await fleet.heartbeat(req.node, Date.now(), req.disks, req.busyPorts, instances, unknown(req.node));
      d.heard?.(req.node, Number(req.sentAtMs) || 0);
      // A delta without instances repeats the usage already known and has no replication state.
      if (!req.delta || req.instances.length || req.removedInstanceIds.length) {
        const own = ownOnly(req.node, instances);
        d.usage?.report(req.node, own);
        d.replication?.report(req.node, own);
        d.tls?.report(req.node, own);
      }
      return { reregister: false, writeLease: d.writeLease?.(req.node) ?? null, acceptsDelta: true, revocations };
    }),
  };
  server.addService(agentProto().berth.v1.Registry.service, h);
}

function nodeRegistration(n: NodeInfo__Output): Parameters<FleetState['registerNode']>[0] {
  return {
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
  };
}

// With node certificates required, a registry call is taken only from the holder of that
// node's certificate, and never from a revoked one.
function checkNodePeer(d: RegistryDeps, call: Parameters<typeof peerOf>[0], node: string): void {
  if (!d.requireNodeCert) return;
  const p = peerOf(call);
  const revoked = d.revocations?.list.whyPeer(call.getAuthContext?.()?.sslPeerCertificate);
  if (revoked) {
    d.log.warn({ node, peer: p ? `${p.kind}:${p.name}` : 'none', revoked }, 'registry call refused: revoked certificate');
    throw permissionDenied(`${revoked}; node ${node} needs a new certificate (berthctl certs issue --node ${node} --force)`);
  }
  if (p?.kind !== 'node' || p.name !== node) {
    d.log.warn({ node, peer: p ? `${p.kind}:${p.name}` : 'none' }, 'registry call refused: certificate does not name this node');
    throw permissionDenied(`only the holder of node ${node}'s certificate may register or heartbeat as ${node}${p ? ` (this certificate names ${p.kind} ${p.name})` : ''}`);
  }
}

// Node names per agent address, from the store once, then kept by each registration (a
// manager start with thousands of agents registering must not scan every node row each time).
class AddressBook {
  private byAddress: Map<string, Set<string>> | undefined;
  private readonly addressOf = new Map<string, string>();

  constructor(
    private readonly fleet: FleetState,
    private readonly nodeTimeoutMs: number,
  ) {}

  addressed(name: string, address: string): void {
    const m = this.addresses();
    const before = this.addressOf.get(name);
    if (before !== undefined) m.get(before)?.delete(name);
    this.addressOf.set(name, address);
    let s = m.get(address);
    if (!s) m.set(address, (s = new Set()));
    s.add(name);
  }

  // Another node registered at this address and heard from within the node timeout.
  liveAt(address: string, name: string): { name: string } | undefined {
    const now = Date.now();
    for (const other of this.addresses().get(address) ?? []) {
      if (other === name) continue;
      const beat = this.fleet.snapshot.get(other)?.lastHeartbeatMs ?? 0;
      if (now - beat < this.nodeTimeoutMs && this.fleet.store.nodes.get(other)?.agentAddress === address) return { name: other };
    }
    return undefined;
  }

  private addresses(): Map<string, Set<string>> {
    if (!this.byAddress) {
      this.byAddress = new Map();
      for (const x of this.fleet.store.nodes.all()) this.addressed(x.name, x.agentAddress);
    }
    return this.byAddress;
  }
}

// Usage, replication state and TLS are believed only from the node the store places the
// instance on: they feed failover ("replica lost its connection", "mysqld down"), alerts and
// expansion, and a node's certificate must not let it speak for another node's instances.
// Its own reconciliation needs no filter: it only ever touches the node's own rows.
function ownReportsOnly(d: RegistryDeps): <T extends { id: string }>(node: string, list: T[]) => T[] {
  const lastForeign = new Map<string, number>();
  return (node, list) => {
    const mine = d.fleet.placedOn(node);
    let foreign = 0;
    for (const i of list) if (!mine.has(i.id)) foreign++;
    if (foreign) d.onForeignReports?.(node, foreign);
    // Logged when the count changes, not at every heartbeat.
    if ((lastForeign.get(node) ?? 0) !== foreign) {
      if (foreign) d.log.warn({ node, foreign, ids: list.filter((i) => !mine.has(i.id)).slice(0, 10).map((i) => i.id) }, 'heartbeat reports instances the store does not place on this node; their usage, replication and TLS reports are dropped');
      lastForeign.set(node, foreign);
    }
    return foreign ? list.filter((i) => mine.has(i.id)) : list;
  };
}

import type { Flavor } from '../../src/mysql/dialect';
import type { Endpoint, TargetEndpoint } from '../movement/index';
import { agentCreateRequest } from '../agents/create-request';
import type { AgentPool } from '../agents/pool';
import type { FleetState } from '../state/fleet';
import type { ClusterRow } from '../store/clusters';
import type { InstanceRow } from '../store/instances';
import type { AgentGroupConfig } from '../../src/gen/berth/v1/AgentGroupConfig';
import { groupConfigFor } from './group';
import { DEFAULT_GALERA_PORT_OFFSET, galeraFieldsFor } from './galera';

// Members as data movement sees them: where their agent and their mysqld answer. The movement
// library (copy, makeReplica, cutOver) works on these, for clusters as for migrations.

// The part of OperationDeps (operations/deps.ts) these read: the operations pass theirs.
export interface MemberDeps {
  fleet: FleetState;
  agents: Pick<AgentPool, 'for'> & Partial<Pick<AgentPool, 'raw'>>;
  requireMysqlTls?: boolean;
  // Galera's ports above each member's instance port (--galera-port-offset).
  galeraPortOffset?: number;
}

export function mustCluster(d: MemberDeps, name: string): ClusterRow {
  const c = d.fleet.store.clusters.get(name);
  if (!c) throw new Error(`cluster ${name} is gone from the store`);
  return c;
}

export function memberRow(d: MemberDeps, id: string): InstanceRow {
  const i = d.fleet.store.instances.get(id);
  if (!i) throw new Error(`member ${id} is gone from the store`);
  return i;
}

export function primaryOf(d: MemberDeps, cluster: string): InstanceRow {
  const p = d.fleet.store.instances.inCluster(cluster).find((m) => m.clusterRole === 'primary');
  if (!p) throw new Error(`cluster ${cluster} has no primary`);
  return p;
}

export function endpointOf(d: MemberDeps, i: InstanceRow, flavor = i.flavor): Endpoint {
  const n = d.fleet.store.nodes.get(i.node);
  if (!n) throw new Error(`node ${i.node} of ${i.name} is not registered`);
  return {
    id: i.id,
    flavor: (flavor || 'mariadb') as Flavor,
    agent: d.agents.for(n.name),
    streams: d.agents.raw?.(n.name),
    agentAddress: n.agentAddress,
    node: n.name,
    host: n.host,
    port: i.port,
  };
}

// A member to be built by a copy of the primary: everything the agent's CreateInstance needs.
export function targetOf(d: MemberDeps, i: InstanceRow, c: ClusterRow, flavor: string): TargetEndpoint {
  return { ...endpointOf(d, i, flavor), create: createRequest(i, c, !!d.requireMysqlTls, groupConfigOf(d, c, i)) };
}

export function createRequest(i: InstanceRow, c: ClusterRow, requireTls = false, group?: AgentGroupConfig) {
  return {
    ...agentCreateRequest(i, requireTls),
    // Every member starts read-only with replication stopped; the manager opens the primary
    // (a consensus cluster's group opens the primary it elects).
    replica: true,
    semiSyncTimeoutMs: c.replication === 'semi-sync' ? c.semiSyncTimeoutMs : 0,
    ...(group ? { group } : {}),
  };
}

// A consensus cluster member's group settings, from where every member is placed; undefined
// for a replicated cluster.
// Both flavors' settings go to the agent, which uses its image's (the manager learns the flavor
// only from the first member's create); `bootstrap` makes a new Galera cluster at the first start.
export function groupConfigOf(d: MemberDeps, c: ClusterRow, i: InstanceRow, o: { bootstrap?: boolean } = {}): AgentGroupConfig | undefined {
  if (c.replication !== 'group') return undefined;
  const at = (m: InstanceRow) => ({ host: d.fleet.store.nodes.get(m.node)?.host ?? '', port: m.port, serverId: m.serverId });
  const members = d.fleet.store.instances.inCluster(c.name).map(at);
  const galera = galeraFieldsFor(c, at(i), members, { offset: d.galeraPortOffset ?? DEFAULT_GALERA_PORT_OFFSET, bootstrap: !!o.bootstrap });
  return { ...groupConfigFor(c, at(i), members), ...galera };
}

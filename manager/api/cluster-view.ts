import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { Cluster } from '../../src/gen/berth/v1/Cluster';
import type { ClusterEndpoint } from '../../src/gen/berth/v1/ClusterEndpoint';
import type { ClusterEndpoints } from '../../src/gen/berth/v1/ClusterEndpoints';
import type { ClusterHistoryEntry } from '../../src/gen/berth/v1/ClusterHistoryEntry';
import type { ClusterMember } from '../../src/gen/berth/v1/ClusterMember';
import type { Flavor } from '../../src/mysql/dialect';
import { formatGtidSet, parseGtidSet } from '../../src/mysql/gtid';
import type { AsyncClient } from '../../src/rpc';
import { servingNode, toInstance } from './convert';
import type { Snapshot } from '../scheduler/snapshot';
import type { SchedulerConfig } from '../scheduler/types';
import type { ClusterHistoryRow, ClusterRow } from '../store/clusters';
import type { Store } from '../store/index';
import type { InstanceRow } from '../store/instances';
import { stableEndpoints } from './stable-endpoints';
import { memberHealth, type MemberStatus } from '../clusters/health';
import { groupMemberHealth } from '../clusters/group';
import { galeraMemberHealth, isGaleraFlavor } from '../clusters/galera';
import type { AgentGroupMember__Output } from '../../src/gen/berth/v1/AgentGroupMember';

export interface ViewDeps {
  store: Store;
  snapshot: Pick<Snapshot, 'get'>;
  scheduler: SchedulerConfig;
  agents: { for(node: string): AsyncClient<AgentClient> };
  // Why no member takes writes, when that is so (the cluster reconciler's finding).
  problem?: (cluster: string) => { sinceMs: number; reason: string; action: string } | undefined;
}

// One spelling per set (MariaDB reports binlog and slave positions side by side): the highest
// sequence number per domain, as a DBA would write it.
function normalized(flavor: Flavor, text: string): string {
  try {
    return formatGtidSet(parseGtidSet(flavor, text));
  } catch {
    return text;
  }
}

// A member's status is asked of its agent with this deadline: a silent agent makes the member
// "unreachable", never a slow answer.
const STATUS_DEADLINE_MS = 2000;

const nodeOf = (d: ViewDeps, i: InstanceRow) => servingNode(d.snapshot, i.node, d.scheduler, Date.now());

function endpoint(d: ViewDeps, i: InstanceRow): ClusterEndpoint {
  return { instanceId: i.id, instance: i.name, host: nodeOf(d, i).host, port: i.port, role: i.clusterRole };
}

// From the store: the primary, and the replicas clients may read from (never a fenced one).
export function endpointsOf(d: ViewDeps, name: string, members = d.store.instances.inCluster(name)): ClusterEndpoints {
  const primary = members.find((m) => m.clusterRole === 'primary' && !m.fenced);
  return { cluster: name, primary: primary ? endpoint(d, primary) : null, replicas: members.filter((m) => m.clusterRole === 'replica' && !m.fenced).map((m) => endpoint(d, m)), stable: stableEndpoints(d.store, { cluster: name }) };
}

async function statusOf(d: ViewDeps, i: InstanceRow): Promise<MemberStatus | undefined> {
  try {
    return await d.agents.for(i.node).getReplicaStatus({ id: i.id }, STATUS_DEADLINE_MS);
  } catch {
    return undefined;
  }
}

async function groupSelfOf(d: ViewDeps, i: InstanceRow): Promise<AgentGroupMember__Output | undefined> {
  try {
    return (await d.agents.for(i.node).getGroupStatus({ id: i.id }, STATUS_DEADLINE_MS)).members.find((m) => m.local);
  } catch {
    return undefined;
  }
}

// A consensus cluster's members as each sees itself in the group now (state, role, version,
// transactions received and not applied); berth's replication threads do not apply.
// Galera members show wsrep_local_state_comment, wsrep_cluster_status, wsrep_cluster_size and
// wsrep_ready the same way (clusters/galera.ts galeraMemberHealth).
async function groupMembersView(d: ViewDeps, members: InstanceRow[], live: boolean, galera: boolean): Promise<ClusterMember[]> {
  const health = (self: AgentGroupMember__Output | undefined, state: string) =>
    galera ? galeraMemberHealth(self, state) : groupMemberHealth(self ? { state: self.state, queue: Number(self.queue) } : undefined, state);
  const selves = live ? await Promise.all(members.map((m) => (m.state === 'running' && nodeOf(d, m).up ? groupSelfOf(d, m) : undefined))) : [];
  return members.map((m, k) => {
    const instance = toInstance(m, nodeOf(d, m));
    const self = selves[k];
    return {
      instance, role: m.clusterRole, fenced: m.fenced, health: live ? health(self, instance.state ?? m.state) : '',
      executedGtids: '', receivedGtids: '', secondsBehind: -1, lagTransactions: Number(self?.queue ?? 0), ioRunning: false, sqlRunning: false, readOnly: false, source: '', lastError: '',
      groupState: self?.state ?? '', groupRole: self?.role ?? '', groupVersion: self?.version ?? '', groupSize: self?.size ?? 0, groupReady: self?.ready ?? false,
    };
  });
}

// live: ask every member's agent now (GetCluster); otherwise the store's view only (lists).
export async function clusterView(d: ViewDeps, c: ClusterRow, live: boolean): Promise<Cluster> {
  const members = d.store.instances.inCluster(c.name);
  if (c.replication === 'group') return { ...base(d, c, members), members: await groupMembersView(d, members, live, isGaleraFlavor(c.flavor)) };
  const statuses = live ? await Promise.all(members.map((m) => (m.state === 'running' && nodeOf(d, m).up ? statusOf(d, m) : undefined))) : [];
  const primaryAt = members.findIndex((m) => m.clusterRole === 'primary');
  const p = primaryAt >= 0 ? members[primaryAt]! : undefined;
  const pStatus = primaryAt >= 0 ? statuses[primaryAt] : undefined;
  const primary = p ? { host: nodeOf(d, p).host, port: p.port, executedGtids: pStatus?.executedGtids ?? '' } : undefined;
  const out: ClusterMember[] = members.map((m, k) => {
    const node = nodeOf(d, m);
    const instance = toInstance(m, node);
    const s = statuses[k];
    const flavor = (m.flavor || c.flavor || 'mariadb') as Flavor;
    const h = live ? memberHealth(flavor, { role: m.clusterRole, fenced: m.fenced, state: instance.state ?? m.state, status: s, primary }) : undefined;
    return {
      instance,
      role: m.clusterRole,
      fenced: m.fenced,
      health: h?.health ?? '',
      executedGtids: normalized(flavor, s?.executedGtids ?? ''),
      receivedGtids: normalized(flavor, s?.receivedGtids ?? ''),
      secondsBehind: s && m.clusterRole === 'replica' ? s.secondsBehind : -1,
      lagTransactions: h?.lagTransactions ?? 0,
      ioRunning: s?.ioRunning ?? false,
      sqlRunning: s?.sqlRunning ?? false,
      readOnly: s?.readOnly ?? false,
      source: s?.configured ? `${s.sourceHost}:${s.sourcePort}` : '',
      lastError: h?.problem || s?.lastSqlError || s?.lastIoError || '',
    };
  });
  return { ...base(d, c, members), members: out };
}

function base(d: ViewDeps, c: ClusterRow, members: InstanceRow[]): Omit<Cluster, 'members'> {
  const p = members.find((m) => m.clusterRole === 'primary');
  return {
    name: c.name,
    state: c.state,
    replication: c.replication,
    semiSyncTimeoutMs: c.semiSyncTimeoutMs,
    flavor: c.flavor,
    image: c.image,
    resources: { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, diskBytes: c.diskBytes },
    primary: p?.name ?? '',
    endpoints: endpointsOf(d, c.name, members),
    constraints: c.placement.constraints,
    spreadOver: c.placement.spreadOver,
    strategy: c.placement.strategy,
    createdAt: c.createdAt,
    message: c.message,
    problem: problemText(d, c.name),
    groupName: c.groupName,
    groupConsistency: c.groupConsistency,
    memberWeight: c.memberWeight,
  };
}

function problemText(d: ViewDeps, cluster: string): string {
  const p = d.problem?.(cluster);
  return p ? `no writable primary since ${new Date(p.sinceMs).toISOString()}: ${p.reason}. ${p.action}` : '';
}

export function toHistoryEntry(h: ClusterHistoryRow): ClusterHistoryEntry {
  return { ...h, id: h.id };
}

import type { ClusterRole } from '../store/instances';
import type { ReplicationMode } from '../store/clusters';

export type { ClusterPlacement, ClusterRow, ClusterHistoryRow, ClusterState, HistoryKind, HistoryOutcome, NewHistory, ReplicationMode } from '../store/clusters';
export type { ClusterRole } from '../store/instances';

// Roles a member can have; the store allows one primary per cluster.
export const MEMBER_ROLES: readonly Exclude<ClusterRole, ''>[] = ['primary', 'replica'];
export const REPLICATION_MODES: readonly ReplicationMode[] = ['async', 'semi-sync', 'group'];
export const MAX_REPLICAS = 5;
export const DEFAULT_SEMI_SYNC_TIMEOUT_MS = 10_000;

// What GetCluster says of a member, from its agent's answer now.
export type MemberHealth = 'ok' | 'lagging' | 'broken' | 'down' | 'unreachable' | 'fenced' | 'creating';

// The anti-affinity group of a cluster's members: ':' never appears in a group a caller names
// (checkName), so no instance outside the cluster can share it.
export const clusterGroup = (cluster: string) => `cluster:${cluster}`;

// Replication and monitoring account names: the same on every member of one cluster.
export const REPL_USER = 'berth_repl';
export const MONITOR_USER = 'berth_monitor';

// Member instance names: "<cluster>-<n>" with the lowest n no instance has (names are unique
// across the fleet, members or not). A cluster name is at most 59 characters, so this stays a
// valid instance name.
export const MAX_CLUSTER_NAME = 59;
export function memberName(cluster: string, taken: (name: string) => boolean): string {
  for (let n = 1; ; n++) {
    const name = `${cluster}-${n}`;
    if (!taken(name)) return name;
  }
}

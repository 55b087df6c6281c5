import type { AgentGroupConfig } from '../../src/gen/berth/v1/AgentGroupConfig';
import type { ClusterRow } from '../store/clusters';

// Consensus clusters (MySQL Group Replication, single-primary): what the manager decides about
// them, pure. The group elects its primary; berth follows it (docs/design.md, "Consensus
// clusters").

export const GROUP_SIZES: readonly number[] = [3, 5, 7];
export const DEFAULT_MEMBER_WEIGHT = 50;
export const DEFAULT_GROUP_CONSISTENCY = 'BEFORE_ON_PRIMARY_FAILOVER';
// An expelled member tries to rejoin this many times (5 minutes apart) before it gives up.
export const AUTOREJOIN_TRIES = 3;
// The group communication port of a member sits this far above its instance port: the node's
// port range is mirrored there, and the heartbeat's listening check of the range does not see it.
export const GROUP_PORT_OFFSET = 1000;

export const groupPort = (port: number) => port + GROUP_PORT_OFFSET;

export interface MemberAddress {
  host: string;
  port: number;
}

// One member's group settings: seeds are every member's group endpoint, the allowlist every
// member's host (XCom then refuses anyone else). Members on loopback addresses (simulated hosts)
// connect to each other from 127.0.0.1, which the kernel picks as the source of any connection
// to 127.0.0.x that binds none, so it is allowed too.
export function groupConfigFor(c: Pick<ClusterRow, 'groupName' | 'groupConsistency' | 'memberWeight'>, self: MemberAddress, members: MemberAddress[]): AgentGroupConfig {
  const endpoint = (m: MemberAddress) => `${m.host}:${groupPort(m.port)}`;
  return {
    groupName: c.groupName,
    localAddress: endpoint(self),
    seeds: members.map(endpoint),
    allowlist: [...new Set([...members.map((m) => m.host), ...(members.some((m) => m.host.startsWith('127.')) ? ['127.0.0.1'] : [])])],
    memberWeight: c.memberWeight,
    consistency: c.groupConsistency || DEFAULT_GROUP_CONSISTENCY,
    autorejoinTries: AUTOREJOIN_TRIES,
  };
}

// What a member's latest report says of its place in the group.
export interface GroupReport {
  id: string;
  // mysqld answered this measurement: a report of a dead server carries its last group state on.
  mysqldUp: boolean;
  groupState: string;
  groupRole: string;
  groupOnline: number;
  groupSize: number;
}

// The primary the group elected, as its members report it: ONLINE and PRIMARY in a view where
// a majority of the group is ONLINE. A primary cut off from the majority still calls itself
// ONLINE/PRIMARY, but sees the others UNREACHABLE, so it is never taken for the elected one; two
// majority views cannot both exist. Only a report read from a live mysqld counts: the agent's
// report of a killed server keeps its last state (ONLINE/PRIMARY of a full group), which the
// integration test caught berth following. Undefined while no report says so (an election under way,
// or no majority).
export function electedPrimary(reports: GroupReport[], groupSize: number): string | undefined {
  const majority = Math.floor(groupSize / 2) + 1;
  return reports.find((r) => r.mysqldUp && r.groupState === 'ONLINE' && r.groupRole === 'PRIMARY' && r.groupOnline >= majority)?.id;
}

// What GetCluster says of a group member, from its own row in the group as it sees it now.
// RECOVERING is catching up (lagging); ERROR and OFFLINE are out of the group (broken); no
// answer: down when the instance is not running, else unreachable.
export function groupMemberHealth(self: { state: string; queue: number } | undefined, instanceState: string): 'ok' | 'lagging' | 'broken' | 'down' | 'unreachable' | 'creating' {
  if (instanceState === 'creating' || instanceState === 'pending') return 'creating';
  if (!self) return instanceState === 'running' ? 'unreachable' : 'down';
  if (self.state === 'ONLINE') return self.queue > 1000 ? 'lagging' : 'ok';
  if (self.state === 'RECOVERING') return 'lagging';
  if (self.state === 'UNREACHABLE') return 'unreachable';
  return 'broken';
}

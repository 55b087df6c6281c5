import { dialectFor, type Flavor } from '../../src/mysql/dialect';
import type { ClusterRow } from '../store/clusters';
import type { MemberAddress } from './group';

// Consensus clusters on MariaDB: Galera, with one writer berth chooses (docs/design.md,
// "Consensus clusters: Galera"). What the manager decides about them, pure.

// Galera's three listeners sit at fixed distances above the member's instance port (group
// communication, incremental and full state transfer), like Group Replication's port: the
// node's port range is mirrored there, and must be narrower than the offset.
export const DEFAULT_GALERA_PORT_OFFSET = 1000;

// A consensus cluster of this flavor runs Galera (MariaDB), not Group Replication.
export const isGaleraFlavor = (flavor: string): boolean => (flavor === 'mariadb' || flavor === 'mysql') && dialectFor(flavor as Flavor).group?.kind === 'galera';

export function galeraPorts(port: number, offset = DEFAULT_GALERA_PORT_OFFSET): { gcomm: number; ist: number; sst: number } {
  return { gcomm: port + offset, ist: port + 2 * offset, sst: port + 3 * offset };
}

// One member's Galera settings (AgentGroupConfig.galera_*). The state transfer account is the
// cluster's replication account (Galera members replicate by write sets, never by a channel).
// The cluster's GTID domain is its lowest member server id: unique in the fleet (server ids
// come from one counter) and never 0, the domain of each server's local writes.
export function galeraFieldsFor(
  c: Pick<ClusterRow, 'name' | 'replUser' | 'replPassword'>,
  self: MemberAddress,
  members: (MemberAddress & { serverId: number })[],
  o: { offset: number; bootstrap: boolean },
) {
  const at = (m: MemberAddress, which: 'gcomm' | 'ist' | 'sst') => `${m.host}:${galeraPorts(m.port, o.offset)[which]}`;
  return {
    galeraClusterName: c.name,
    galeraAddress: at(self, 'gcomm'),
    galeraPeers: members.map((m) => at(m, 'gcomm')),
    galeraIstAddress: at(self, 'ist'),
    galeraSstAddress: at(self, 'sst'),
    galeraIncomingAddress: `${self.host}:${self.port}`,
    galeraBootstrap: o.bootstrap,
    galeraSstUser: c.replUser,
    galeraSstPassword: c.replPassword,
    galeraGtidDomain: Math.min(...members.map((m) => m.serverId)),
  };
}

// What a member's latest report says of it (AgentReplicationState.group_*): state is
// wsrep_local_state_comment, role wsrep_cluster_status, online the component's size while it is
// Primary and ready (else 0).
export interface GaleraReport {
  id: string;
  // A fresh report (its agent heard within the silence limit) read from a live mysqld.
  live: boolean;
  state: string;
  role: string;
  online: number;
  readOnly: boolean;
}

// Able to take the cluster's writes: Synced in the Primary component and ready.
export const canWrite = (r: GaleraReport | undefined): boolean => !!r && r.live && r.state === 'Synced' && r.role === 'Primary' && r.online > 0;

export type WriterDecision =
  | { kind: 'keep' }
  // The writer is fine but read-only (it restarted: every member boots read-only).
  | { kind: 'open'; id: string }
  | { kind: 'change'; from: string; to: string }
  | { kind: 'none'; why: string };

// The writer stays while it can write. Otherwise another member that can takes over, the one
// first in the members' order (stable, so two ticks choose the same one); the operation then
// waits until the old writer is out of that member's component before it opens it.
export function decideWriter(writerId: string | undefined, reports: GaleraReport[]): WriterDecision {
  const writer = reports.find((r) => r.id === writerId);
  if (writerId && canWrite(writer)) return writer!.readOnly ? { kind: 'open', id: writerId } : { kind: 'keep' };
  const next = reports.find((r) => r.id !== writerId && canWrite(r));
  if (!next) return { kind: 'none', why: 'no other member is Synced in the Primary component' };
  return { kind: 'change', from: writerId ?? '', to: next.id };
}

// What GetCluster says of a Galera member from its own status now: Synced in the Primary
// component ok; joining, donating or joined lagging; outside the Primary component broken; no
// answer down or unreachable.
export function galeraMemberHealth(self: { state: string; role: string; ready: boolean } | undefined, instanceState: string): 'ok' | 'lagging' | 'broken' | 'down' | 'unreachable' | 'creating' {
  if (instanceState === 'creating' || instanceState === 'pending') return 'creating';
  if (!self) return instanceState === 'running' ? 'unreachable' : 'down';
  if (self.role !== 'Primary') return 'broken';
  return self.state === 'Synced' && self.ready ? 'ok' : 'lagging';
}

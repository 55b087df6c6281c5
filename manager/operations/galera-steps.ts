import { createRequest, endpointOf, groupConfigOf, memberRow, mustCluster } from '../clusters/members';
import { MONITOR_USER } from '../clusters/types';
import type { OperationDeps } from './deps';
import type { SeedOut } from './cluster-common';

// The Galera side of cluster-group-create (docs/design.md, "Consensus clusters: Galera"). The
// first member made a new cluster at its first start and made the state transfer account
// (agent/instance/galera.ts); here: the monitoring account, the other members, and the writer.

const AGENT_MS = 10_000;

// Binlogged and replicated by Galera (DDL is applied everywhere in order), and copied to every
// joiner by its state transfer.
export async function galeraBootstrap(d: OperationDeps, cluster: string, firstId: string): Promise<{ members: number }> {
  const c = mustCluster(d, cluster);
  const ep = endpointOf(d, memberRow(d, firstId));
  await ep.agent.createReplicationUser({ id: ep.id, user: c.monitorUser || MONITOR_USER, password: c.monitorPassword, binlog: true, monitor: true });
  const g = await ep.agent.getGroupStatus({ id: ep.id }, AGENT_MS);
  const self = g.members.find((m) => m.local);
  if (self?.state !== 'Synced' || self.role !== 'Primary') throw new Error(`the Galera cluster did not start on ${ep.id}: it is ${self ? `${self.state}/${self.role}` : 'not a member'}`);
  return { members: self.size };
}

// Each member is created with the cluster's addresses: it joins at mysqld's start, receives a
// full state transfer (mariabackup) from a donor, and the agent answers once it is Synced. One
// at a time: a donor is desynchronized while it sends. A failure fails the step, whose undo
// removes every joiner (read-only members that never took a client write).
export async function galeraJoinAll(d: OperationDeps, cluster: string, ids: string[], progress: (phase: string) => void): Promise<Record<string, SeedOut>> {
  const out: Record<string, SeedOut> = {};
  for (const id of ids) {
    const c = mustCluster(d, cluster);
    const r = memberRow(d, id);
    progress(`${r.name}: joining by state transfer`);
    const t0 = Date.now();
    await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating' }));
    const res = await d.agents.for(r.node).createInstance(createRequest(r, c, !!d.requireMysqlTls, groupConfigOf(d, c, r)), d.agentCreateDeadlineMs);
    await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId }));
    const seconds = (Date.now() - t0) / 1000;
    out[id] = { method: 'galera-sst', bytes: 0, seconds, bytesPerSecond: 0 };
  }
  return out;
}

// The first member is the writer: the only one berth makes writable (endpoints follow it).
export async function openWriter(d: OperationDeps, cluster: string, id: string): Promise<void> {
  const i = memberRow(d, id);
  await d.endpoints?.route(cluster, i.id);
  try {
    await d.agents.for(i.node).setReadOnly({ id: i.id, readOnly: false }, AGENT_MS);
  } finally {
    d.endpoints?.release(cluster);
  }
}

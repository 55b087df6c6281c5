import { nodeIsDown, type AlertRule, type HealthState } from '../types';
import type { InstanceRow } from '../../../store/instances';
import type { ReplicationReport } from '../../../state/replication';

// Replicas as their agents last read them, on nodes that are up (a down node's report is stale
// and node_down covers it).
function replicas(s: HealthState): { i: InstanceRow; r: ReplicationReport }[] {
  if (!s.replication) return [];
  const down = new Set(s.nodes.filter((n) => nodeIsDown(n, s)).map((n) => n.name));
  return s.instances.flatMap((i) => {
    const r = s.replication!.get(i.id);
    return r && !down.has(i.node) && r.state.mysqldUp ? [{ i, r }] : [];
  });
}

// The applier stopped, or the receiver stopped with an error (not merely reconnecting).
export const replicationBroken: AlertRule = {
  name: 'replication_broken',
  evaluate: (s) =>
    replicas(s)
      .filter(({ r }) => r.state.configured && (!r.state.sqlRunning || r.state.lastSqlError !== '' || (!r.state.ioRunning && !r.state.ioConnecting && r.state.lastIoError !== '')))
      .map(({ i, r }) => ({
        rule: 'replication_broken',
        subject: i.id,
        severity: 'critical',
        message: `replication of ${i.name} on ${i.node} is broken: ${r.state.lastSqlError || r.state.lastIoError || 'the SQL thread is stopped'}`,
      })),
};

export const replicationLag: AlertRule = {
  name: 'replication_lag',
  evaluate: (s) => {
    const limit = s.thresholds.replicationLagSeconds ?? 30;
    return replicas(s)
      .filter(({ r }) => r.state.configured && Number(r.state.secondsBehind) > limit)
      .map(({ i, r }) => ({
        rule: 'replication_lag',
        subject: i.id,
        severity: 'warning',
        message: `${i.name} on ${i.node} is ${Number(r.state.secondsBehind)} s behind its source (limit ${limit} s)`,
      }));
  },
};

// A primary that waited out its semi-sync timeout and goes on asynchronously: commits it
// acknowledges now may exist on it alone, and a failover would lose them.
export const semiSyncDegraded: AlertRule = {
  name: 'semi_sync_degraded',
  evaluate: (s) =>
    replicas(s)
      .filter(({ r }) => r.state.semiSyncEnabled && !r.state.semiSyncActive && !r.state.readOnly)
      .map(({ i, r }) => ({
        rule: 'semi_sync_degraded',
        subject: i.id,
        severity: 'critical',
        message: `semi-sync on primary ${i.name} degraded to async (${r.state.semiSyncClients} semi-sync replicas connected): acknowledged writes may be on this host only`,
      })),
};

// Fires until a DBA acknowledges the failover (which also lets the next automatic one happen).
export const failoverHappened: AlertRule = {
  name: 'failover',
  evaluate: (s) =>
    (s.failovers ?? []).map((f) => ({
      rule: 'failover',
      subject: f.cluster,
      severity: 'critical',
      message: `cluster ${f.cluster} failed over from ${f.from} to ${f.to} at ${new Date(f.atMs).toISOString()}: ${f.message} (acknowledge with berthctl cluster ack-failover ${f.cluster})`,
    })),
};

// Every member refuses writes (the failover blocked by anti-flap, the primary fenced by its lease,
// an operation stuck): the application is down although berth may be doing as told.
export const clusterNoWritablePrimary: AlertRule = {
  name: 'cluster_no_writable_primary',
  evaluate: (s) =>
    (s.noWriter ?? []).map((p) => ({
      rule: 'cluster_no_writable_primary',
      subject: p.cluster,
      severity: 'critical',
      message: `cluster ${p.cluster} has had no writable primary since ${new Date(p.sinceMs).toISOString()}: ${p.reason}. ${p.action}`,
    })),
};

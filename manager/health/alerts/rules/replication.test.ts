import { describe, expect, it } from 'vitest';
import type { AgentReplicationState__Output } from '../../../../src/gen/berth/v1/AgentReplicationState';
import { Snapshot } from '../../../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../../../scheduler/types';
import type { InstanceRow } from '../../../store/instances';
import type { NodeRow } from '../../../store/nodes';
import { ReplicationMap } from '../../../state/replication';
import { UsageMap } from '../../../state/usage';
import { DEFAULT_THRESHOLDS, type FailoverNotice, type HealthState, type NoWriterNotice } from '../types';
import { clusterNoWritablePrimary, failoverHappened, replicationBroken, replicationLag, semiSyncDegraded } from './replication';

const now = 5_000_000;
const node = (name: string, lastHeartbeatMs = now) => ({ name, lastHeartbeatMs, agentAddress: '', host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 1e9, portMin: 1, portMax: 2, busyPorts: [], cordoned: false, agentVersion: '', dockerVersion: '', registeredAt: '', disks: [] }) as NodeRow;
const inst = (id: string, n: string) => ({ id, name: `n-${id}`, node: n, port: 3301, state: 'running' }) as InstanceRow;
const healthy: AgentReplicationState__Output = {
  measuredAtMs: now, mysqldUp: true, mysqldDownSinceMs: 0, serverUuid: '', serverId: 2, readOnly: true, superReadOnly: false, executedGtids: '0-1-5',
  configured: true, ioRunning: true, ioConnecting: false, sqlRunning: true, secondsBehind: 0, receivedGtids: '0-1-5', lastIoError: '', lastSqlError: '',
  sourceHost: '127.0.0.1', sourcePort: 3301, semiSyncEnabled: false, semiSyncActive: false, semiSyncClients: 0, leaseFenced: false, groupState: '', groupRole: '', groupOnline: 0, groupSize: 0, groupVersion: '',
};

function state(reports: Record<string, Partial<AgentReplicationState__Output>>, opts: { down?: string; failovers?: FailoverNotice[]; noWriter?: NoWriterNotice[] } = {}): HealthState {
  const replication = new ReplicationMap();
  for (const n of ['a', 'b']) {
    const mine = Object.entries(reports).filter(([id]) => (id === 'i3' ? 'b' : 'a') === n);
    replication.report(n, mine.map(([id, r]) => ({ id, replication: { ...healthy, ...r } })), now);
  }
  const nodes = [node('a'), node('b', opts.down === 'b' ? now - 60_000 : now)];
  return { now, nodes: [...Snapshot.fromStore(nodes, []).nodes()], instances: [inst('i1', 'a'), inst('i2', 'a'), inst('i3', 'b')], usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, thresholds: DEFAULT_THRESHOLDS, replication, failovers: opts.failovers, noWriter: opts.noWriter };
}
const subjects = (fs: { subject: string }[]) => fs.map((f) => f.subject);

describe('replication alert rules', () => {
  it('healthy replicas fire nothing', () => {
    const s = state({ i1: {}, i2: {} });
    for (const r of [replicationBroken, replicationLag, semiSyncDegraded, failoverHappened, clusterNoWritablePrimary]) expect(r.evaluate(s)).toEqual([]);
  });

  it('broken: SQL thread stopped with an error, or IO stopped with an error; reconnecting is not broken', () => {
    const s = state({ i1: { sqlRunning: false, lastSqlError: 'Duplicate entry 7' }, i2: { ioRunning: false, ioConnecting: true, lastIoError: 'error reconnecting' } });
    const f = replicationBroken.evaluate(s);
    expect(subjects(f)).toEqual(['i1']);
    expect(f[0]!.message).toMatch(/Duplicate entry 7/);
  });

  it('a report from a down node is stale: nothing fires for it', () => {
    expect(replicationBroken.evaluate(state({ i3: { sqlRunning: false } }, { down: 'b' }))).toEqual([]);
    expect(subjects(replicationBroken.evaluate(state({ i3: { sqlRunning: false } })))).toEqual(['i3']);
  });

  it('lag above the threshold', () => {
    expect(subjects(replicationLag.evaluate(state({ i1: { secondsBehind: 31 }, i2: { secondsBehind: 30 } })))).toEqual(['i1']);
  });

  it('semi-sync degraded on a writable primary', () => {
    const s = state({ i1: { configured: false, readOnly: false, semiSyncEnabled: true, semiSyncActive: false }, i2: { readOnly: false, semiSyncEnabled: true, semiSyncActive: true } });
    expect(subjects(semiSyncDegraded.evaluate(s))).toEqual(['i1']);
  });

  it('failover happened: fires per unacknowledged failover', () => {
    const f = failoverHappened.evaluate(state({}, { failovers: [{ cluster: 'orders', atMs: now, from: 'orders-0', to: 'orders-1', message: 'primary dead' }] }));
    expect(f).toEqual([expect.objectContaining({ rule: 'failover', subject: 'orders', severity: 'critical' })]);
  });

  it('no writable primary: critical, saying why, since when and what to do', () => {
    const f = clusterNoWritablePrimary.evaluate(state({}, { noWriter: [{ cluster: 'orders', sinceMs: Date.UTC(2026, 11, 7), reason: 'primary orders-0 is dead and its failover is blocked', action: 'berthctl cluster ack-failover orders runs the failover now' }] }));
    expect(f).toEqual([
      {
        rule: 'cluster_no_writable_primary',
        subject: 'orders',
        severity: 'critical',
        message: 'cluster orders has had no writable primary since 2026-12-07T00:00:00.000Z: primary orders-0 is dead and its failover is blocked. berthctl cluster ack-failover orders runs the failover now',
      },
    ]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentReplicationState__Output } from '../../src/gen/berth/v1/AgentReplicationState';
import { DEFAULT_RULES } from '../health/alerts/rules/index';
import { DEFAULT_THRESHOLDS, type HealthState } from '../health/alerts/types';
import { ReplicationMap } from './replication';
import { UsageMap } from './usage';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';
import type { NodeRow } from '../store/nodes';
import { alertInstances, disksBelow, rowsOf } from './watched';

const G = 1024 ** 3;
const now = 5_000_000;
const node = (name: string, lastHeartbeatMs: number): NodeRow => ({
  name, lastHeartbeatMs, agentAddress: '', host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 64 * G, portMin: 3301, portMax: 3399,
  busyPorts: [], cordoned: false, agentVersion: '', dockerVersion: '', registeredAt: '', disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 50 * G }],
});
const replica: AgentReplicationState__Output = {
  measuredAtMs: now, mysqldUp: true, mysqldDownSinceMs: 0, serverUuid: '', serverId: 2, readOnly: true, superReadOnly: false, executedGtids: '',
  configured: true, ioRunning: true, ioConnecting: false, sqlRunning: true, secondsBehind: 0, receivedGtids: '', lastIoError: '', lastSqlError: '',
  sourceHost: '127.0.0.1', sourcePort: 3301, semiSyncEnabled: false, semiSyncActive: false, semiSyncClients: 0, leaseFenced: false, groupState: '', groupRole: '', groupOnline: 0, groupSize: 0, groupVersion: '',
};

// One instance as the store holds it and as its agent last reported it.
const arbInstance = fc.record({
  node: fc.integer({ min: 0, max: 3 }),
  state: fc.constantFrom('running', 'stopped', 'creating'),
  diskGb: fc.integer({ min: 1, max: 20 }),
  usedPct: fc.constantFrom(0, 10, 39, 41, 80, 89, 90, 91, 100, 150),
  // The agent's shape against the store's: equal, or a resize in flight either way.
  reportedScale: fc.constantFrom(1, 1, 0.5, 2),
  unresponsive: fc.boolean(),
  reported: fc.constantFrom('usage', 'usage', 'none', 'no-shape'),
  replication: fc.option(fc.record({ sqlRunning: fc.boolean(), secondsBehind: fc.constantFrom(0, 31, 100), semiSyncEnabled: fc.boolean(), readOnly: fc.boolean() }), { nil: undefined }),
});

describe('what the periodic scans read', () => {
  it('the alert rules fire exactly as they would over every instance row (random fleets)', () => {
    fc.assert(
      fc.property(fc.array(arbInstance, { maxLength: 40 }), fc.integer({ min: 0, max: 4 }), (xs, downNode) => {
        const nodes = [0, 1, 2, 3].map((n) => node(`n${n}`, n === downNode ? now - 60_000 : now));
        const rows = xs.map((x, k) => ({ id: `i${k}`, name: `db${k}`, node: `n${x.node}`, diskPath: '/d', port: 3301 + k, cpuMillis: 500, memoryBytes: G, diskBytes: x.diskGb * G, state: x.state }) as InstanceRow);
        const usage = new UsageMap({ diskPct: 40, memoryPct: 45 });
        const replication = new ReplicationMap();
        for (const n of nodes) {
          const mine = xs.map((x, k) => ({ x, r: rows[k]! })).filter(({ r }) => r.node === n.name);
          usage.report(n.name, mine.filter(({ x }) => x.reported !== 'none').map(({ x, r }) => ({
            id: r.id, usedDiskBytes: Math.round((r.diskBytes * x.usedPct) / 100), usedMemoryBytes: G / 10, mysqldUnresponsive: x.unresponsive, usageMeasuredAtMs: now,
            resources: x.reported === 'no-shape' ? null : { diskBytes: r.diskBytes * x.reportedScale, memoryBytes: G },
          })), now);
          replication.report(n.name, mine.map(({ x, r }) => ({ id: r.id, replication: x.replication ? { ...replica, ...x.replication } : null })), now);
        }
        const store = { instances: { get: (id: string) => rows.find((r) => r.id === id), onNode: (n: string) => rows.filter((r) => r.node === n) } };
        const state = (instances: InstanceRow[]): HealthState => ({ now, nodes: [...Snapshot.fromStore(nodes, []).nodes()], instances, usage, scheduler: DEFAULT_SCHEDULER_CONFIG, thresholds: DEFAULT_THRESHOLDS, replication });
        const fire = (s: HealthState) => DEFAULT_RULES.flatMap((r) => r.evaluate(s)).map((f) => `${f.rule} ${f.subject} ${f.message}`).sort();
        expect(fire(state(alertInstances(store, usage, replication)))).toEqual(fire(state(rows)));
      }),
      { numRuns: 300 },
    );
  });

  it('a quiet instance is not read at all; one crossing the cut-off is, and leaves again when it drops', () => {
    const usage = new UsageMap({ diskPct: 40, memoryPct: 45 });
    const beat = (usedDiskBytes: number, mysqldUnresponsive = false) =>
      usage.report('a', [{ id: 'i1', usedDiskBytes, usedMemoryBytes: G / 10, mysqldUnresponsive, usageMeasuredAtMs: now, resources: { diskBytes: 10 * G, memoryBytes: G } }], now);
    beat(3 * G);
    expect([...usage.notable()]).toEqual([]);
    beat(5 * G);
    expect([...usage.notable()]).toEqual(['i1']);
    beat(1 * G, true);
    expect([...usage.notable()]).toEqual(['i1']);
    beat(1 * G);
    expect([...usage.notable()]).toEqual([]);
    beat(5 * G);
    usage.report('a', [], now);
    expect([...usage.notable()]).toEqual([]);
    const reads: string[] = [];
    rowsOf({ instances: { get: (id) => (reads.push(id), undefined), onNode: () => [] } }, usage.notable());
    expect(reads).toEqual([]);
  });

  it('disks below a share of free space, per node', () => {
    const a = node('a', now);
    const b = { ...node('b', now), disks: [{ path: '/d1', totalBytes: 100 * G, freeBytes: 19 * G }, { path: '/d2', totalBytes: 100 * G, freeBytes: 21 * G }] };
    expect(disksBelow([...Snapshot.fromStore([a, b], []).nodes()], 20)).toEqual([{ node: 'b', path: '/d1' }]);
  });
});

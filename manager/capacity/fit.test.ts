import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../src/errors';
import type { AgentPool } from '../agents/pool';
import { createOperation, type NewInstance } from '../operations/create';
import { FleetState } from '../state/fleet';
import { createInstance, fleetEngine } from '../../test/harness/operation-types';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from '../scheduler/types';
import { Store } from '../store/index';
import type { NodeRow } from '../store/nodes';
import { cloneNodes, fit, type FitShape } from './fit';

const G = 1024 ** 3;
const M = 1024 ** 2;

type NodeSpec = Omit<NodeRow, 'cordoned' | 'registeredAt' | 'agentVersion' | 'dockerVersion' | 'agentAddress' | 'busyPorts'> & { cordoned?: boolean; busyPorts?: number[] };

function node(name: string, over: Partial<NodeSpec> = {}): NodeSpec {
  return {
    name,
    host: '127.0.0.1',
    labels: {},
    cpuMillis: 4000,
    memoryBytes: 8 * G,
    portMin: 3301,
    portMax: 3399,
    lastHeartbeatMs: Date.now(),
    disks: [{ path: '/data1', totalBytes: 200 * G, freeBytes: 200 * G }],
    ...over,
  };
}

// The real create path (store transaction, scheduler, reservation, snapshot) with the engine
// stubbed out: each create reserves and nothing runs, so placement goes on until the scheduler
// refuses.
function fleet(specs: NodeSpec[], cfg: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG) {
  const store = new Store(Store.open(':memory:').db);
  for (const s of specs) {
    store.nodes.register({ agentAddress: `${s.name}:1`, agentVersion: '', dockerVersion: '', busyPorts: [], ...s });
    if (s.cordoned) store.nodes.setCordoned(s.name, true);
  }
  const snapshot = Snapshot.fromStore(store.nodes.all(), []);
  const fleetState = FleetState.of(store, snapshot);
  const { engine } = fleetEngine(fleetState, {}, { scheduler: cfg });
  // Placed and reserved as a create is; never built (its first step waits forever).
  engine.register({ ...createOperation({ fleet: fleetState, agents: {} as AgentPool, scheduler: cfg, defaultImage: 'x', adminUser: 'admin', agentCreateDeadlineMs: 1 }), steps: [{ name: 'hold', run: () => new Promise<never>(() => undefined) }] });
  const ops = { create: (r: NewInstance) => createInstance(engine, fleetState, r) };
  let n = 0;
  const placeUntilRefused = async (shape: FitShape) => {
    const perNode: Record<string, number> = {};
    for (;;) {
      try {
        const { instance } = await ops.create({ name: `db${++n}`, shape });
        perNode[instance.node] = (perNode[instance.node] ?? 0) + 1;
      } catch (err) {
        // Only the scheduler's refusal ends the loop: any other error is a bug, not a full fleet.
        expect(err).toBeInstanceOf(BerthError);
        expect(status[(err as BerthError).code]).toBe('RESOURCE_EXHAUSTED');
        return { perNode, count: Object.values(perNode).reduce((a, b) => a + b, 0), error: (err as Error).message };
      }
    }
  };
  return { store, snapshot, placeUntilRefused, cfg };
}

describe('fit agrees with placing for real until the first rejection', () => {
  const cases: { name: string; nodes: NodeSpec[]; shape: FitShape; count: number; limitedBy: string; cfg?: SchedulerConfig }[] = [
    { name: 'memory runs out', nodes: [node('a'), node('b', { memoryBytes: 16 * G, cpuMillis: 8000 })], shape: { cpuMillis: 500, memoryBytes: 2 * G, diskBytes: 10 * G }, count: 12, limitedBy: 'memory' },
    { name: 'cpu runs out', nodes: [node('a'), node('b')], shape: { cpuMillis: 1500, memoryBytes: 512 * M, diskBytes: 1 * G }, count: 4, limitedBy: 'cpu' },
    {
      name: 'cpu overcommit doubles it',
      nodes: [node('a'), node('b')],
      shape: { cpuMillis: 1500, memoryBytes: 512 * M, diskBytes: 1 * G },
      count: 10,
      limitedBy: 'cpu',
      cfg: { ...DEFAULT_SCHEDULER_CONFIG, cpuOvercommit: 2 },
    },
    {
      name: 'disk runs out, two disks of different size',
      nodes: [
        node('a', {
          disks: [
            { path: '/data1', totalBytes: 100 * G, freeBytes: 100 * G },
            { path: '/data2', totalBytes: 50 * G, freeBytes: 30 * G },
          ],
        }),
      ],
      shape: { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: 20 * G },
      // 5 on /data1 and 2 on /data2: a reservation does not change what the filesystem has
      // free, so /data2's 30G real free space admits a second 20G while 30G stay unreserved.
      count: 7,
      limitedBy: 'disk',
    },
    { name: 'ports run out', nodes: [node('a', { portMin: 3301, portMax: 3303, busyPorts: [3302] })], shape: { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: 1 * G }, count: 2, limitedBy: 'ports' },
    {
      name: 'cordoned and down nodes take nothing',
      nodes: [node('a'), node('c', { cordoned: true }), node('d', { lastHeartbeatMs: Date.now() - 60_000 })],
      shape: { cpuMillis: 1000, memoryBytes: 1 * G, diskBytes: 1 * G },
      count: 4,
      limitedBy: 'cpu',
    },
    { name: 'nothing usable', nodes: [node('c', { cordoned: true })], shape: { cpuMillis: 1000, memoryBytes: 1 * G, diskBytes: 1 * G }, count: 0, limitedBy: 'nodes' },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const f = fleet(c.nodes, c.cfg);
      const before = JSON.stringify([...f.snapshot.nodes()].map((n) => ({ ...n, usedPorts: [...n.usedPorts] })));
      const predicted = fit(f.snapshot.nodes(), c.shape, { now: Date.now(), config: f.cfg });
      // fit works on a copy: the live snapshot is untouched.
      expect(JSON.stringify([...f.snapshot.nodes()].map((n) => ({ ...n, usedPorts: [...n.usedPorts] })))).toBe(before);
      const real = await f.placeUntilRefused(c.shape);
      expect(predicted.count).toBe(c.count);
      expect(real.count).toBe(predicted.count);
      expect(real.perNode).toEqual(predicted.perNode);
      expect(predicted.limitedBy).toBe(c.limitedBy);
      // The same reasons as the real refusal.
      for (const [reason, n] of Object.entries(predicted.reasons)) expect(real.error).toContain(`${n} ${reason}`);
      expect(real.error).toMatch(new RegExp(`^0/${c.nodes.length} nodes can take it`));
    });
  }

  it('a zone restricts the nodes used', () => {
    const f = fleet([node('a', { labels: { zone: 'a' } }), node('b', { labels: { zone: 'b' }, memoryBytes: 4 * G })]);
    const r = fit(f.snapshot.nodes(), { cpuMillis: 100, memoryBytes: 1 * G, diskBytes: 1 * G, zone: 'b' }, { now: Date.now(), config: f.cfg });
    expect(r).toMatchObject({ count: 4, perNode: { b: 4 }, limitedBy: 'memory' });
  });

  it('stops at the limit on a huge fleet and says so', () => {
    const f = fleet([node('a', { cpuMillis: 256_000, memoryBytes: 1024 * G, portMin: 1000, portMax: 60000 })]);
    const r = fit(f.snapshot.nodes(), { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: 64 * M }, { now: Date.now(), config: f.cfg }, 50);
    expect(r).toMatchObject({ count: 50, truncated: true, limitedBy: 'limit' });
  });

  it('stops when placements × nodes pass the work budget', () => {
    const f = fleet(Array.from({ length: 20 }, (_, i) => node(`n${i}`)));
    const r = fit(f.snapshot.nodes(), { cpuMillis: 100, memoryBytes: 256 * M, diskBytes: 64 * M }, { now: Date.now(), config: f.cfg }, 10_000, 200);
    expect(r).toMatchObject({ count: 10, truncated: true, limitedBy: 'limit' });
  });

  it('cloneNodes copies deeply', () => {
    const f = fleet([node('a')]);
    const [c] = cloneNodes(f.snapshot.nodes());
    c!.disks[0]!.allocatedBytes = 1;
    c!.usedPorts.add(1);
    c!.allocated.cpuMillis = 5;
    const orig = f.snapshot.get('a')!;
    expect([orig.disks[0]!.allocatedBytes, orig.usedPorts.has(1), orig.allocated.cpuMillis]).toEqual([0, false, 0]);
  });
});


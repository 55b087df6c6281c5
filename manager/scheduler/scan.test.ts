import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InstanceRow } from '../store/instances';
import type { NodeRow } from '../store/nodes';
import { parseConstraints, parseSpreadOver } from './constraints';
import { DEFAULT_FILTERS, FILTERS } from './filters/index';
import { FleetIndex } from './fleet-index';
import { occupiedDomains, schedule } from './schedule';
import { Snapshot } from './snapshot';
import { findStrategy, STRATEGIES } from './strategies/index';
import { DEFAULT_SCHEDULER_CONFIG, type FilterContext, type PlacementRequest, type SchedulerConfig } from './types';

const G = 1024 ** 3;
const NOW = 10_000_000;

const nodeArb = fc.record({
  zone: fc.constantFrom('a', 'b', 'c', undefined),
  rack: fc.constantFrom('r0', 'r1', 'r2', undefined),
  // Few distinct values, so that equal scores (ties) and requests exactly at a limit are common.
  cpuMillis: fc.constantFrom(1000, 2000, 4000, 8000),
  memoryGiB: fc.constantFrom(2, 4, 8, 16),
  disks: fc.array(fc.record({ totalGiB: fc.constantFrom(10, 20, 40, 100), freePct: fc.constantFrom(0, 25, 50, 100) }), { minLength: 1, maxLength: 3 }),
  ports: fc.integer({ min: 1, max: 6 }),
  busy: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
  cordoned: fc.boolean(),
  stale: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const requestArb = fc.record({
  cpuMillis: fc.constantFrom(250, 500, 1000, 2000),
  memoryGiB: fc.constantFrom(1, 2, 4),
  diskGiB: fc.constantFrom(5, 10, 20, 40),
  pin: fc.integer({ min: -8, max: 30 }),
  constraints: fc.subarray(['zone=a', '~zone=b', 'rack!=r1', 'zone in (a,b)', '~rack notin (r0)', 'rack=r2', 'zone notin (c)'], { maxLength: 3 }),
  group: fc.constantFrom('', 'g1', 'g2', 'g3'),
  spreadOver: fc.constantFrom('', 'zone', '~zone', 'rack', '~rack'),
  strategy: fc.constantFrom('spread', 'binpack', 'weighted'),
});

const configArb = fc.record({
  cpuOvercommit: fc.constantFrom(1, 1.5, 2, 3),
  memoryOvercommit: fc.constantFrom(1, 1, 2),
  maxInstancesPerNode: fc.constantFrom(0, 0, 2, 4),
  weights: fc.record({ cpu: fc.integer({ min: -3, max: 3 }), memory: fc.integer({ min: -3, max: 3 }), disk: fc.integer({ min: -3, max: 3 }) }),
});

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;
type NodeSpec = ValueOf<typeof nodeArb>;

function nodeRow(i: number, n: NodeSpec): NodeRow {
  const labels: Record<string, string> = {};
  if (n.zone) labels.zone = n.zone;
  if (n.rack) labels.rack = n.rack;
  return {
    name: `n${i}`,
    agentAddress: '127.0.0.1:1',
    host: `127.0.0.${i + 1}`,
    labels,
    cpuMillis: n.cpuMillis,
    memoryBytes: n.memoryGiB * G,
    portMin: 3301,
    portMax: 3300 + n.ports,
    busyPorts: n.busy.map((b) => 3301 + b),
    cordoned: n.cordoned,
    agentVersion: '',
    dockerVersion: '',
    registeredAt: '',
    lastHeartbeatMs: n.stale ? NOW - 60_000 : NOW - 1000,
    disks: n.disks.map((d, j) => ({ path: `/d${j}`, totalBytes: d.totalGiB * G, freeBytes: Math.floor((d.totalGiB * G * d.freePct) / 100) })),
  };
}

function toRequest(r: ValueOf<typeof requestArb>, nodes: number): PlacementRequest {
  const spreadOver = r.group ? parseSpreadOver(r.spreadOver) : undefined;
  return {
    cpuMillis: r.cpuMillis,
    memoryBytes: r.memoryGiB * G,
    diskBytes: r.diskGiB * G,
    // Mostly unpinned; sometimes a node that exists, sometimes one that does not.
    node: r.pin < 0 ? undefined : r.pin < nodes + 2 ? `n${r.pin}` : undefined,
    constraints: r.constraints.length ? parseConstraints(r.constraints) : undefined,
    antiAffinityGroup: r.group || undefined,
    spreadOver,
  };
}

let seq = 0;
function placed(res: { node: string; diskPath: string; port: number }, req: PlacementRequest): InstanceRow {
  const id = `i${seq++}`;
  return {
    id, name: id, serverId: seq, node: res.node, diskPath: res.diskPath, port: res.port,
    cpuMillis: req.cpuMillis, memoryBytes: req.memoryBytes, diskBytes: req.diskBytes,
    image: '', state: 'running', flavor: '', version: '', containerId: '', adminUser: '', adminPassword: '', message: '',
    cluster: req.antiAffinityGroup ?? '', antiAffinityGroup: req.antiAffinityGroup ?? '', clusterName: '', clusterRole: '', fenced: false, createdAt: '', updatedAt: '',
  };
}

describe('struct-of-arrays scan', () => {
  it('picks exactly what the reference schedule() picks, through placements, releases, heartbeats and cordons', () => {
    fc.assert(
      fc.property(
        fc.array(nodeArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.tuple(requestArb, fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 40 }),
        configArb,
        (specs, steps, cfg) => {
          const rows = specs.map((n, i) => nodeRow(i, n));
          const snapshot = Snapshot.fromStore(rows, []);
          const config: SchedulerConfig = { ...DEFAULT_SCHEDULER_CONFIG, ...cfg };
          if (!config.weights.cpu && !config.weights.memory && !config.weights.disk) config.weights = { cpu: 1, memory: 1, disk: 1 };
          const live: InstanceRow[] = [];
          for (const [r, action] of steps) {
            const req = toRequest(r, rows.length);
            const ctx: FilterContext = { now: NOW, config };
            const strategy = findStrategy(r.strategy)!;
            const fast = snapshot.schedule(req, ctx, { strategy });
            const reference = schedule(snapshot.nodes(), req, ctx, { strategy });
            expect(fast).toEqual(reference);
            if (fast.ok) {
              const row = placed(fast.placement, req);
              snapshot.addInstance(row);
              live.push(row);
            }
            // Now and then the fleet changes under the scheduler as it does in the manager.
            const victim = rows[action % rows.length]!;
            if (action === 1 && live.length) snapshot.removeInstance(live.shift()!);
            if (action === 2) snapshot.setCordoned(victim.name, !snapshot.get(victim.name)!.cordoned);
            if (action === 3) snapshot.heartbeat(victim.name, NOW, victim.disks.map((d) => ({ ...d, freeBytes: Math.floor(d.freeBytes / 2) })), [3301]);
            if (action === 4) snapshot.upsertNode({ ...victim, labels: { zone: 'b' }, lastHeartbeatMs: NOW });
          }
        },
      ),
      { numRuns: 300, seed: 20261127 },
    );
  });

  it('answers a refused request with the reference reasons, word for word', () => {
    const rows = [nodeRow(0, { zone: 'a', rack: 'r0', cpuMillis: 1000, memoryGiB: 2, disks: [{ totalGiB: 10, freePct: 100 }], ports: 1, busy: [], cordoned: false, stale: false })];
    const snapshot = Snapshot.fromStore(rows, []);
    const ctx: FilterContext = { now: NOW, config: DEFAULT_SCHEDULER_CONFIG };
    const req = { cpuMillis: 500, memoryBytes: 4 * G, diskBytes: G };
    const r = snapshot.schedule(req, ctx);
    expect(r).toEqual({ ok: false, total: 1, reasons: new Map([['insufficient memory', 1]]) });
  });
});

// Each filter and strategy defines its rule twice, side by side: per node and over the columns.
// Every one registered is checked here, so a new filter or strategy is covered without a line
// of this test changing (and one whose columnar form differs fails before the oracle above).
describe('columnar forms against per-node forms', () => {
  // A fleet with members placed (groups, counts, reservations, used ports), a request, a config
  // and a random starting pass mask (columns() only ever clears).
  const caseArb = fc.record({
    specs: fc.array(nodeArb, { minLength: 1, maxLength: 20 }),
    fill: fc.array(requestArb, { maxLength: 25 }),
    request: requestArb,
    cfg: configArb,
    mask: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
  });

  function build(c: ValueOf<typeof caseArb>) {
    const rows = c.specs.map((n, i) => nodeRow(i, n));
    const snapshot = Snapshot.fromStore(rows, []);
    const config: SchedulerConfig = { ...DEFAULT_SCHEDULER_CONFIG, ...c.cfg };
    for (const r of c.fill) {
      const req = toRequest({ ...r, pin: -1 }, rows.length);
      const res = schedule(snapshot.nodes(), req, { now: NOW, config }, { strategy: findStrategy(r.strategy)! });
      if (res.ok) snapshot.addInstance(placed(res.placement, req));
    }
    const ix = new FleetIndex();
    for (const n of snapshot.nodes()) ix.upsert(n);
    const req = toRequest(c.request, rows.length);
    const init = Uint8Array.from(rows, (_, i) => (c.mask[i] ? 1 : 0));
    return { nodes: snapshot.nodes(), ix, req, config, init };
  }

  it('registers every filter it defines', () => {
    expect(Object.keys(FILTERS).sort()).toEqual(DEFAULT_FILTERS.map((f) => f.name).sort());
  });

  it.each(DEFAULT_FILTERS.map((f) => [f.name, f] as const))('filter %s: columns() refuses exactly the nodes filter() refuses', (_name, f) => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c, relaxSoft) => {
        const { nodes, ix, req, config, init } = build(c);
        // What schedule.ts hands the per-node forms.
        const domains = req.antiAffinityGroup && req.spreadOver ? occupiedDomains(nodes, req.antiAffinityGroup, req.spreadOver.key) : undefined;
        const ctx: FilterContext = { now: NOW, config, occupiedDomains: domains, relaxSoft };
        const pass = init.slice();
        f.columns(ix, req, { now: NOW, config, occupiedDomains: undefined, relaxSoft }, pass);
        expect([...pass]).toEqual(nodes.map((n, i) => (init[i] && f.filter(n, req, ctx) === undefined ? 1 : 0)));
      }),
      { numRuns: 150, seed: 20261207 },
    );
  });

  it.each(Object.values(STRATEGIES).map((s) => [s.name, s] as const))('strategy %s: scores() equals score() to the bit', (_name, s) => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { nodes, ix, req, config, init } = build(c);
        const scores = new Float64Array(nodes.length).fill(-1);
        s.scores(ix, req, config, init, scores);
        nodes.forEach((n, i) => expect(Object.is(scores[i], init[i] ? s.score(n, req, config) : -1)).toBe(true));
      }),
      { numRuns: 150, seed: 20261207 },
    );
  });
});

// npm run bench:scheduler — how fast and how well the scheduler places instances.
//
// Throughput: choose + reserve through Engine.submit('create'), the code path of every create:
// schedule() over the in-memory snapshot and the instance, operation and event rows written in
// one better-sqlite3 transaction, committed to a SQLite file on disk (WAL) before the next
// placement starts. Measured with synchronous=FULL (what the manager runs) and NORMAL, next to
// two baselines: the same transaction without scheduling (the store's floor) and schedule()
// alone (the scheduler's share).
//
// Quality: a fleet of mixed host sizes filled with a mix of shapes until the first rejection,
// per strategy, against the upper bound min over resources of capacity / mean demand.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../src/log';
import { AgentPool } from '../manager/agents/pool';
import { Engine } from '../manager/operations/engine';
import { createOperation } from '../manager/operations/create';
import { FleetState } from '../manager/state/fleet';
import { schedule } from '../manager/scheduler/schedule';
import { Snapshot } from '../manager/scheduler/snapshot';
import { findStrategy } from '../manager/scheduler/strategies/index';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from '../manager/scheduler/types';
import { Store } from '../manager/store/index';
import type { NodeRow } from '../manager/store/nodes';
import { placements, startSim } from './sim';

const G = 1024 ** 3;
const T = 1024 ** 4;
const NODE_COUNTS = (process.env.BENCH_NODES ?? '100,1000,5000,10000').split(',').map(Number);
const PLACEMENTS = Number(process.env.BENCH_PLACEMENTS ?? 3000);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,16,64').split(',').map(Number);
const OUT_DIR = path.resolve(__dirname, '..', '..', 'bench-results');
const log = createLogger('bench', 'silent');

// A deterministic generator, so every strategy sees the same fleet and the same requests.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface HostType {
  cpuMillis: number;
  memoryBytes: number;
  disks: number[];
}

function nodeRow(i: number, h: HostType, now: number): Omit<NodeRow, 'cordoned' | 'registeredAt'> {
  return {
    name: `n${String(i).padStart(5, '0')}`,
    agentAddress: `10.0.${i >> 8}.${i & 255}:7401`,
    host: `10.0.${i >> 8}.${i & 255}`,
    labels: { zone: `z${i % 3}`, rack: `r${i % 40}` },
    cpuMillis: h.cpuMillis,
    memoryBytes: h.memoryBytes,
    portMin: 3301,
    portMax: 3399,
    busyPorts: [],
    agentVersion: 'bench',
    dockerVersion: 'bench',
    lastHeartbeatMs: now,
    disks: h.disks.map((b, d) => ({ path: `/data${d + 1}`, totalBytes: b, freeBytes: b })),
  };
}

function fleet(file: string, hosts: HostType[], config: SchedulerConfig, synchronous: 'FULL' | 'NORMAL') {
  const store = Store.open(file);
  store.db.pragma(`synchronous = ${synchronous}`);
  const now = Date.now();
  store.tx(() => hosts.forEach((h, i) => store.nodes.register(nodeRow(i, h, now))));
  const snapshot = Snapshot.fromStore(store.nodes.all(), []);
  const fleetState = FleetState.of(store, snapshot);
  const engine = new Engine(fleetState, log);
  // Never dialled: the create's steps are replaced by one that waits forever, so each create is
  // admitted, recorded and started (its first step's start written) but never built.
  const agents = new AgentPool(store.nodes);
  const create = createOperation({ fleet: fleetState, agents, scheduler: config, defaultImage: 'bench', adminUser: 'admin', agentCreateDeadlineMs: 1 });
  engine.register({ ...create, steps: [{ name: 'hold', run: () => new Promise<never>(() => undefined) }] });
  const ops = { reserve: (r: { name: string; shape: { cpuMillis: number; memoryBytes: number; diskBytes: number } }) => engine.submit('create', r) };
  return { store, snapshot, ops };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

interface Row {
  nodes: number;
  clients: number;
  strategy: string;
  synchronous: string;
  placements: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  // Baselines, per placement: choosing alone on the same snapshot (the scan, and the reference
  // schedule() it must agree with), and the same transaction with a precomputed placement.
  scheduleOnlyP50Ms: number;
  referenceP50Ms: number;
  storeOnlyPerSecond: number;
  storeOnlyP50Ms: number;
  cpuMsPerPlacement: number;
}

async function throughput(nodes: number, strategy: string, synchronous: 'FULL' | 'NORMAL', clients: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(OUT_DIR, 'tmp-'));
  try {
    const host: HostType = { cpuMillis: 32_000, memoryBytes: 128 * G, disks: [2 * T, 2 * T] };
    // The fleet never heartbeats here: liveness is not what is measured.
    const config = { ...DEFAULT_SCHEDULER_CONFIG, strategy, nodeTimeoutMs: 3_600_000 };
    const { store, snapshot, ops } = fleet(path.join(dir, 'berth.db'), Array.from({ length: nodes }, () => host), config, synchronous);
    const shape = { cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 20 * G };
    const count = Math.min(PLACEMENTS, nodes * 16);

    // Warm up the JIT and SQLite's page cache, then forget it.
    for (let i = 0; i < 200; i++) await ops.reserve({ name: `warm-${i}`, shape });

    // `clients` callers, each waiting for its reservation to be durable before asking again:
    // with more than one, the group writer commits what arrived together with one fsync.
    const lat = new Float64Array(count);
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = next++; i < count; i = next++) {
          const s = process.hrtime.bigint();
          await ops.reserve({ name: `b-${i}`, shape });
          lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
        }
      }),
    );
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const sorted = [...lat].sort((a, b) => a - b);

    // Choosing alone, on the fleet as the run left it: the struct-of-arrays scan the manager
    // runs, and the reference schedule() over the node objects (the readable definition).
    const strat = findStrategy(strategy)!;
    const timeIt = (fn: () => unknown) => {
      const lat = new Float64Array(1000);
      for (let i = 0; i < lat.length; i++) {
        const s = process.hrtime.bigint();
        fn();
        lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
      }
      return [...lat].sort((a, b) => a - b);
    };
    const scanLat = timeIt(() => snapshot.schedule(shape, { now: Date.now(), config }, { strategy: strat }));
    const refLat = timeIt(() => schedule(snapshot.nodes(), shape, { now: Date.now(), config }, { strategy: strat }));

    // The store's floor: the same rows in the same transaction, placement given.
    const storeLat = new Float64Array(Math.min(count, 2000));
    const node = snapshot.nodes()[0]!;
    const ts = process.hrtime.bigint();
    for (let i = 0; i < storeLat.length; i++) {
      const s = process.hrtime.bigint();
      store.tx(() => {
        const id = `i-s${i}-${randomBytes(4).toString('hex')}`;
        store.instances.insert({
          id, name: `s-${i}`, serverId: store.instances.nextServerId(), node: node.name, diskPath: '/data1', port: 10_000 + i,
          cpuMillis: 0, memoryBytes: 0, diskBytes: 0, image: 'bench', state: 'pending', adminUser: 'admin', adminPassword: 'x', cluster: '',
        });
        const op = `op-s${i}-${randomBytes(4).toString('hex')}`;
        store.operations.insert(op, 'create', id, ['reserve', 'create-container', 'verify-running'], 1);
        store.events.add('create.started', id, `s-${i} placed`);
      });
      storeLat[i] = Number(process.hrtime.bigint() - s) / 1e6;
    }
    const storeElapsed = Number(process.hrtime.bigint() - ts) / 1e9;
    store.close();
    return {
      nodes,
      strategy,
      synchronous,
      clients,
      placements: count,
      perSecond: Math.round(count / elapsed),
      p50Ms: round(quantile(sorted, 0.5), 3),
      p99Ms: round(quantile(sorted, 0.99), 3),
      scheduleOnlyP50Ms: round(quantile(scanLat, 0.5), 4),
      referenceP50Ms: round(quantile(refLat, 0.5), 4),
      storeOnlyPerSecond: Math.round(storeLat.length / storeElapsed),
      storeOnlyP50Ms: round(quantile([...storeLat].sort((a, b) => a - b), 0.5), 3),
      cpuMsPerPlacement: round((cpu.user + cpu.system) / 1000 / count, 3),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The mix from the issue: 70% 1 CPU/2G/20G, 25% 4/16G/200G, 5% 16/64G/1T.
const MIX = [
  { p: 0.7, cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 20 * G },
  { p: 0.25, cpuMillis: 4000, memoryBytes: 16 * G, diskBytes: 200 * G },
  { p: 0.05, cpuMillis: 16_000, memoryBytes: 64 * G, diskBytes: 1 * T },
];
// Mixed host sizes: small, medium and large, with their data disks.
const HOST_TYPES: { p: number; h: HostType }[] = [
  { p: 0.4, h: { cpuMillis: 16_000, memoryBytes: 64 * G, disks: [2 * T] } },
  { p: 0.4, h: { cpuMillis: 32_000, memoryBytes: 128 * G, disks: [2 * T, 2 * T] } },
  { p: 0.2, h: { cpuMillis: 64_000, memoryBytes: 256 * G, disks: [4 * T, 4 * T] } },
];

function pick<T extends { p: number }>(xs: T[], r: number): T {
  let acc = 0;
  for (const x of xs) if (r < (acc += x.p)) return x;
  return xs[xs.length - 1]!;
}

interface QualityRow {
  strategy: string;
  nodes: number;
  placed: number;
  upperBound: number;
  boundBy: string;
  ofBound: number;
  sequenceBound: number;
  ofSequenceBound: number;
  firstRejection: string;
  leftPct: { cpu: number; memory: number; disk: number };
}

async function quality(strategy: string, nodes: number): Promise<QualityRow> {
  const r = rng(42);
  const hosts = Array.from({ length: nodes }, () => pick(HOST_TYPES, r()).h);
  const { store, snapshot, ops } = fleet(':memory:', hosts, { ...DEFAULT_SCHEDULER_CONFIG, strategy, nodeTimeoutMs: 3_600_000 }, 'NORMAL');
  const total = { cpu: 0, memory: 0, disk: 0 };
  for (const h of hosts) {
    total.cpu += h.cpuMillis;
    total.memory += h.memoryBytes;
    total.disk += h.disks.reduce((a, b) => a + b, 0);
  }
  const mean = { cpu: 0, memory: 0, disk: 0 };
  for (const m of MIX) {
    mean.cpu += m.p * m.cpuMillis;
    mean.memory += m.p * m.memoryBytes;
    mean.disk += m.p * m.diskBytes;
  }
  const bounds = (['cpu', 'memory', 'disk'] as const).map((k) => [k, total[k] / mean[k]] as const).sort((a, b) => a[1] - b[1]);
  const req = rng(7);
  let placed = 0;
  let firstRejection = '';
  // The bound on the sequence actually drawn: how many of its first requests fit in the fleet's
  // total capacity if nothing were fragmented (a sample's mix is not exactly the mean).
  const seq = { cpu: 0, memory: 0, disk: 0 };
  let sequenceBound = -1;
  const shapes: (typeof MIX)[number][] = [];
  for (;;) {
    const s = pick(MIX, req());
    shapes.push(s);
    seq.cpu += s.cpuMillis;
    seq.memory += s.memoryBytes;
    seq.disk += s.diskBytes;
    if (seq.cpu > total.cpu || seq.memory > total.memory || seq.disk > total.disk) {
      sequenceBound = shapes.length - 1;
      break;
    }
  }
  for (const s of shapes) {
    const { p: _p, ...shape } = s;
    try {
      await ops.reserve({ name: `q-${placed}`, shape });
      placed++;
    } catch (err) {
      firstRejection = `${shape.cpuMillis / 1000} CPU/${shape.memoryBytes / G}G/${shape.diskBytes / G}G: ${(err as Error).message}`;
      break;
    }
  }
  if (!firstRejection) firstRejection = 'none before the sequence bound';
  const used = { cpu: 0, memory: 0, disk: 0 };
  for (const n of snapshot.nodes()) {
    used.cpu += n.allocated.cpuMillis;
    used.memory += n.allocated.memoryBytes;
    used.disk += n.disks.reduce((a, d) => a + d.allocatedBytes, 0);
  }
  store.close();
  const left = (k: keyof typeof total) => round((100 * (total[k] - used[k])) / total[k]);
  return {
    strategy,
    nodes,
    placed,
    upperBound: Math.floor(bounds[0]![1]),
    boundBy: bounds[0]![0],
    ofBound: round((100 * placed) / Math.floor(bounds[0]![1])),
    sequenceBound,
    ofSequenceBound: round((100 * placed) / sequenceBound),
    firstRejection,
    leftPct: { cpu: left('cpu'), memory: left('memory'), disk: left('disk') },
  };
}

function table(head: string[], rows: (string | number)[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => r.map((c, i) => String(c).padStart(w[i]!)).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  process.stdout.write(`berth scheduler benchmark: node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, SQLite file under ${OUT_DIR}\n\n`);

  const rows: Row[] = [];
  for (const synchronous of (process.env.BENCH_SYNC ?? 'FULL,NORMAL').split(',') as ('FULL' | 'NORMAL')[]) {
    for (const n of NODE_COUNTS) {
      for (const s of ['spread', 'binpack']) {
        for (const clients of CLIENTS) {
          const row = await throughput(n, s, synchronous, clients);
          rows.push(row);
          process.stderr.write(`  ${synchronous} ${n} nodes ${s} ${clients} clients: ${row.perSecond}/s\n`);
        }
      }
    }
  }
  process.stdout.write('Choose + reserve, committed to SQLite on disk (WAL) by the group writer, concurrent callers in one process, one thread\n');
  process.stdout.write(
    table(
      ['sync', 'nodes', 'strategy', 'clients', 'placements', 'placements/s', 'p50 ms', 'p99 ms', 'cpu ms/placement', 'scan p50 ms', 'reference p50 ms', 'store-only/s', 'store-only p50 ms'],
      rows.map((r) => [r.synchronous, r.nodes, r.strategy, r.clients, r.placements, r.perSecond, r.p50Ms, r.p99Ms, r.cpuMsPerPlacement, r.scheduleOnlyP50Ms, r.referenceP50Ms, r.storeOnlyPerSecond, r.storeOnlyP50Ms]),
    ) + '\n\n',
  );

  // The same placements through the real manager process over gRPC: CreateInstance answered
  // once the reservation is durable, the agents (simulated, bench/sim.ts) taking a real create's
  // time to build the instance, the manager's operations running meanwhile.
  type GrpcRow = Awaited<ReturnType<typeof placements>> & { nodes: number; clients: number; inProcessPerSecond: number; ratio: number };
  const grpcRows: GrpcRow[] = [];
  if (process.env.BENCH_GRPC !== '0') {
    for (const n of NODE_COUNTS) {
      for (const clients of CLIENTS) {
        const sim = await startSim({ agents: n, workers: 2, withInstances: false, heartbeatMs: 5000, agentCreateMs: 1500 });
        try {
          const count = Math.min(PLACEMENTS, n * 16);
          await placements(sim.portal, 'warm', sim.pid, clients, Math.min(200, count), sim.active);
          const r = await placements(sim.portal, 'g', sim.pid, clients, count, sim.active);
          // The baseline: the same placements in process (spread, FULL) earlier in this run.
          const base = rows.find((x) => x.nodes === n && x.clients === clients && x.strategy === 'spread' && x.synchronous === 'FULL')?.perSecond ?? NaN;
          grpcRows.push({ nodes: n, clients, ...r, inProcessPerSecond: base, ratio: round(r.perSecond / base, 2) });
          process.stderr.write(`  gRPC ${n} nodes ${clients} clients: ${r.perSecond}/s p99 ${r.p99Ms} ms, ${r.cpuMsPerCreate} cpu ms/create\n`);
        } finally {
          await sim.stop();
        }
      }
    }
    process.stdout.write('CreateInstance over gRPC to the manager process (FULL), answered when the reservation is durable; spread\n');
    process.stdout.write(
      table(
        ['nodes', 'clients', 'placed', 'failed', 'placements/s', 'in-process/s', 'ratio', 'p50 ms', 'p99 ms', 'manager cpu %', 'client cpu %', 'load', 'cpu ms/placement', 'cpu ms/create', 'all built after s'],
        grpcRows.map((r) => [r.nodes, r.clients, r.placed, r.failed, r.perSecond, r.inProcessPerSecond, r.ratio, r.p50Ms, r.p99Ms, r.managerCpuPct, r.clientCpuPct, r.loadAvg, r.cpuMsPerPlacement, r.cpuMsPerCreate, r.drainedSecs]),
      ) + '\n',
    );
    process.stdout.write('  ratio: placements/s over gRPC / in process (spread, FULL, same nodes and clients, this run); cpu ms/placement: manager CPU while placing;\n');
    process.stdout.write('  cpu ms/create: manager CPU from the first create until every create operation ended (agent calls and bookkeeping included)\n\n');
  }

  const q: QualityRow[] = [];
  for (const s of ['spread', 'binpack', 'weighted']) q.push(await quality(s, 500));
  process.stdout.write('Placement quality: 500 mixed hosts, 70% 1/2G/20G, 25% 4/16G/200G, 5% 16/64G/1T, filled until the first rejection\n');
  process.stdout.write(
    table(
      ['strategy', 'placed', 'mean-mix bound', 'bound by', '% of it', 'sequence bound', '% of it', 'cpu left %', 'memory left %', 'disk left %'],
      q.map((r) => [r.strategy, r.placed, r.upperBound, r.boundBy, r.ofBound, r.sequenceBound, r.ofSequenceBound, r.leftPct.cpu, r.leftPct.memory, r.leftPct.disk]),
    ) + '\n',
  );
  process.stdout.write('  mean-mix bound: min over resources of capacity / mean demand of the mix; sequence bound: the same for the requests actually drawn\n');
  for (const r of q) process.stdout.write(`  ${r.strategy} first rejection: ${r.firstRejection}\n`);

  const out = path.join(OUT_DIR, 'scheduler.json');
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, throughput: rows, grpc: grpcRows, quality: q }, null, 2));
  process.stdout.write(`\nwritten to ${out}\n`);
}

void main();

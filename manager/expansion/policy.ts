import type { Shape } from '../../src/validate';

// Automatic expansion, MOCO style: the expander gathers what the agents measured, these pure
// functions decide, the expander acts (through the same resize the API uses). No I/O here.

export type AutoExpandMode = 'off' | 'plan' | 'on';

export interface PolicyConfig {
  mode: AutoExpandMode;
  // Data above this share of the disk reservation grows the reservation by growBy of itself.
  diskHighPct: number;
  diskGrowBy: number;
  // Memory use above this share of the limit for memorySustainMs moves to the next step.
  memoryHighPct: number;
  memorySustainMs: number;
  // Memory steps: the next one is the smallest above the current limit (doubling past the list).
  memorySteps: number[];
  maxMemoryBytes: number;
  // No second action on an instance within this long of the last.
  cooldownMs: number;
  // Migrations (automatic ones plus any running) at once, per source node and fleet-wide.
  maxMigrationsPerNode: number;
  maxMigrationsFleet: number;
  // A data disk with less real free space than this share is under pressure.
  diskPressureFreePct: number;
  // Usage older than this is not acted on.
  staleMs: number;
}

const M = 1024 ** 2;
const G = 1024 ** 3;

export const DEFAULT_POLICY: PolicyConfig = {
  mode: 'off',
  diskHighPct: 80,
  diskGrowBy: 0.5,
  memoryHighPct: 90,
  memorySustainMs: 5 * 60_000,
  memorySteps: [512 * M, 1 * G, 2 * G, 4 * G, 8 * G, 16 * G, 32 * G, 64 * G],
  maxMemoryBytes: 512 * G,
  cooldownMs: 15 * 60_000,
  maxMigrationsPerNode: 1,
  maxMigrationsFleet: 2,
  diskPressureFreePct: 10,
  staleMs: 120_000,
};

export interface InstanceView extends Shape {
  id: string;
  name: string;
  node: string;
  diskPath: string;
  state: string;
  usedDiskBytes: number;
  usedMemoryBytes: number;
  measuredAtMs: number;
}

export interface Proposal {
  instanceId: string;
  name: string;
  node: string;
  trigger: 'disk' | 'memory' | 'disk-pressure';
  change: Partial<Shape>;
  // migrate: move it off a node under disk pressure; auto: in place first, else migrate.
  mode: 'auto' | 'migrate';
  reason: string;
}

// The memory high-water mark has held since this time (per instance); kept by the expander.
export type HighSince = ReadonlyMap<string, number>;

const ROUND = 64 * M;
const roundUp = (n: number) => Math.ceil(n / ROUND) * ROUND;

export function nextMemoryStep(cur: number, cfg: Pick<PolicyConfig, 'memorySteps' | 'maxMemoryBytes'>): number | undefined {
  const next = cfg.memorySteps.find((s) => s > cur) ?? cur * 2;
  return next > cfg.maxMemoryBytes ? undefined : next;
}

export function diskProposal(i: InstanceView, cfg: PolicyConfig): Proposal | undefined {
  const pct = (100 * i.usedDiskBytes) / i.diskBytes;
  if (pct <= cfg.diskHighPct) return undefined;
  const to = roundUp(i.diskBytes * (1 + cfg.diskGrowBy));
  return { instanceId: i.id, name: i.name, node: i.node, trigger: 'disk', mode: 'auto', change: { diskBytes: to }, reason: `data ${i.usedDiskBytes} bytes is ${pct.toFixed(0)}% of the ${i.diskBytes}-byte reservation (over ${cfg.diskHighPct}%): grow it to ${to}` };
}

// Memory above the mark now; whether it has held long enough is memoryProposal's question.
export const memoryHigh = (i: InstanceView, cfg: PolicyConfig) => (100 * i.usedMemoryBytes) / i.memoryBytes > cfg.memoryHighPct;

export function memoryProposal(i: InstanceView, highSince: number | undefined, now: number, cfg: PolicyConfig): Proposal | undefined {
  if (!memoryHigh(i, cfg) || highSince === undefined || now - highSince < cfg.memorySustainMs) return undefined;
  const to = nextMemoryStep(i.memoryBytes, cfg);
  if (!to) return undefined;
  const pct = ((100 * i.usedMemoryBytes) / i.memoryBytes).toFixed(0);
  return { instanceId: i.id, name: i.name, node: i.node, trigger: 'memory', mode: 'auto', change: { memoryBytes: to }, reason: `memory at ${pct}% of its limit for ${Math.round((now - highSince) / 1000)} s (over ${cfg.memoryHighPct}%): next step ${to}` };
}

// What each instance needs, ignoring cooldowns and caps (applyLimits' job). Disk first: a
// full disk stops mysqld, too little memory only slows it.
export function propose(instances: readonly InstanceView[], highSince: HighSince, now: number, cfg: PolicyConfig): Proposal[] {
  const out: Proposal[] = [];
  for (const i of instances) {
    if (i.state !== 'running' || !i.measuredAtMs || now - i.measuredAtMs > cfg.staleMs) continue;
    const p = diskProposal(i, cfg) ?? memoryProposal(i, highSince.get(i.id), now, cfg);
    if (p) out.push(p);
  }
  return out;
}

export interface DiskView {
  node: string;
  path: string;
  totalBytes: number;
  freeBytes: number;
}

// Bytes per second an instance's data grew over the expander's recent samples.
export type GrowthRates = ReadonlyMap<string, number>;

// Disks whose real free space fell below the threshold: move instances off them, fastest
// growing first, until what they would free lifts the disk above it.
export function diskPressure(disks: readonly DiskView[], instances: readonly InstanceView[], growth: GrowthRates, cfg: PolicyConfig): Proposal[] {
  const out: Proposal[] = [];
  for (const d of disks) {
    const want = (d.totalBytes * cfg.diskPressureFreePct) / 100;
    if (d.totalBytes === 0 || d.freeBytes >= want) continue;
    const on = instances.filter((i) => i.node === d.node && i.diskPath === d.path && i.state === 'running');
    on.sort((a, b) => (growth.get(b.id) ?? 0) - (growth.get(a.id) ?? 0) || b.usedDiskBytes - a.usedDiskBytes);
    let free = d.freeBytes;
    for (const i of on) {
      if (free >= want) break;
      free += i.usedDiskBytes;
      const rate = growth.get(i.id) ?? 0;
      out.push({ instanceId: i.id, name: i.name, node: i.node, trigger: 'disk-pressure', mode: 'migrate', change: {}, reason: `disk ${d.path} on ${d.node} has ${d.freeBytes} of ${d.totalBytes} bytes free (under ${cfg.diskPressureFreePct}%): move ${i.name} (growing ${Math.round(rate)} B/s) off it` });
    }
  }
  return out;
}

export interface Limits {
  now: number;
  // When each instance was last acted on (automatic or not).
  lastActionAt: ReadonlyMap<string, number>;
  // Instances with an operation running now (skipped: it is already being changed).
  busy: ReadonlySet<string>;
  // Migrations running now, per source node, and in all.
  migratingPerNode: ReadonlyMap<string, number>;
  migratingFleet: number;
  // Whether this proposal would be carried out in place (auto mode, the node has room).
  wouldMigrate: (p: Proposal) => boolean;
}

export type Verdict = { proposal: Proposal; act: true; migrate: boolean } | { proposal: Proposal; act: false; skipped: string };

// Cooldown per instance and caps on migrations per node and fleet, counted as the verdicts
// are handed out so one round never goes past them.
export function applyLimits(proposals: readonly Proposal[], l: Limits, cfg: PolicyConfig): Verdict[] {
  const perNode = new Map(l.migratingPerNode);
  let fleet = l.migratingFleet;
  const seen = new Set<string>();
  return proposals.map((p): Verdict => {
    if (seen.has(p.instanceId)) return { proposal: p, act: false, skipped: 'already decided this round' };
    seen.add(p.instanceId);
    if (l.busy.has(p.instanceId)) return { proposal: p, act: false, skipped: 'an operation is running on it' };
    const last = l.lastActionAt.get(p.instanceId);
    if (last !== undefined && l.now - last < cfg.cooldownMs) return { proposal: p, act: false, skipped: `cooldown: last change ${Math.round((l.now - last) / 1000)} s ago (${cfg.cooldownMs / 1000} s)` };
    const migrate = p.mode === 'migrate' || l.wouldMigrate(p);
    if (migrate) {
      const n = perNode.get(p.node) ?? 0;
      if (n >= cfg.maxMigrationsPerNode) return { proposal: p, act: false, skipped: `${n} migrations already running off ${p.node} (cap ${cfg.maxMigrationsPerNode})` };
      if (fleet >= cfg.maxMigrationsFleet) return { proposal: p, act: false, skipped: `${fleet} migrations already running in the fleet (cap ${cfg.maxMigrationsFleet})` };
      perNode.set(p.node, n + 1);
      fleet++;
    }
    return { proposal: p, act: true, migrate };
  });
}

// Tracks since when each instance's memory has been over the mark (cleared when it drops).
export function updateHighSince(prev: ReadonlyMap<string, number>, instances: readonly InstanceView[], now: number, cfg: PolicyConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of instances) if (memoryHigh(i, cfg)) out.set(i.id, prev.get(i.id) ?? now);
  return out;
}

// Growth from the oldest to the newest sample in the window (bytes per second, never negative).
export function growthRate(samples: readonly { at: number; bytes: number }[]): number {
  if (samples.length < 2) return 0;
  const a = samples[0]!;
  const b = samples[samples.length - 1]!;
  return b.at > a.at ? Math.max(0, ((b.bytes - a.bytes) * 1000) / (b.at - a.at)) : 0;
}

import type { CapacitySample } from '../store/capacity-history';
import type { FitResult, FitShape } from './fit';

export type GrowthResource = 'cpu' | 'memory' | 'disk';
const RESOURCES: GrowthResource[] = ['cpu', 'memory', 'disk'];
const DAY_MS = 86_400_000;

// A straight line through the allocation history: its slope per day and that slope's standard
// error (least squares), so a forecast can say how sure it is.
export interface Trend {
  perDay: number;
  stderrPerDay: number;
  samples: number;
}

export function trend(points: { t: number; v: number }[]): Trend {
  const n = points.length;
  if (n < 3) return { perDay: 0, stderrPerDay: Infinity, samples: n };
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.t - mt) ** 2;
    sxy += (p.t - mt) * (p.v - mv);
  }
  if (sxx === 0) return { perDay: 0, stderrPerDay: Infinity, samples: n };
  const slope = sxy / sxx;
  const sse = points.reduce((a, p) => a + (p.v - (mv + slope * (p.t - mt))) ** 2, 0);
  const se = Math.sqrt(sse / (n - 2) / sxx);
  return { perDay: slope * DAY_MS, stderrPerDay: se * DAY_MS, samples: n };
}

export interface ShapeRunway {
  shape: FitShape;
  // How many more fit now (the scheduler's own fit, capacity/fit.ts) and what stops the next.
  fitsNow: number;
  truncated: boolean;
  limitedBy: FitResult['limitedBy'];
  // Instances of this shape the recent growth takes per day (the resource it grows fastest in,
  // relative to the shape), and the days until the first refusal at that rate; null when the
  // allocation is not growing. low/high: the same with the slope two standard errors up/down
  // (high null: at the low slope it does not run out).
  perDay: number;
  days: number | null;
  low: number | null;
  high: number | null;
}

export interface Forecast {
  scope: 'fleet' | 'zone';
  name: string;
  windowDays: number;
  growth: Record<GrowthResource, Trend>;
  shapes: ShapeRunway[];
}

const SIZE: Record<GrowthResource, (s: FitShape) => number> = { cpu: (s) => s.cpuMillis, memory: (s) => s.memoryBytes, disk: (s) => s.diskBytes };

// Pure: a zone's (or the fleet's) allocation history, oldest first, and the fit of its common
// shapes now, in; when each runs out at the recent growth rate, out.
export function forecast(scope: Forecast['scope'], name: string, history: CapacitySample[], fits: FitResult[]): Forecast {
  const growth = {} as Record<GrowthResource, Trend>;
  for (const r of RESOURCES) growth[r] = trend(history.map((s) => ({ t: Date.parse(s.at), v: s[r].allocated })));
  const span = history.length > 1 ? (Date.parse(history.at(-1)!.at) - Date.parse(history[0]!.at)) / DAY_MS : 0;
  const shapes = fits.map((f) => runway(f, growth));
  return { scope, name, windowDays: Math.round(span * 10) / 10, growth, shapes };
}

function runway(f: FitResult, growth: Record<GrowthResource, Trend>): ShapeRunway {
  const rate = (k: number) => Math.max(0, ...RESOURCES.map((r) => (growth[r].perDay + k * (Number.isFinite(growth[r].stderrPerDay) ? growth[r].stderrPerDay : 0)) / Math.max(1, SIZE[r](f.shape))));
  const days = (perDay: number) => (perDay > 0 ? round(f.count / perDay) : null);
  const mid = rate(0);
  return { shape: f.shape, fitsNow: f.count, truncated: f.truncated, limitedBy: f.limitedBy, perDay: round(mid), days: days(mid), low: days(rate(2)), high: days(rate(-2)) };
}

const round = (x: number) => Math.round(x * 10) / 10;

// The shapes most instances have (in a zone, or the fleet): what a forecast is asked about.
export function commonShapes(instances: { cpuMillis: number; memoryBytes: number; diskBytes: number }[], top = 3): FitShape[] {
  const count = new Map<string, { shape: FitShape; n: number }>();
  for (const i of instances) {
    const k = `${i.cpuMillis}/${i.memoryBytes}/${i.diskBytes}`;
    const c = count.get(k) ?? { shape: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes }, n: 0 };
    c.n++;
    count.set(k, c);
  }
  return [...count.values()].sort((a, b) => b.n - a.n || a.shape.memoryBytes - b.shape.memoryBytes).slice(0, top).map((c) => c.shape);
}

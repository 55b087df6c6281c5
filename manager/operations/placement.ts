import { randomBytes } from 'node:crypto';
import { failedPrecondition, invalidArgument } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { heartbeatFresh } from '../scheduler/liveness';
import { plan } from '../scheduler/schedule';
import { findStrategy } from '../scheduler/strategies/index';
import type { Constraint, PlacementRequest, Strategy } from '../scheduler/types';
import type { OperationDeps } from './deps';

// What the admissions of creates share: placement options as the API hands them over, new ids
// and passwords, and the dry run.

export interface PlacementOptions {
  node?: string;
  constraints?: Constraint[];
  // Anti-affinity group: instances of one group never share a host.
  antiAffinityGroup?: string;
  spreadOver?: { key: string; soft: boolean };
  // A strategy name; the API edge has checked it exists.
  strategy?: string;
}

// Random bytes drawn from the CSPRNG 4K at a time: one getrandom() per create showed up in the
// scheduler benchmark's profile.
let pool = Buffer.alloc(0);
let poolAt = 0;
function random(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const out = Buffer.from(pool.subarray(poolAt, poolAt + n));
  pool.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}
export const newId = (prefix: string) => `${prefix}-${random(6).toString('hex')}`;
// 24 characters from a 144-bit random value; base64url has no quoting hazards in shells or URLs.
export const newPassword = () => random(18).toString('base64url');

export function strategyNamed(d: OperationDeps, name?: string): Strategy {
  const n = name || d.scheduler.strategy;
  const s = findStrategy(n);
  if (!s) throw invalidArgument(`unknown strategy "${n.slice(0, 40)}": use spread, binpack or weighted`);
  return s;
}

export function placementRequest(d: OperationDeps, shape: Shape, o: PlacementOptions): { placementReq: PlacementRequest; strategy: Strategy } {
  if (o.node && !d.fleet.snapshot.get(o.node)) throw invalidArgument(`node ${o.node} is not registered (berthctl node list shows the nodes)`);
  if (o.spreadOver && !o.antiAffinityGroup) throw invalidArgument('spread_over needs a cluster (now anti_affinity_group): it spreads the members of one anti-affinity group');
  const strategy = strategyNamed(d, o.strategy);
  const placementReq: PlacementRequest = { ...shape, node: o.node, constraints: o.constraints?.length ? o.constraints : undefined, antiAffinityGroup: o.antiAffinityGroup || undefined, spreadOver: o.spreadOver };
  return { placementReq, strategy };
}

// The dry run of a create, on the same snapshot and code path; writes nothing.
export function planCreate(d: OperationDeps, shape: Shape, opts: PlacementOptions) {
  const { placementReq, strategy } = placementRequest(d, shape, opts);
  return { ...plan(d.fleet.snapshot.nodes(), placementReq, { now: Date.now(), config: d.scheduler }, { strategy }), strategy: strategy.name };
}

// A node whose agent heartbeats is not forgotten (it would only register again).
export function mustBeDown(d: OperationDeps, node: string, what: string): void {
  const n = d.fleet.snapshot.get(node);
  if (n && heartbeatFresh(n.lastHeartbeatMs, Date.now(), d.scheduler)) {
    throw failedPrecondition(`cannot ${what}: node ${node} is up (its agent heartbeats); stop its agent for good first, or use a normal delete`);
  }
}

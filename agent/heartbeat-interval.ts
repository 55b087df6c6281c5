import type { WriteLease__Output } from '../src/gen/berth/v1/WriteLease';

// Beats per lease on a node holding leased cluster primaries: the lease (counted from when the
// last answered heartbeat was sent) then survives two lost or late beats before it fences, and
// the manager may use a lease short enough for a cut-off primary to be replaced within seconds
// (its failure detection waits longer than the lease). Other nodes keep the manager's interval.
const BEATS_PER_LEASE = 3;
// Never faster than this, whatever lease a manager sends.
const MIN_INTERVAL_MS = 250;

export function heartbeatInterval(managerIntervalMs: number, lease: Pick<WriteLease__Output, 'leaseMs' | 'instanceIds'> | null | undefined): number {
  if (!lease || !(lease.leaseMs > 0) || lease.instanceIds.length === 0) return managerIntervalMs;
  return Math.max(MIN_INTERVAL_MS, Math.min(managerIntervalMs, Math.floor(lease.leaseMs / BEATS_PER_LEASE)));
}

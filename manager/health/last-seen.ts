import type { Flavor } from '../../src/mysql/dialect';
import { equals, formatGtidSet, parseGtidSet, union } from '../../src/mysql/gtid';
import { notFrom } from '../movement/decide';
import type { LastSeenRow } from '../store/last-seen';

// A member's executed set moves with every transaction; the store's copy of it is refreshed at
// most this often (like a node's liveness), so that busy clusters do not turn the reconciler's
// ticks into a write each.
export const LAST_SEEN_PERSIST_MS = 30_000;

export type Seen = Omit<LastSeenRow, 'instanceId'>;

// Whether what the reconciler just saw of a member is worth a store write. The identity (server_uuid,
// server id) and the role are written as soon as they change. A stale executed set of the dead
// primary only lowers the failover's lower bound of the lost window, except for the transactions
// a primary did not write itself (those it applied before its promotion): a replica holding
// those, measured against an older copy, would look errant. A primary's set grows by its own
// transactions only, so the rest changes rarely and is written at once.
export function lastSeenDue(flavor: Flavor, stored: Seen | undefined, seen: Seen): boolean {
  if (!stored) return true;
  if (stored.serverUuid !== seen.serverUuid || stored.serverId !== seen.serverId || stored.role !== seen.role) return true;
  if (stored.executedGtids === seen.executedGtids) return false;
  if (seen.seenAtMs - stored.seenAtMs >= LAST_SEEN_PERSIST_MS) return true;
  return seen.role === 'primary' && !sameForeignPart(flavor, stored.executedGtids, seen);
}

function sameForeignPart(flavor: Flavor, before: string, seen: Seen): boolean {
  try {
    return equals(notFrom(parseGtidSet(flavor, before), seen), notFrom(parseGtidSet(flavor, seen.executedGtids), seen));
  } catch {
    // Unreadable: the periodic write carries it.
    return true;
  }
}

// A primary's executed set as the failover takes it: what it last reported, and never less than
// what it held when it was promoted (both are lower bounds of what it had; their union is one
// too). An unreadable set is passed on as it is: the failover then refuses with the reason.
export function atLeast(flavor: Flavor, reported: string, promoted: string): string {
  if (!promoted) return reported;
  if (!reported) return promoted;
  try {
    return formatGtidSet(union(parseGtidSet(flavor, reported), parseGtidSet(flavor, promoted)));
  } catch {
    return reported;
  }
}

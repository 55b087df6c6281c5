import type { AgentReplicationState } from '../src/gen/berth/v1/AgentReplicationState';

// Whether a new replication reading should leave in a heartbeat at once instead of at the next
// tick: mysqld went down or came back (the primary's own failure), or a replica's IO thread
// stopped or started (a replica losing its source is how the manager confirms that a primary
// whose host went silent is really gone; waiting for the tick added up to an interval to it).
export function urgentChange(prev: AgentReplicationState | undefined, next: AgentReplicationState): boolean {
  if (!prev) return true;
  if (prev.mysqldUp !== next.mysqldUp) return true;
  return Boolean(next.mysqldUp) && Boolean(prev.ioRunning) !== Boolean(next.ioRunning);
}

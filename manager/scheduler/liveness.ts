import type { SchedulerConfig } from './types';

// The one definition of a live node: everything that says "down" (the scheduler, the API, the
// capacity report, the node-down alert, and later failure detection) asks this.
export function heartbeatFresh(lastHeartbeatMs: number, now: number, config: Pick<SchedulerConfig, 'nodeTimeoutMs'>): boolean {
  return now - lastHeartbeatMs <= config.nodeTimeoutMs;
}

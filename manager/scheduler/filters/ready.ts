import type { Filter, SchedulerConfig } from '../types';

// The one definition of a live node: everything that says "down" (the scheduler, the API, the
// capacity report, the node-down alert) asks this.
export function heartbeatFresh(lastHeartbeatMs: number, now: number, config: Pick<SchedulerConfig, 'nodeTimeoutMs'>): boolean {
  return now - lastHeartbeatMs <= config.nodeTimeoutMs;
}

export const ready: Filter = {
  name: 'ready',
  filter(node, _req, { now, config }) {
    if (!heartbeatFresh(node.lastHeartbeatMs, now, config)) return 'node down (no heartbeat)';
    if (node.cordoned) return 'node cordoned';
    return undefined;
  },
};

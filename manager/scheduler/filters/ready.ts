import { heartbeatFresh } from '../liveness';
import { NODE_CORDONED, type Filter } from '../types';

// Re-exported for code written before liveness had its own module.
export { heartbeatFresh } from '../liveness';

export const ready: Filter = {
  name: 'ready',
  filter(node, _req, { now, config }) {
    if (!heartbeatFresh(node.lastHeartbeatMs, now, config)) return 'node down (no heartbeat)';
    if (node.cordoned) return 'node cordoned';
    return undefined;
  },
  columns(fleet, _req, { now, config }, pass) {
    const { heartbeat, flags } = fleet;
    // One object shape for every call: configs come in several, and this reads it per node.
    const timeout = { nodeTimeoutMs: config.nodeTimeoutMs };
    for (let i = 0, n = fleet.length; i < n; i++) if (!heartbeatFresh(heartbeat[i]!, now, timeout) || (flags[i]! & NODE_CORDONED) !== 0) pass[i] = 0;
  },
};

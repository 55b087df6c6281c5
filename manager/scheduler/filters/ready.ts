import { heartbeatFresh } from '../liveness';
import type { Filter } from '../types';

// Re-exported for code written before liveness had its own module.
export { heartbeatFresh } from '../liveness';

export const ready: Filter = {
  name: 'ready',
  filter(node, _req, { now, config }) {
    if (!heartbeatFresh(node.lastHeartbeatMs, now, config)) return 'node down (no heartbeat)';
    if (node.cordoned) return 'node cordoned';
    return undefined;
  },
};

import type { Filter } from '../types';

export const ready: Filter = {
  name: 'ready',
  filter(node, _req, { now, config }) {
    if (now - node.lastHeartbeatMs > config.nodeTimeoutMs) return 'node down (no heartbeat)';
    if (node.cordoned) return 'node cordoned';
    return undefined;
  },
};

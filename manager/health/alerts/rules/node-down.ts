import { nodeIsDown, type AlertRule } from '../types';

export const nodeDown: AlertRule = {
  name: 'node_down',
  evaluate: (s) =>
    s.nodes
      .filter((n) => nodeIsDown(n, s))
      .map((n) => ({
        rule: 'node_down',
        subject: n.name,
        severity: 'critical',
        message: `node ${n.name} has not sent a heartbeat for ${Math.round((s.now - n.lastHeartbeatMs) / 1000)} s`,
      })),
};

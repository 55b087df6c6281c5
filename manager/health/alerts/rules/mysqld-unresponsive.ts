import { nodeIsDown, type AlertRule } from '../types';

// The container runs (the store says running) but mysqld did not answer the agent's probe.
// Instances on a down node are covered by node_down: their last report is stale.
export const mysqldUnresponsive: AlertRule = {
  name: 'mysqld_unresponsive',
  evaluate(s) {
    const down = new Set(s.nodes.filter((n) => nodeIsDown(n, s)).map((n) => n.name));
    return s.instances
      .filter((i) => i.state === 'running' && !down.has(i.node) && s.usage.get(i.id)?.mysqldUnresponsive)
      .map((i) => ({
        rule: 'mysqld_unresponsive',
        subject: i.id,
        severity: 'critical',
        message: `mysqld of instance ${i.name} on ${i.node} (port ${i.port}) does not answer`,
      }));
  },
};

import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import { failedPrecondition, notFound } from '../../src/errors';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { checkName } from '../../src/validate';
import { principalOf } from '../auth/principal';
import type { FleetState } from '../state/fleet';

// The DBA's side of anti-flap (manager/health/detect.ts failoverBlocked): acknowledging a
// cluster's last automatic failover ends its alert and allows the next one. `acknowledged`
// judges the cluster again at once: a failover the rule was holding back starts now, and the
// answer names it.
export function failoverHandlers(fleet: FleetState, log: Logger, acknowledged?: (cluster: string) => Promise<string | undefined>): Pick<PortalHandlers, 'AcknowledgeFailover'> {
  return {
    AcknowledgeFailover: unary(log, 'AcknowledgeFailover', async (req, call) => {
      const name = checkName('cluster name', req.cluster);
      if (!fleet.store.clusters.get(name)) throw notFound(`no cluster ${name}`);
      const last = fleet.store.clusters.history(name, 100).find((h) => h.kind === 'failover' && h.outcome === 'done');
      if (!last) throw failedPrecondition(`cluster ${name} has had no automatic failover to acknowledge`);
      if (last.acknowledged) return { historyId: last.id, acknowledgedNow: false, message: `the failover of ${last.finishedAt} was acknowledged already` };
      fleet.store.clusters.acknowledge(last.id);
      fleet.event('cluster.failover.acknowledged', name, `${principalOf(call)?.who ?? 'unknown'} acknowledged the failover of ${last.finishedAt} (${last.fromInstance} -> ${last.toInstance})`);
      const started = await acknowledged?.(name);
      return { historyId: last.id, acknowledgedNow: true, message: `acknowledged the failover of ${last.finishedAt}${started ? `; the failover it held back runs now: operation ${started}` : ''}` };
    }),
  };
}

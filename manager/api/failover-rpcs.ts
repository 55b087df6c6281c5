import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import type { DiscardedData } from '../../src/gen/berth/v1/DiscardedData';
import type { DiscardedRow } from '../store/discarded';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { checkName } from '../../src/validate';
import { principalOf } from '../auth/principal';
import type { FleetState } from '../state/fleet';

// The DBA's side of anti-flap (manager/health/detect.ts failoverBlocked): acknowledging a
// cluster's last automatic failover ends its alert and allows the next one. `acknowledged`
// judges the cluster again at once: a failover the rule was holding back starts now, and the
// answer names it.
export function failoverHandlers(fleet: FleetState, log: Logger, acknowledged?: (cluster: string) => Promise<string | undefined>): Pick<PortalHandlers, 'AcknowledgeFailover' | 'ListDiscardedData'> {
  return {
    ListDiscardedData: unary(log, 'ListDiscardedData', (req) => {
      const name = req.instance ? checkName('instance name', req.instance) : '';
      if (req.limit > 1000) throw invalidArgument(`limit must be at most 1000, got ${req.limit}`);
      return { items: fleet.store.discarded.list(name, req.limit || 100).map(toDiscarded) };
    }),
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

// The binlogs sit in data/ beside mysqld's files (my.cnf: log-bin = binlog); read with the client
// tool of the instance's own image, which has the flavor's mysqlbinlog, on the node that has them.
function toDiscarded(r: DiscardedRow): DiscardedData {
  const tool = r.flavor === 'mysql' ? 'mysqlbinlog' : 'mariadb-binlog';
  const readBinlogs = `docker run --rm --network none -v ${r.path}/data:/d:ro ${r.image || `berth/${r.flavor}`} sh -c '${tool} --base64-output=decode-rows -vv /d/binlog.[0-9]*'`;
  return { ...r, instance: r.instanceName, readBinlogs };
}

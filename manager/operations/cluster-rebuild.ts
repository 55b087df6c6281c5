import { count, describe } from '../../src/mysql/gtid';
import { unseenTransactions } from '../../src/mysql/origins';
import type { Flavor } from '../../src/mysql/dialect';
import { memberRow, mustCluster, primaryOf } from '../clusters/members';
import { lostWindow } from '../movement/decide';
import type { InstanceRow } from '../store/instances';
import { sleep } from '../movement/types';
import { markRunning, seedReplica, type SeedOut } from './cluster-common';
import { discardRecorder, type OperationDeps } from './deps';
import { failedPrecondition } from '../../src/errors';
import { findCluster } from './cluster-common';
import type { Admission, OperationType, StepContext } from './types';

export interface RebuildParams {
  cluster: string;
  // The fenced member (a former primary, or a replica a failover refused) to rebuild.
  instanceId: string;
}

export interface RebuildCheck {
  executedGtids: string;
  primaryExecutedGtids: string;
  // Its transactions the current primary lacks (src/mysql/origins.ts): not the cluster's; its
  // data goes to the trash with them recorded (berthctl instance discarded).
  errant: string;
  errantCount: number;
}

const BOOT_MS = 120_000;
const AGENT_MS = 5000;

type Ctx = StepContext<RebuildParams>;

// A fenced member that came back is never rejoined as it is (docs/design.md, "Failover"): its
// mysqld is started read-only (its my.cnf says so before it boots) only to read what it
// executed; the transactions the current primary lacks are recorded in an event; then its
// container and data are replaced by a hot copy of the current primary (the movement library,
// as add-replica does), it replicates by GTID, and only then is it unfenced, as a replica.
export function clusterRebuildOperation(d: OperationDeps): OperationType<RebuildParams> {
  const fleet = d.fleet;
  return {
    type: 'cluster-rebuild',
    admit: (r) => admitRebuild(d, r),
    failed: (ctx, f) => fleet.event('cluster.rebuild-failed', ctx.params.cluster, `rebuild of ${memberName(d, ctx)} failed (it stays fenced): ${f.error}`),
    steps: [
      { name: 'check-errant', timeoutMs: BOOT_MS + 10_000, run: (ctx) => checkErrant(d, ctx) },
      // Past this point its old data is in the trash: roll forward (retries, then stuck) until it
      // is rebuilt.
      { name: 'remove-old', pointOfNoReturn: true, retries: 3, backoffMs: 2000, run: (ctx) => removeOld(d, ctx) },
      { name: 'seed', retries: 2, backoffMs: 5000, timeoutMs: 6 * 3600_000, run: (ctx) => seedReplica(d, ctx, ctx.params.cluster, ctx.params.instanceId) },
      {
        name: 'unfence',
        run: async (ctx) => {
          const seed = ctx.output<SeedOut>('seed');
          fleet.unfenceInstance(ctx.params.instanceId, `rebuilt from a ${seed?.method ?? ''} copy of the primary of ${ctx.params.cluster}: a replica again`);
          await markRunning(d, [ctx.params.instanceId]);
          fleet.event('cluster.member-rebuilt', ctx.params.cluster, `${memberName(d, ctx)} was rebuilt from a copy of ${primaryOf(d, ctx.params.cluster).name} and replicates from it`);
        },
      },
    ],
  };
}

// Holds only the member: a failover or switchover of the cluster (which leave fenced members
// out of their subjects) is never held up by a copy.
function admitRebuild(d: OperationDeps, r: RebuildParams): Admission<RebuildParams> {
  findCluster(d, r.cluster);
  const m = d.fleet.store.instances.get(r.instanceId);
  if (!m || m.clusterName !== r.cluster || !m.fenced) throw failedPrecondition(`${m?.name ?? r.instanceId} is not a fenced member of ${r.cluster}: only a fenced member is rebuilt`);
  return { params: r, subjects: [{ kind: 'instance', name: m.id }], ifBusy: 'refuse' };
}

function memberName(d: OperationDeps, ctx: Ctx): string {
  return d.fleet.store.instances.get(ctx.params.instanceId)?.name ?? ctx.params.instanceId;
}

async function checkErrant(d: OperationDeps, ctx: Ctx): Promise<RebuildCheck> {
  const c = mustCluster(d, ctx.params.cluster);
  const m = memberRow(d, ctx.params.instanceId);
  if (!m.fenced) throw new Error(`${m.name} is not fenced: only a fenced member is rebuilt`);
  const primary = primaryOf(d, c.name);
  const agent = d.agents.for(m.node);
  // It boots read-only (the agent writes the replica lines into its my.cnf first, and no account
  // writes through read_only); super_read_only too on MySQL, then read.
  await agent.startInstance({ id: m.id, readOnly: true }, BOOT_MS);
  await readStatus(d, m.node, m.id, ctx.signal);
  await agent.setReadOnly({ id: m.id, readOnly: true }, AGENT_MS);
  const mine = await readStatus(d, m.node, m.id, ctx.signal);
  const final = mine.executedGtids;
  // Nothing but the manager reads it, and it goes at the next step: stopped meanwhile.
  await agent.stopInstance({ id: m.id }, AGENT_MS * 6);
  const p = await d.agents.for(primary.node).getReplicaStatus({ id: primary.id }, AGENT_MS);
  const flavor = (c.flavor || m.flavor) as Flavor;
  const errant = unseenTransactions(flavor, mine.originGtids, p.originGtids);
  const out = { executedGtids: final, primaryExecutedGtids: p.executedGtids, errant: errant.gtids, errantCount: errant.count };
  d.fleet.event('cluster.rebuild.errant', c.name, out.errant
    ? `${m.name} had transactions the primary ${primary.name} lacks (not the cluster's, discarded by its rebuild): ${out.errant}`
    : `${m.name} had no transaction the primary ${primary.name} lacks; rebuilt from a copy all the same`);
  measureLostWindow(d, c.name, m, final, flavor);
  return out;
}

// The failover that took this member's place as the primary could only compare its last report
// (a lower bound of what it lost). Its data now says exactly what it had committed that the
// promoted replica lacked at the promotion: the failover's lost window, recorded once.
export function measureLostWindow(d: OperationDeps, cluster: string, m: InstanceRow, final: string, flavor: Flavor): void {
  const h = d.fleet.store.clusters.history(cluster, 50).find((x) => x.kind === 'failover' && x.fromInstance === m.id);
  if (!h || h.outcome !== 'done' || h.measuredLost >= 0) return;
  const promote = d.fleet.store.operations.get(h.operationId)?.steps.find((s) => s.name === 'promote')?.output;
  if (!promote) return;
  const lost = lostWindow(flavor, final, (JSON.parse(promote) as { executedGtids: string }).executedGtids);
  const n = count(lost);
  d.fleet.recordMeasuredLost(cluster, h.id, n, n
    ? `failover ${h.operationId} lost ${n} transactions ${m.name} had committed (at least ${h.lostTransactions} were known at the failover): ${describe(lost)}`
    : `failover ${h.operationId} lost no transaction: ${m.name} had committed none the promoted replica lacked`);
}

// Its containers go; its data stays in the disk's trash (it may hold writes the primary lacks:
// check-errant recorded which), recorded with where it is.
async function removeOld(d: OperationDeps, ctx: Ctx): Promise<{ trashPath: string }> {
  const m = memberRow(d, ctx.params.instanceId);
  const r = await d.agents.for(m.node).removeInstance({ id: m.id, node: m.node, diskPath: m.diskPath }, d.agentRemoveDeadlineMs ?? 120_000);
  const check = ctx.output<RebuildCheck>('check-errant');
  if (r.trashPath) {
    discardRecorder(d, ctx, m.id, m.node, 'a fenced member (its data replaced by a copy of the primary)')({
      existed: true,
      purged: false,
      trashPath: r.trashPath,
      unseenGtids: check?.errant ?? '',
      unseenCount: check ? check.errantCount : -1,
      disks: r.disks ?? [],
    });
  }
  return { trashPath: r.trashPath };
}

// mysqld answers a moment after its container starts (crash recovery after a kill).
async function readStatus(d: OperationDeps, node: string, id: string, signal: AbortSignal): Promise<{ executedGtids: string; originGtids: string }> {
  const deadline = Date.now() + BOOT_MS;
  for (;;) {
    try {
      return await d.agents.for(node).getReplicaStatus({ id }, AGENT_MS);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500, signal);
    }
  }
}

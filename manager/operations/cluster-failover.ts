import { errorMessage } from '../../src/errors';
import type { AgentReplicaStatus__Output } from '../../src/gen/berth/v1/AgentReplicaStatus';
import type { Flavor } from '../../src/mysql/dialect';
import { count, describe, formatGtidSet, parseGtidSet, subtract } from '../../src/mysql/gtid';
import { chooseFailoverCandidate, type FailoverCandidate, type LastPrimary } from '../movement/decide';
import { endpointOf } from '../clusters/members';
import { repointReplica } from '../movement/replica';
import type { InstanceRow } from '../store/instances';
import { failedPrecondition } from '../../src/errors';
import type { OperationDeps } from './deps';
import { DEFAULT_FAILOVER, mustInstance, type FailoverConfig } from './deps';
import { clusterSubjects, findCluster } from './cluster-common';
import type { Admission, OperationType, StepContext } from './types';

export interface FailoverParams {
  cluster: string;
  // The primary judged dead, and why (manager/health/detect.ts).
  primaryId: string;
  reason: string;
  detectedAtMs: number;
  // Its last reported state, kept in the parameters so a manager restart mid-way still has it.
  lastPrimary: LastPrimary;
}

export { DEFAULT_FAILOVER, type FailoverConfig } from './deps';

interface Gathered {
  replicas: (FailoverCandidate & { id: string })[];
  unreachable: { id: string; error: string }[];
}
interface Chosen {
  id: string;
  name: string;
  set: string;
  refused: { name: string; reason: string }[];
}

type Ctx = StepContext<FailoverParams>;

// Automatic failover of a cluster whose primary is dead (submitted by manager/health/reconciler.ts).
// Every step is recorded; `promote` is the point of no return: before it an abort starts the
// replicas' IO threads again and leaves the cluster as it was (with an alert); after it the
// remaining steps roll forward.
export function clusterFailoverOperation(d: OperationDeps, cfg: FailoverConfig = d.failover ?? DEFAULT_FAILOVER): OperationType<FailoverParams> {
  return {
    type: 'cluster-failover',
    admit: (r) => admitFailover(d, r),
    failed: (ctx, f) => {
      d.endpoints?.release(ctx.params.cluster);
      return recordAborted(d, ctx, f.error);
    },
    stuck: (ctx, error) => d.fleet.event('cluster.failover.stuck', ctx.params.cluster, `failover of ${ctx.params.cluster} is stuck after the promotion: ${error}`),
    steps: [
      { name: 'stop-io', retries: 1, backoffMs: 500, run: (ctx) => stopIo(d, cfg, ctx), undo: (ctx) => restartIo(d, cfg, ctx) },
      { name: 'choose', run: async (ctx) => choose(d, cfg, ctx) },
      { name: 'apply-relay-log', timeoutMs: cfg.relayApplyTimeoutMs + 5000, run: (ctx) => applyRelayLog(d, cfg, ctx) },
      { name: 'promote', pointOfNoReturn: true, retries: 2, backoffMs: 500, run: (ctx) => promote(d, cfg, ctx) },
      { name: 'repoint', retries: 2, backoffMs: 1000, run: (ctx) => repoint(d, cfg, ctx) },
      { name: 'fence-old-primary', run: (ctx) => fenceOld(d, cfg, ctx) },
      { name: 'record', run: async (ctx) => record(d, cfg, ctx) },
    ],
  };
}

// Refused while anything holds the cluster (a switchover, a failover already running). Fenced
// members are not failed over (nor re-pointed): a rebuild may hold them meanwhile.
function admitFailover(d: OperationDeps, r: FailoverParams): Admission<FailoverParams> {
  findCluster(d, r.cluster);
  const p = d.fleet.store.instances.get(r.primaryId);
  if (!p || p.clusterName !== r.cluster || p.clusterRole !== 'primary' || p.fenced) throw failedPrecondition(`${p?.name ?? r.primaryId} is not the primary of ${r.cluster} any more`);
  return { params: r, subjects: clusterSubjects(d, r.cluster, { unfencedOnly: true }), ifBusy: 'refuse' };
}

function members(d: OperationDeps, ctx: Ctx): InstanceRow[] {
  return d.fleet.store.instances.inCluster(ctx.params.cluster);
}

function replicasOf(d: OperationDeps, ctx: Ctx): InstanceRow[] {
  return members(d, ctx).filter((m) => m.id !== ctx.params.primaryId && m.clusterRole === 'replica' && !m.fenced);
}

const agentOf = (d: OperationDeps, i: InstanceRow) => d.agents.for(i.node);

// Receiving stops everywhere first, so no replica gets more of the old primary while the others
// are compared (a primary judged dead could still be sending).
async function stopIo(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<Gathered> {
  // The primary judged dead may still answer someone: its stable endpoint takes no new session
  // and keeps none from here (closed until the promotion routes it to the new primary).
  await d.endpoints?.route(ctx.params.cluster, null);
  const out: Gathered = { replicas: [], unreachable: [] };
  await Promise.all(
    replicasOf(d, ctx).map(async (r) => {
      try {
        const agent = agentOf(d, r);
        let s = await agent.stopReplica({ id: r.id, ioOnly: true }, cfg.agentDeadlineMs);
        // A replica whose mysqld restarted has replication stopped (no start at boot) but not
        // broken: its applier is started again to apply what it received, its receiver not.
        if (s.configured && !s.sqlRunning && !s.lastSqlError) {
          await agent.startReplica({ id: r.id }, cfg.agentDeadlineMs);
          s = await agent.stopReplica({ id: r.id, ioOnly: true }, cfg.agentDeadlineMs);
        }
        out.replicas.push(candidate(r, s));
      } catch (err) {
        out.unreachable.push({ id: r.id, error: errorMessage(err) });
      }
    }),
  );
  out.replicas.sort((a, b) => a.name.localeCompare(b.name));
  ctx.log.info({ cluster: ctx.params.cluster, replicas: out.replicas.map((r) => r.name), unreachable: out.unreachable }, 'failover: replicas stopped receiving');
  return out;
}

function candidate(r: InstanceRow, s: AgentReplicaStatus__Output): FailoverCandidate & { id: string } {
  return { id: r.id, name: r.name, receivedGtids: s.receivedGtids, executedGtids: s.executedGtids, sqlRunning: s.sqlRunning, lastSqlError: s.lastSqlError, lastIoError: s.lastIoError };
}

async function restartIo(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<void> {
  for (const r of replicasOf(d, ctx)) await agentOf(d, r).startReplica({ id: r.id }, cfg.agentDeadlineMs).catch(() => undefined);
}

function gathered(ctx: Ctx): Gathered {
  const g = ctx.output<Gathered>('stop-io');
  if (!g) throw new Error('the replicas were not gathered');
  return g;
}

function chosen(ctx: Ctx): Chosen {
  const c = ctx.output<Chosen>('choose');
  if (!c) throw new Error('no candidate was chosen');
  return c;
}

function choose(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Chosen {
  const g = gathered(ctx);
  const flavor = flavorOf(d, ctx);
  // Without the dead primary's server_uuid every transaction on the replicas would look errant.
  if (flavor === 'mysql' && !ctx.params.lastPrimary.serverUuid) throw new Error(`the server_uuid of the dead primary is unknown (no report of it since the manager started): its transactions cannot be told from errant ones`);
  const c = chooseFailoverCandidate(flavor, g.replicas, ctx.params.lastPrimary, cfg);
  for (const r of c.refused) d.fleet.event('cluster.failover.refused', ctx.params.cluster, `failover of ${ctx.params.cluster} refuses ${r.name}: ${r.reason}`);
  if (!c.ok) throw new Error(`no replica may be promoted: ${c.reason}`);
  const id = g.replicas.find((r) => r.name === c.name)!.id;
  return { id, name: c.name, set: formatGtidSet(c.set), refused: c.refused };
}

function flavorOf(d: OperationDeps, ctx: Ctx): Flavor {
  const cl = d.fleet.store.clusters.get(ctx.params.cluster);
  const f = cl?.flavor || mustInstance(d, ctx.params.primaryId).flavor;
  return f === 'mysql' ? 'mysql' : 'mariadb';
}

async function applyRelayLog(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<{ waitedMs: number }> {
  const c = chosen(ctx);
  const i = mustInstance(d, c.id);
  const t0 = Date.now();
  const r = await agentOf(d, i).waitForGtid({ id: i.id, gtidSet: c.set, timeoutMs: cfg.relayApplyTimeoutMs }, cfg.relayApplyTimeoutMs + 5000);
  if (!r.reached) throw new Error(`${c.name} did not apply its relay log (${c.set}) within ${cfg.relayApplyTimeoutMs / 1000} s`);
  return { waitedMs: Date.now() - t0 };
}

// The store first: the old primary fenced (never writable again), then the candidate made the
// primary, then its server writable. A restart in between repeats all three (each idempotent).
async function promote(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<{ promotedAtMs: number; executedGtids: string }> {
  const c = chosen(ctx);
  const old = mustInstance(d, ctx.params.primaryId);
  if (!old.fenced) d.fleet.fenceInstance(old.id, `failover of ${ctx.params.cluster}: ${ctx.params.reason}`);
  d.fleet.setPrimary(ctx.params.cluster, c.id, `failover: ${ctx.params.reason}`, c.set);
  const i = mustInstance(d, c.id);
  const agent = agentOf(d, i);
  await agent.resetReplica({ id: i.id }, cfg.agentDeadlineMs);
  await d.endpoints?.route(ctx.params.cluster, i.id);
  // Not persisted: a cluster member boots read-only whatever its role, and the manager opens the
  // primary (the reconciler's open-primary repair), so a restart never makes a server writable by itself.
  const res = await agent.setReadOnly({ id: i.id, readOnly: false }, cfg.agentDeadlineMs);
  d.endpoints?.release(ctx.params.cluster);
  ctx.log.warn({ cluster: ctx.params.cluster, from: old.name, to: i.name }, 'failover: replica promoted');
  return { promotedAtMs: Date.now(), executedGtids: res.executedGtids };
}

async function repoint(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<{ repointed: string[]; left: { name: string; reason: string }[] }> {
  const c = chosen(ctx);
  const primary = endpointOf(d, mustInstance(d, c.id));
  const cl = d.fleet.store.clusters.get(ctx.params.cluster);
  if (!cl) throw new Error(`cluster ${ctx.params.cluster} is gone`);
  const repointed: string[] = [];
  const left: { name: string; reason: string }[] = [];
  await Promise.all(
    replicasOf(d, ctx)
      .filter((m) => m.id !== c.id)
      .map(async (r) => {
        const refused = c.refused.find((x) => x.name === r.name);
        if (refused) {
          // Its data is not the cluster's: rebuilt from a copy, never replicated as it is.
          d.fleet.fenceInstance(r.id, `refused by the failover of ${ctx.params.cluster}: ${refused.reason}`);
          left.push(refused);
          return;
        }
        try {
          await repointReplica(endpointOf(d, r), primary, { user: cl.replUser, password: cl.replPassword }, { startTimeoutMs: cfg.relayApplyTimeoutMs, signal: ctx.signal });
          repointed.push(r.name);
        } catch (err) {
          left.push({ name: r.name, reason: errorMessage(err) });
        }
      }),
  );
  if (left.length) d.fleet.event('cluster.failover.replicas-left', ctx.params.cluster, `not re-pointed to ${c.name}: ${left.map((l) => `${l.name} (${l.reason})`).join('; ')}`);
  return { repointed, left };
}

// Stop the old primary's container when its host answers; otherwise the store already says it
// is fenced and the reconciler stops it (a stop-fenced repair) when its agent is heard again (and the agent's write
// lease has made it read-only meanwhile).
async function fenceOld(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): Promise<{ stopped: boolean; error?: string }> {
  const old = mustInstance(d, ctx.params.primaryId);
  try {
    await agentOf(d, old).stopInstance({ id: old.id }, cfg.agentDeadlineMs);
    return { stopped: true };
  } catch (err) {
    return { stopped: false, error: errorMessage(err) };
  }
}

function record(d: OperationDeps, cfg: FailoverConfig, ctx: Ctx): { historyId: number; lostTransactions: number } {
  const done = d.fleet.store.clusters.history(ctx.params.cluster, 20).find((h) => h.operationId === ctx.opId);
  if (done) return { historyId: done.id, lostTransactions: done.lostTransactions };
  const c = chosen(ctx);
  const flavor = flavorOf(d, ctx);
  const promoted = ctx.output<{ promotedAtMs: number; executedGtids: string }>('promote');
  // What the old primary was last known to have and the new one lacks: the lost window of an
  // async cluster (a lower bound: the primary may have committed more after its last report).
  const lostSet = subtract(parseGtidSet(flavor, ctx.params.lastPrimary.executedGtids), parseGtidSet(flavor, promoted?.executedGtids || c.set));
  const lost = count(lostSet);
  const fenced = ctx.output<{ stopped: boolean; error?: string }>('fence-old-primary');
  const message = [
    `promoted ${c.name}`,
    c.refused.length ? `refused ${c.refused.map((r) => `${r.name} (${r.reason})`).join('; ')}` : '',
    fenced?.stopped ? 'old primary stopped' : `old primary fenced in the store, its container not stopped yet (${fenced?.error ?? 'unknown'})`,
    lost ? `lost at least ${lost} transactions: ${describe(lostSet)}` : '',
  ].filter(Boolean).join('; ');
  const historyId = d.fleet.recordClusterHistory({
    cluster: ctx.params.cluster,
    kind: 'failover',
    outcome: 'done',
    fromInstance: ctx.params.primaryId,
    toInstance: c.id,
    startedAt: new Date(ctx.params.detectedAtMs).toISOString(),
    operationId: ctx.opId,
    blockedMs: promoted ? promoted.promotedAtMs - ctx.params.detectedAtMs : -1,
    lostTransactions: lost,
    reason: ctx.params.reason,
    message,
  });
  cfg.onDone?.(ctx.params.cluster);
  return { historyId, lostTransactions: lost };
}

function recordAborted(d: OperationDeps, ctx: Ctx, error: string): void {
  d.fleet.recordClusterHistory({
    cluster: ctx.params.cluster,
    kind: 'failover',
    outcome: 'aborted',
    fromInstance: ctx.params.primaryId,
    toInstance: ctx.output<Chosen>('choose')?.id ?? '',
    startedAt: new Date(ctx.params.detectedAtMs).toISOString(),
    operationId: ctx.opId,
    reason: ctx.params.reason,
    message: error,
  });
}

import { failedPrecondition } from '../../src/errors';
import { isGaleraFlavor } from '../clusters/galera';
import { memberRow } from '../clusters/members';
import type { InstanceRow } from '../store/instances';
import type { OperationDeps } from './deps';
import { clusterSubjects, findCluster } from './cluster-common';
import type { Admission, OperationType, StepContext } from './types';

// A Galera cluster's writer, chosen by berth (docs/design.md, "Consensus clusters: Galera"):
// submitted by the cluster reconciler when the writer can no longer write (its node died or left
// the Primary component) or, with from = to, when the writer is fine but read-only (it
// restarted). Galera keeps every member's data; berth keeps one writable member.
export interface GaleraWriterParams {
  cluster: string;
  // The writer being replaced ('' or = to: open `to` only).
  from: string;
  to: string;
  reason: string;
}

type Ctx = StepContext<GaleraWriterParams>;

const AGENT_MS = 3000;
// How long the new writer's view may take to drop the old one: Galera suspects a silent member
// after evs.suspect_timeout (5 s) and forms a new component without it (~6.5 s measured).
export const OLD_OUT_TIMEOUT_MS = 60_000;
const POLL_MS = 500;

export function clusterGaleraWriterOperation(d: OperationDeps): OperationType<GaleraWriterParams> {
  return {
    type: 'cluster-galera-writer',
    admit: (r) => admitWriter(d, r),
    failed: (ctx) => d.endpoints?.release(ctx.params.cluster),
    steps: [
      { name: 'wait-old-out', timeoutMs: OLD_OUT_TIMEOUT_MS + 5000, run: (ctx) => waitOldOut(d, ctx) },
      { name: 'close-old', run: (ctx) => closeOld(d, ctx) },
      { name: 'open-new', pointOfNoReturn: true, retries: 2, backoffMs: 500, run: (ctx) => openNew(d, ctx) },
    ],
  };
}

function admitWriter(d: OperationDeps, r: GaleraWriterParams): Admission<GaleraWriterParams> {
  const c = findCluster(d, r.cluster);
  if (c.replication !== 'group' || !isGaleraFlavor(c.flavor)) throw failedPrecondition(`cluster ${c.name} is not a Galera cluster`);
  if (c.state !== 'running') throw failedPrecondition(`cluster ${c.name} is ${c.state}`);
  const to = d.fleet.store.instances.get(r.to);
  if (!to || to.clusterName !== c.name || to.fenced) throw failedPrecondition(`${r.to} is not an unfenced member of ${c.name}`);
  return { params: r, subjects: clusterSubjects(d, c.name), ifBusy: 'refuse' };
}

const changing = (p: GaleraWriterParams) => !!p.from && p.from !== p.to;
const addressOf = (d: OperationDeps, i: InstanceRow) => `${d.fleet.store.nodes.get(i.node)?.host ?? ''}:${i.port}`;

// The new writer must be Synced in the Primary component, and the old one out of that
// component: until then the old one may still commit, and two writers would certify against
// each other. Nothing has changed if this fails.
async function waitOldOut(d: OperationDeps, ctx: Ctx): Promise<{ waitedMs: number }> {
  const t0 = Date.now();
  if (!changing(ctx.params)) return { waitedMs: 0 };
  const to = memberRow(d, ctx.params.to);
  const old = addressOf(d, memberRow(d, ctx.params.from));
  let last = '';
  while (Date.now() - t0 < OLD_OUT_TIMEOUT_MS) {
    ctx.signal.throwIfAborted();
    const g = await d.agents.for(to.node).getGroupStatus({ id: to.id }, AGENT_MS).catch((err: Error) => ({ members: [], error: err.message }));
    const self = g.members.find((m) => m.local);
    const oldIn = g.members.some((m) => !m.local && `${m.host}:${m.port}` === old);
    last = self ? `${to.name} is ${self.state}/${self.role}${self.ready ? '' : ' (not ready)'}${oldIn ? `, ${old} still in its component` : ''}` : `no status from ${to.name}`;
    if (self?.state === 'Synced' && self.role === 'Primary' && self.ready && !oldIn) return { waitedMs: Date.now() - t0 };
    ctx.progress({ phase: last });
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`the old writer did not leave the new one's component within ${OLD_OUT_TIMEOUT_MS / 1000} s: ${last}`);
}

// The old writer's endpoint closes, and the old writer is made read-only if its agent answers
// (it is out of the Primary component, where Galera refuses commits anyway; when it comes back
// it must not be writable).
async function closeOld(d: OperationDeps, ctx: Ctx): Promise<{ readOnly: boolean; error: string }> {
  if (!changing(ctx.params)) return { readOnly: false, error: '' };
  await d.endpoints?.route(ctx.params.cluster, null);
  const old = memberRow(d, ctx.params.from);
  try {
    await d.agents.for(old.node).setReadOnly({ id: old.id, readOnly: true }, AGENT_MS);
    return { readOnly: true, error: '' };
  } catch (err) {
    return { readOnly: false, error: (err as Error).message };
  }
}

// The store first (endpoints and `cluster get` name the new writer), then its endpoint, then
// its server writable. Each is idempotent, so a retry or a resumed operation repeats them.
async function openNew(d: OperationDeps, ctx: Ctx): Promise<{ openedAtMs: number }> {
  const to = memberRow(d, ctx.params.to);
  if (to.clusterRole !== 'primary') d.fleet.setPrimary(ctx.params.cluster, to.id, `Galera writer chosen by berth: ${ctx.params.reason}`);
  await d.endpoints?.route(ctx.params.cluster, to.id);
  try {
    await d.agents.for(to.node).setReadOnly({ id: to.id, readOnly: false }, AGENT_MS);
  } finally {
    d.endpoints?.release(ctx.params.cluster);
  }
  const from = ctx.params.from ? d.fleet.store.instances.get(ctx.params.from) : undefined;
  d.fleet.event('cluster.writer', ctx.params.cluster, changing(ctx.params) ? `${to.name} is the writer instead of ${from?.name ?? ctx.params.from}: ${ctx.params.reason}` : `${to.name} made writable again: ${ctx.params.reason}`);
  ctx.log.warn({ cluster: ctx.params.cluster, from: from?.name ?? '', to: to.name }, 'galera writer opened');
  return { openedAtMs: Date.now() };
}

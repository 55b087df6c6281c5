import { memberMoveRefusal } from '../clusters/guard';
import { isReservation } from './reservation';
import type { OperationDeps } from './deps';
import { notFound } from '../../src/errors';
import type { MigrateRequest } from './migrate';
import type { Admission, OperationType, StepContext } from './types';

export interface DrainParams {
  node: string;
  // Migrations running at once.
  concurrency: number;
  wasCordoned: boolean;
}

export const DRAINING = { kind: 'node.draining', message: 'being drained: its instances move to other nodes' };

export interface DrainRequest {
  node: string;
  concurrency?: number;
}

type Ctx = StepContext<DrainParams>;

// Cordoned at once, so the answer already says so; the node is held while it drains.
function admitDrain(d: OperationDeps, r: DrainRequest): Admission<DrainParams> {
  const n = d.fleet.store.nodes.get(r.node);
  if (!n) throw notFound(`no node ${r.node}`);
  const concurrency = Math.max(1, r.concurrency ?? d.drainConcurrency ?? 2);
  if (!n.cordoned) d.fleet.setCordoned(n.name, true, DRAINING);
  d.fleet.event('drain.started', n.name, `drain of ${n.name}: ${d.fleet.store.instances.onNode(n.name).length} instances to move, ${concurrency} at a time`);
  return { params: { node: n.name, concurrency, wasCordoned: n.cordoned }, subjects: [{ kind: 'node', name: n.name }], ifBusy: 'refuse' };
}

// Empties a node: cordoned first (nothing new lands there), then one child migration per
// instance, a few at a time; the parent's progress adds up the children's bytes.
export function drainOperation(d: OperationDeps): OperationType<DrainParams, DrainRequest> {
  return {
    type: 'drain',
    admit: (r) => admitDrain(d, r),
    failed: (ctx, f) => d.fleet.event('drain.failed', ctx.params.node, `drain of ${ctx.params.node} failed: ${f.error}`),
    steps: [
      {
        // Cordoned when the drain was asked for (so the answer already says so); again here in
        // case a person uncordoned it meanwhile. Undone only if it was not cordoned before.
        name: 'cordon',
        run: async (ctx) => {
          const n = d.fleet.store.nodes.get(ctx.params.node);
          if (!n) throw new Error(`node ${ctx.params.node} is not registered`);
          if (!n.cordoned) d.fleet.setCordoned(n.name, true, DRAINING);
        },
        undo: async (ctx) => {
          if (!ctx.params.wasCordoned) d.fleet.setCordoned(ctx.params.node, false);
        },
      },
      { name: 'migrate-all', run: (ctx) => migrateAll(d, ctx) },
    ],
  };
}

async function migrateAll(d: OperationDeps, ctx: Ctx): Promise<{ moved: number; failed: string[]; kept?: string[] }> {
  const all = d.fleet.store.instances.onNode(ctx.params.node).filter((i) => !isReservation(i.name));
  // Cluster members stay (a migration would break replication): each gets an event saying what
  // the DBA does instead, and the drain's output and final event name them.
  const kept = all.filter((i) => memberMoveRefusal(i));
  for (const i of kept) d.fleet.event('drain.skipped', i.id, `drain of ${ctx.params.node} leaves ${memberMoveRefusal(i)}`);
  const instances = all.filter((i) => !kept.includes(i));
  const ids = instances.map((i) => i.id);
  const failed: string[] = [];
  let done = 0;
  for (let at = 0; at < ids.length; at += Math.max(1, ctx.params.concurrency)) {
    const batch = ids.slice(at, at + Math.max(1, ctx.params.concurrency));
    const children = await Promise.all(
      batch.map((id) => {
        const i = instances.find((x) => x.id === id)!;
        const request: MigrateRequest = { instanceId: id, to: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes }, reason: `drain of ${ctx.params.node}` };
        return ctx.startChild(id, { type: 'migrate', request });
      }),
    );
    for (const op of await ctx.waitChildren(children)) {
      if (op.state === 'succeeded') done++;
      else failed.push(`${op.id} (${op.state}: ${op.error})`);
    }
    ctx.progress({ phase: `migrated ${done} of ${ids.length}` });
  }
  if (failed.length) throw new Error(`${failed.length} of ${ids.length} migrations failed: ${failed.join('; ')}`);
  const left = kept.length ? `; ${kept.length} cluster members left on it (${kept.map((i) => i.name).join(', ')}): see the drain.skipped events` : '';
  d.fleet.event('node.drained', ctx.params.node, `${done} instances moved off ${ctx.params.node}${left}`);
  return { moved: done, failed, kept: kept.map((i) => i.name) };
}

import { memberMoveRefusal } from '../clusters/guard';
import { isReservation } from './reservation';
import type { OperationDeps } from './deps';
import type { OperationType, StepContext } from './types';

export interface DrainParams {
  node: string;
  // Migrations running at once.
  concurrency: number;
  wasCordoned: boolean;
}

export const DRAINING = { kind: 'node.draining', message: 'being drained: its instances move to other nodes' };

type Ctx = StepContext<DrainParams>;

// Empties a node: cordoned first (nothing new lands there), then one child migration per
// instance, a few at a time; the parent's progress adds up the children's bytes.
export function drainOperation(d: OperationDeps): OperationType<DrainParams> {
  return {
    type: 'drain',
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
    const children = batch.map((id) => {
      const i = instances.find((x) => x.id === id)!;
      const to = { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes };
      return ctx.startChild(id, { type: 'migrate', params: { instanceId: id, to, reason: `drain of ${ctx.params.node}` }, subjects: [{ kind: 'instance', name: id }] });
    });
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

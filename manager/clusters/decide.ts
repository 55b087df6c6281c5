import type { Flavor } from '../../src/mysql/dialect';
import { describe, isEmpty } from '../../src/mysql/gtid';
import { errantTransactions, mostAdvanced, replicationBroken } from '../movement/index';
import type { MemberStatus } from './health';

export interface ReplicaFacts {
  id: string;
  name: string;
  fenced: boolean;
  state: string;
  // Undefined: its agent did not answer.
  status?: MemberStatus;
}

export type TargetChoice = { ok: true; id: string; name: string } | { ok: false; reason: string };

// Why this replica cannot take the primary role in a planned switchover ('' when it can): it
// must run, replicate (both threads), be unfenced, and hold nothing the primary lacks.
export function unfitForPromotion(flavor: Flavor, primaryExecuted: string, r: ReplicaFacts): string {
  if (r.fenced) return 'it is fenced';
  if (r.state !== 'running') return `it is ${r.state}`;
  if (!r.status) return 'its agent did not answer';
  if (!r.status.configured) return 'it does not replicate';
  const broken = replicationBroken({ ...r.status, secondsBehind: r.status.secondsBehind < 0 ? null : r.status.secondsBehind });
  if (broken) return broken;
  if (!r.status.ioRunning) return 'it is not connected to the primary';
  const errant = errantTransactions(flavor, r.status.executedGtids, primaryExecuted);
  if (!isEmpty(errant)) return `it has transactions the primary does not: ${describe(errant)}`;
  return '';
}

// The switchover's target: the named replica if it is fit, else the fit replica whose received
// and executed transactions contain every other fit one's (the least to catch up; ties to the
// first given). Pure: the operation gathers the facts.
export function chooseSwitchoverTarget(flavor: Flavor, primaryExecuted: string, replicas: ReplicaFacts[], named?: string): TargetChoice {
  if (named) {
    const r = replicas.find((x) => x.id === named || x.name === named);
    if (!r) return { ok: false, reason: `${named} is not a replica of this cluster` };
    const why = unfitForPromotion(flavor, primaryExecuted, r);
    return why ? { ok: false, reason: `${r.name} cannot be promoted: ${why}` } : { ok: true, id: r.id, name: r.name };
  }
  const fit = replicas.filter((r) => !unfitForPromotion(flavor, primaryExecuted, r));
  if (fit.length === 0) {
    const why = replicas.map((r) => `${r.name}: ${unfitForPromotion(flavor, primaryExecuted, r)}`).join('; ');
    return { ok: false, reason: `no replica can be promoted${why ? ` (${why})` : ''}` };
  }
  const best = mostAdvanced(flavor, fit.map((r) => ({ name: r.id, receivedGtids: r.status!.receivedGtids, executedGtids: r.status!.executedGtids })));
  if (!best.ok) return { ok: false, reason: best.reason };
  return { ok: true, id: best.name, name: fit.find((r) => r.id === best.name)!.name };
}

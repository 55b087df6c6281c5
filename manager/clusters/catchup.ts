import type { LagLimits } from '../movement/decide';

// A switchover's catch-up ends when what the candidate still has to apply would take it at most
// `applyMs` at the rate it has been applying (measured over the last samples), or is within the
// fixed limits. Under a primary that commits in a tight loop a replica that keeps up is still a
// few thousand transactions behind at any instant (what arrived in the last second): a fixed
// 50-transaction limit is never met there, although the cut-over's wait would last well under
// a second. Pure: samples in, limits out.
export interface ApplySample {
  atMs: number;
  // Transactions the candidate has executed in all.
  executed: number;
}

export function catchUpLimits(base: LagLimits, samples: ApplySample[], applyMs: number): LagLimits {
  const rate = applyRate(samples);
  return { ...base, maxTransactions: Math.max(base.maxTransactions, Math.floor((rate * applyMs) / 1000)) };
}

// Transactions per second between the oldest and the newest sample (0 with fewer than two, or
// when nothing was applied).
export function applyRate(samples: ApplySample[]): number {
  if (samples.length < 2) return 0;
  const a = samples[0]!;
  const b = samples[samples.length - 1]!;
  const ms = b.atMs - a.atMs;
  return ms > 0 && b.executed > a.executed ? ((b.executed - a.executed) * 1000) / ms : 0;
}

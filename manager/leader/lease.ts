import type { LeaseRow } from '../store/leader-lease';

export type { LeaseRow };

// Who a manager is to the others: its id, and where clients and agents reach it.
export interface Candidate {
  id: string;
  portalAddress: string;
  registryAddress: string;
}

// The lease row after `me` tries to take it at `nowMs`, or undefined when it must wait.
// Free (no row), expired, or its own (this manager restarted on the same address before it
// ran out: the old process is gone, since the address is bound again) → taken, epoch + 1.
// A new epoch even for its own row: whatever the old process sent is now refused by agents.
export function decideAcquire(cur: LeaseRow | undefined, me: Candidate, nowMs: number, durationMs: number): LeaseRow | undefined {
  const free = !cur || cur.expiresAtMs <= nowMs || cur.holder === me.id;
  if (!free) return undefined;
  return { holder: me.id, portalAddress: me.portalAddress, registryAddress: me.registryAddress, epoch: (cur?.epoch ?? 0) + 1, expiresAtMs: nowMs + durationMs };
}

// Renewed only by its holder with its epoch. Also once expired: if nobody took it meanwhile
// (the row still names this holder and epoch), no other manager acted, and agents saw no
// higher epoch; a late renew (a long GC pause) needs no step-down then.
export function decideRenew(cur: LeaseRow | undefined, me: { id: string; epoch: number }, nowMs: number, durationMs: number): LeaseRow | undefined {
  if (!holds(cur, me)) return undefined;
  return { ...cur!, expiresAtMs: Math.max(cur!.expiresAtMs, nowMs + durationMs) };
}

// A clean step-down: the lease runs out now, so a follower takes it at its next try.
export function decideRelease(cur: LeaseRow | undefined, me: { id: string; epoch: number }, nowMs: number): LeaseRow | undefined {
  if (!holds(cur, me)) return undefined;
  return { ...cur!, expiresAtMs: Math.min(cur!.expiresAtMs, nowMs) };
}

export function holds(cur: LeaseRow | undefined, me: { id: string; epoch: number }): boolean {
  return Boolean(cur) && cur!.holder === me.id && cur!.epoch === me.epoch;
}

// Why a manager that is not the leader refuses, and where the leader is (clients follow it).
export function followerMessage(leader: LeaseRow | undefined, nowMs: number): string {
  if (!leader || leader.expiresAtMs <= nowMs) return 'this manager is a follower and no manager holds the leader lease right now; retry in a few seconds';
  return `this manager is a follower; the leader is ${leader.holder} (epoch ${leader.epoch}) at ${leader.portalAddress}`;
}

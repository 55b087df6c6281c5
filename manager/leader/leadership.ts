import { failedPrecondition } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { LeaderLeaseTable } from '../store/leader-lease';
import { decideAcquire, decideRelease, decideRenew, holds, type Candidate, type LeaseRow } from './lease';

export interface LeaseConfig {
  // How long a lease lasts without a renew: a follower takes over at most this long (plus one
  // try) after the leader stops renewing.
  leaseMs: number;
  // How often the leader renews, and a follower tries to take the lease.
  renewMs: number;
}

// Takeover within 10 s: 5 s of lease, a try a second, and a manager's start-up.
export const DEFAULT_LEASE: LeaseConfig = { leaseMs: 5000, renewMs: 1000 };

// This manager's side of the lease: take it, keep it, and step down the moment it is gone
// (a renew refused, or a write that finds another holder). Stepping down is `onLost`: main
// ends the process, which stops every engine, reconciler and in-flight step at once.
export class Leadership {
  epoch = 0;
  private expiresAtMs = 0;
  private timer?: NodeJS.Timeout;
  private down = false;

  constructor(
    private readonly table: LeaderLeaseTable,
    readonly me: Candidate,
    readonly cfg: LeaseConfig,
    private readonly log: Logger,
    private readonly onLost: (why: string) => void,
  ) {}

  leader(): LeaseRow | undefined {
    return this.table.read();
  }

  tryAcquire(nowMs = Date.now()): boolean {
    const { before, after } = this.table.update((cur) => decideAcquire(cur, this.me, nowMs, this.cfg.leaseMs));
    if (!after) return false;
    this.epoch = after.epoch;
    this.expiresAtMs = after.expiresAtMs;
    this.log.info({ epoch: after.epoch, previous: before ? { holder: before.holder, epoch: before.epoch } : undefined, leaseMs: this.cfg.leaseMs }, 'took the leader lease');
    return true;
  }

  // Resolves once this manager holds the lease; `waiting` is told of each failed try.
  async acquire(waiting: (leader: LeaseRow | undefined) => void): Promise<void> {
    for (;;) {
      try {
        if (this.tryAcquire()) return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'could not read the leader lease; trying again');
      }
      waiting(this.leader());
      await new Promise((r) => setTimeout(r, this.cfg.renewMs));
    }
  }

  startRenewing(): void {
    this.timer = setInterval(() => this.renew(), this.cfg.renewMs);
  }

  renew(nowMs = Date.now()): void {
    if (this.down) return;
    try {
      const { before, after } = this.table.update((cur) => decideRenew(cur, { id: this.me.id, epoch: this.epoch }, nowMs, this.cfg.leaseMs));
      if (!after) return this.stepDown(`the lease is held by ${before?.holder ?? 'nobody'} with epoch ${before?.epoch ?? 0}`);
      this.expiresAtMs = after.expiresAtMs;
    } catch (err) {
      // A store that cannot be written: keep trying until the lease runs out, then go.
      if (nowMs >= this.expiresAtMs) this.stepDown(`the lease could not be renewed before it ran out: ${(err as Error).message}`);
    }
  }

  // Run first in every store transaction (Store.fence): a deposed leader's write is refused and
  // it steps down, even before its renew timer notices.
  check(): void {
    const cur = this.table.read();
    if (holds(cur, { id: this.me.id, epoch: this.epoch })) return;
    const why = `the lease is held by ${cur?.holder ?? 'nobody'} with epoch ${cur?.epoch ?? 0}`;
    this.stepDown(why);
    throw failedPrecondition(`this manager (epoch ${this.epoch}) is no longer the leader: ${why}; write refused`);
  }

  // A clean stop: the lease runs out now, so a follower need not wait for it.
  release(): void {
    if (this.down || !this.epoch) return;
    this.down = true;
    clearInterval(this.timer);
    try {
      this.table.update((cur) => decideRelease(cur, { id: this.me.id, epoch: this.epoch }, Date.now()));
    } catch {
      // It runs out by itself.
    }
  }

  private stepDown(why: string): void {
    if (this.down) return;
    this.down = true;
    clearInterval(this.timer);
    this.log.error({ epoch: this.epoch, why }, 'lost the leader lease: stepping down');
    this.onLost(why);
  }
}

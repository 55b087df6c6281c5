import type { WriteLease as LeaseMsg } from '../src/gen/berth/v1/WriteLease';
import { errorMessage } from '../src/errors';
import type { Logger } from '../src/log';

// Fencing of an isolated primary (docs/design.md, "Failover"). The manager names, in every
// heartbeat answer, the instances that may stay writable only while this agent hears from it.
// When no heartbeat was answered for lease_ms (counted from when that heartbeat was SENT, so
// the agent never believes in a lease longer than the manager granted), the agent ends client
// sessions and makes those instances read-only, before the manager's failure detection (which
// waits longer) can promote a replica. Only the manager makes them writable again.
export class WriteLease {
  private leaseMs = 0;
  private ids: string[] = [];
  private renewedAtMs = 0;
  private readonly fencedIds = new Set<string>();
  private fencing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fence: (id: string) => Promise<void>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(checkMs = 200): void {
    this.timer = setInterval(() => void this.check(), checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  // A heartbeat sent at `sentAtMs` was answered with this lease.
  renew(sentAtMs: number, lease: LeaseMsg | null | undefined): void {
    this.leaseMs = lease?.leaseMs ?? 0;
    this.ids = lease?.instanceIds ?? [];
    this.renewedAtMs = Math.max(this.renewedAtMs, sentAtMs);
  }

  expired(): boolean {
    return this.leaseMs > 0 && this.ids.length > 0 && this.now() - this.renewedAtMs > this.leaseMs;
  }

  // Reported in heartbeats while the instance is still read-only; the manager clears it by
  // making the instance writable.
  isFenced(id: string, readOnly: boolean): boolean {
    if (!readOnly) this.fencedIds.delete(id);
    return this.fencedIds.has(id);
  }

  async check(): Promise<void> {
    if (this.fencing || !this.expired()) return;
    this.fencing = true;
    try {
      for (const id of this.ids.filter((i) => !this.fencedIds.has(i))) {
        try {
          await this.fence(id);
          this.fencedIds.add(id);
          this.log.warn({ instance: id, leaseMs: this.leaseMs, silentMs: this.now() - this.renewedAtMs }, 'write lease expired: instance made read-only and its sessions ended');
        } catch (err) {
          this.log.error({ instance: id, err: errorMessage(err) }, 'write lease expired but the instance could not be made read-only; retrying');
        }
      }
    } finally {
      this.fencing = false;
    }
  }
}

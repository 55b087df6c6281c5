import type { WriteLease as LeaseMsg } from '../src/gen/berth/v1/WriteLease';
import { errorMessage } from '../src/errors';
import type { Logger } from '../src/log';
import type { ReadOnlyOrder } from './write-gate';

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
  // Cluster primaries the manager made writable (agent/write-gate.ts) that no heartbeat answer
  // has named yet: covered from their grant's base, for the grant's length, until an answer
  // names them (then by the lease) or they are made read-only. Without this a primary promoted
  // just before its host was cut off would stay writable for as long as the cut lasts.
  private readonly granted = new Map<string, { sinceMs: number; ms: number }>();
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
    for (const id of this.ids) this.granted.delete(id);
  }

  // A SetReadOnly the write gate admitted was carried out (agent/write-gate.ts).
  applied(id: string, req: ReadOnlyOrder): void {
    if (req.readOnly) {
      this.granted.delete(id);
      return;
    }
    // Writable again by the manager's decision: a later silence fences it again.
    this.fencedIds.delete(id);
    if (req.leased && !this.ids.includes(id)) this.granted.set(id, { sinceMs: Number(req.grantBaseMs), ms: req.grantMs });
  }

  expired(): boolean {
    return this.expiredIds().length > 0;
  }

  private expiredIds(): string[] {
    const now = this.now();
    const out = this.leaseMs > 0 && now - this.renewedAtMs > this.leaseMs ? [...this.ids] : [];
    for (const [id, g] of this.granted) if (now - Math.max(g.sinceMs, this.renewedAtMs) > g.ms && !out.includes(id)) out.push(id);
    return out;
  }

  // Reported in heartbeats while the instance is still read-only; the manager clears it by
  // making the instance writable.
  isFenced(id: string, readOnly: boolean): boolean {
    if (!readOnly) this.fencedIds.delete(id);
    return this.fencedIds.has(id);
  }

  async check(): Promise<void> {
    if (this.fencing) return;
    const expired = this.expiredIds().filter((i) => !this.fencedIds.has(i));
    if (!expired.length) return;
    this.fencing = true;
    try {
      for (const id of expired) {
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

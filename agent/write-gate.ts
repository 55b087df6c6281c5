import { failedPrecondition } from '../src/errors';

export interface ReadOnlyOrder {
  readOnly: boolean;
  seq: number;
  grantBaseMs: number;
  grantMs: number;
  // A cluster primary: once writable it is covered by the write lease at once (WriteLease.cover).
  leased?: boolean;
}

// Making a server writable is the one request that, delivered late, makes a second primary: a
// SetReadOnly(false) the manager sent just before a partition sits in TCP's retransmission
// queue and reaches the agent when the partition heals, long after the manager fenced that
// server and promoted another (seen: an old primary writable again for a moment after the heal,
// acknowledging a pinned client's writes). gRPC cannot tell: its deadline travels as a relative
// timeout and starts again on arrival. So the agent checks the request itself:
// - a grant: the agent's own clock when it sent the heartbeat the manager decided on, and how
//   long that decision is good for (the manager's write lease). Older than that, the manager may
//   have given up on this node and promoted a replica: refused. Measured on the agent's clock
//   only, like the write lease, so no two clocks are compared.
// - not older than the write lease's own fencing of that instance: a decision made on a report
//   from before the agent found itself cut off does not undo the fence.
// - order: a request numbered below one already applied to that instance (a close sent after
//   it) is refused; closing is always allowed.
export class WriteGate {
  private readonly lastSeq = new Map<string, number>();
  private readonly fencedAt = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  // Throws FAILED_PRECONDITION (nothing changed) when the request may not open the instance.
  admit(id: string, req: ReadOnlyOrder): void {
    const seq = Number(req.seq) || 0;
    const last = this.lastSeq.get(id) ?? 0;
    if (seq > last) this.lastSeq.set(id, seq);
    if (req.readOnly) return;
    if (seq <= 0) throw failedPrecondition(`instance ${id} stays read-only: the request to make it writable carries no order number (a manager older than this agent?)`);
    if (seq < last) throw failedPrecondition(`instance ${id} stays read-only: a later read-only request (${last}) was applied before this one (${seq}) arrived`);
    const base = Number(req.grantBaseMs) || 0;
    const age = this.now() - base;
    if (base <= 0 || !(req.grantMs > 0)) throw failedPrecondition(`instance ${id} stays read-only: the request to make it writable carries no write grant`);
    if (age > req.grantMs) throw failedPrecondition(`instance ${id} stays read-only: the write grant is based on a heartbeat sent ${age} ms ago and was good for ${req.grantMs} ms (a request delivered late: the manager decides again on a fresh report)`);
    const fenced = this.fencedAt.get(id) ?? 0;
    if (base <= fenced) throw failedPrecondition(`instance ${id} stays read-only: its write lease ran out ${this.now() - fenced} ms ago, after the heartbeat this grant is based on`);
  }

  // The write lease made it read-only (agent/write-lease.ts).
  fenced(id: string): void {
    this.fencedAt.set(id, this.now());
  }

  // Told once an admitted request was carried out (agent/main.ts hands it to the write lease).
  onApplied: (id: string, req: ReadOnlyOrder) => void = () => undefined;
}

import type { Subject } from '../store/operations';

const RANK: Record<Subject['kind'], number> = { cluster: 0, node: 1, instance: 2 };

// The fixed order every operation's subjects are taken in: clusters, then nodes, then
// instances, each by name.
export function lockOrder(subjects: readonly Subject[]): string[] {
  const keys = [...subjects].sort((a, b) => RANK[a.kind] - RANK[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((s) => `${s.kind}:${s.name}`);
  return [...new Set(keys)];
}

interface Waiter {
  opId: string;
  keys: string[];
  family: ReadonlySet<string>;
  grant: () => void;
}

// Which operation holds which subject. An operation takes all of its subjects at once or
// none, waiting without holding anything, so no cycle of waits (a deadlock) can form; waiters
// are served first come, first served, so a later operation never overtakes an earlier one on
// a shared subject. A child operation shares what its ancestors hold (a drain holds the node
// its migrations move instances off).
export class LockTable {
  private readonly holders = new Map<string, string>();
  private readonly held = new Map<string, string[]>();
  private queue: Waiter[] = [];
  private readonly waiting = new Map<string, Promise<void>>();

  // The operation that holds, or waits earlier for, one of these subjects (undefined: free).
  blocker(keys: readonly string[], family: ReadonlySet<string>, opId = ''): string | undefined {
    return this.blockers(keys, family, opId)[0];
  }

  // Every such operation, holders first.
  blockers(keys: readonly string[], family: ReadonlySet<string>, opId = ''): string[] {
    const out = new Set<string>();
    for (const k of keys) {
      const h = this.holders.get(k);
      if (h && h !== opId && !family.has(h)) out.add(h);
    }
    for (const w of this.queue) {
      if (w.opId === opId) break;
      if (!family.has(w.opId) && w.keys.some((k) => keys.includes(k))) out.add(w.opId);
    }
    return [...out];
  }

  // Queues the operation (once: asked again while it waits, the same promise).
  acquire(opId: string, keys: string[], family: ReadonlySet<string>): Promise<void> {
    if (this.held.has(opId)) return Promise.resolve();
    const waiting = this.waiting.get(opId);
    if (waiting) return waiting;
    const p = new Promise<void>((grant) => {
      this.queue.push({ opId, keys, family, grant });
    });
    this.waiting.set(opId, p);
    this.grantWaiting();
    return p;
  }

  // Gives up what it holds, or its place in the queue.
  release(opId: string): void {
    this.waiting.delete(opId);
    this.queue = this.queue.filter((w) => w.opId !== opId);
    for (const k of this.held.get(opId) ?? []) if (this.holders.get(k) === opId) this.holders.delete(k);
    this.held.delete(opId);
    this.grantWaiting();
  }

  holds(key: string): string | undefined {
    return this.holders.get(key);
  }

  private grantWaiting(): void {
    const still: Waiter[] = [];
    for (const w of this.queue) {
      const free = w.keys.every((k) => {
        const h = this.holders.get(k);
        return !h || w.family.has(h);
      });
      const overtakes = still.some((e) => !w.family.has(e.opId) && e.keys.some((k) => w.keys.includes(k)));
      if (!free || overtakes) {
        still.push(w);
        continue;
      }
      const mine = w.keys.filter((k) => !this.holders.has(k));
      for (const k of mine) this.holders.set(k, w.opId);
      this.held.set(w.opId, mine);
      this.waiting.delete(w.opId);
      w.grant();
    }
    this.queue = still;
  }
}

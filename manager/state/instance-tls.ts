import type { Store } from '../store/index';

type Tls = 'none' | 'offered' | 'required';
const tlsOf = (t: { tls: boolean; required: boolean }): Tls => (!t.tls ? 'none' : t.required ? 'required' : 'offered');

// The TLS an instance's mysqld serves, as the agent of the node it is placed on reports it in
// every heartbeat (from the instance's record): the API says what a client meets now — after a
// migration to another node, a re-create — not what the first create answered. The store is
// written only when it changes; what it holds is remembered so a steady heartbeat reads nothing.
export class InstanceTlsState {
  private readonly known = new Map<string, Tls>();

  constructor(private readonly store: Store) {}

  report(node: string, instances: readonly { id: string; tls: boolean; tlsRequired: boolean }[]): void {
    for (const r of instances) {
      const now = tlsOf({ tls: r.tls, required: r.tlsRequired });
      if (this.known.get(r.id) === now) continue;
      // A migration's target reports the same id from its node until the cut-over moves the row.
      const row = this.store.instances.get(r.id);
      if (!row || row.node !== node) continue;
      if (tlsOf(this.store.instanceTls.get(r.id)) !== now) this.store.instanceTls.set(r.id, { tls: r.tls, required: r.tlsRequired });
      this.known.set(r.id, now);
    }
  }
}

import type { InstanceRow, InstanceState } from '../store/instances';

export interface Reported {
  id: string;
  state: string;
  containerId: string;
}

// States an operation owns: a heartbeat must not overwrite them mid-way.
const OWNED_BY_OPERATION: ReadonlySet<InstanceState> = new Set(['pending', 'creating', 'deleting', 'failed']);

// What the store should say about a node's instances given what its agent reports. Pure: the
// caller applies the updates. Instances the agent has but the store does not are returned as
// `unknown` and left alone: they may hold a DBA's data.
export function reconcile(stored: InstanceRow[], reported: Reported[]): { updates: { id: string; state: InstanceState; containerId?: string }[]; unknown: string[] } {
  const byId = new Map(reported.map((r) => [r.id, r]));
  const updates: { id: string; state: InstanceState; containerId?: string }[] = [];
  for (const s of stored) {
    if (OWNED_BY_OPERATION.has(s.state)) continue;
    const r = byId.get(s.id);
    const state: InstanceState = !r ? 'missing' : r.state === 'running' ? 'running' : r.state === 'restarting' ? 'restarting' : 'stopped';
    if (state !== s.state || (r && r.containerId !== s.containerId)) updates.push({ id: s.id, state, containerId: r?.containerId });
  }
  const known = new Set(stored.map((s) => s.id));
  return { updates, unknown: reported.filter((r) => !known.has(r.id)).map((r) => r.id) };
}

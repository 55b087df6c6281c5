import type { EndpointRow } from '../store/endpoints';

// The routing each router node should have (pure): one HAProxy frontend per endpoint on it.
// rw: one server, the cluster's primary (maintenance when there is none it may send to).
// ro: fixed slots for healthy replicas under the lag threshold, the primary as the backup
// server (used only when no replica qualifies). instance: the instance itself.

export interface Member {
  id: string;
  host: string;
  port: number;
  clusterName: string;
  role: string;
  fenced: boolean;
  running: boolean;
  // Seconds behind its source as last reported; undefined: unknown (not used for reads).
  lagSeconds?: number;
}

export type RouteTarget = string | null | { host: string; port: number };

export interface Server {
  name: string;
  host: string;
  port: number;
  ready: boolean;
  backup: boolean;
}

export interface Frontend {
  name: string;
  port: number;
  servers: Server[];
}

export interface DesiredInput {
  endpoints: EndpointRow[];
  members: Member[];
  // An operation moving a primary (a cluster's) or an instance (a migration) decides where its
  // endpoint leads meanwhile: an instance id, an address (a migration's target), or null for
  // nowhere (closed). Keyed by cluster name or instance id; wins over the store until released.
  overrides: Map<string, RouteTarget>;
  maxLagSeconds: number;
}

// Slots keep the frontend's shape (what a reload is needed for) while replicas come and go.
export const RO_SLOTS = 8;
const NOWHERE = { host: '127.0.0.1', port: 1 };

export function desiredFor(node: string, i: DesiredInput): Frontend[] {
  const byId = new Map(i.members.map((m) => [m.id, m]));
  return i.endpoints.filter((e) => e.node === node).map((e) => ({ name: e.name, port: e.port, servers: serversOf(e, i, byId) }));
}

function serversOf(e: EndpointRow, i: DesiredInput, byId: Map<string, Member>): Server[] {
  if (e.kind === 'instance') return [server('s0', i.overrides.has(e.instanceId) ? resolve(i.overrides.get(e.instanceId)!, byId) : byId.get(e.instanceId), false)];
  const primary = primaryOf(e.clusterName, i, byId);
  if (e.kind === 'rw') return [server('s0', primary, false)];
  const replicas = i.members
    .filter((m) => m.clusterName === e.clusterName && m.role === 'replica' && !m.fenced && m.running && m.lagSeconds !== undefined && m.lagSeconds >= 0 && m.lagSeconds <= i.maxLagSeconds && m.id !== primary?.id)
    .sort((a, b) => a.id.localeCompare(b.id))
    .slice(0, RO_SLOTS);
  const slots = Array.from({ length: RO_SLOTS }, (_, k) => server(`r${k}`, replicas[k], false));
  return [...slots, server('p', primary, true)];
}

// The override when an operation holds one, else the store's unfenced primary.
function primaryOf(cluster: string, i: DesiredInput, byId: Map<string, Member>): (Pick<Member, 'host' | 'port'> & { id?: string }) | undefined {
  if (i.overrides.has(cluster)) return resolve(i.overrides.get(cluster)!, byId);
  return i.members.find((m) => m.clusterName === cluster && m.role === 'primary' && !m.fenced);
}

function resolve(t: RouteTarget, byId: Map<string, Member>): Pick<Member, 'host' | 'port'> & { id?: string } | undefined {
  if (t === null) return undefined;
  return typeof t === 'string' ? byId.get(t) : t;
}

function server(name: string, m: Pick<Member, 'host' | 'port'> | undefined, backup: boolean): Server {
  return m && m.host ? { name, host: m.host, port: m.port, ready: true, backup } : { name, ...NOWHERE, ready: false, backup };
}

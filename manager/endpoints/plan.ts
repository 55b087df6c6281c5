import type { EndpointKind, EndpointRow } from '../store/endpoints';

// Which endpoints should exist and where new ones go (pure). Every cluster has a read-write and
// a read-only endpoint, every standalone instance one; each is a port on a router node: nodes
// labelled router=true, or every node when none is (a small fleet). Each endpoint is served by
// two routers on distinct nodes when there are two router nodes: its own row and a second one
// (`<name>-2`, same kind and owner, another node), so losing a router's host loses no endpoint
// (clients get both addresses). A one-router fleet has the first only.

export interface PlanNode {
  name: string;
  labels: Record<string, string>;
  cordoned: boolean;
  // Ports something listens on, and the node's instance ports: never handed out.
  busyPorts: number[];
}

export interface PlanInput {
  clusters: string[];
  standalone: string[];
  nodes: PlanNode[];
  endpoints: EndpointRow[];
  range: [number, number];
}

export interface Plan {
  add: Omit<EndpointRow, 'createdAt'>[];
  remove: string[];
  // Endpoints that could not be placed (no router node, no free port), with why.
  unplaced: { name: string; reason: string }[];
}

export const clusterEndpointName = (cluster: string, kind: 'rw' | 'ro') => `c-${cluster}-${kind}`;
export const instanceEndpointName = (id: string) => id;
// The second router's row of an endpoint: its own frontend name, the same routing.
export const secondRouterName = (name: string) => `${name}-2`;

export function routerNodes(nodes: PlanNode[]): PlanNode[] {
  const labelled = nodes.filter((n) => n.labels.router === 'true');
  return (labelled.length ? labelled : nodes).filter((n) => !n.cordoned);
}

// `firstOf`: a second router's row names the endpoint's first row.
type Wanted = { name: string; kind: EndpointKind; clusterName: string; instanceId: string; firstOf?: string };

function wanted(i: PlanInput): Wanted[] {
  const first = [
    ...i.clusters.flatMap((c) => (['rw', 'ro'] as const).map((kind) => ({ name: clusterEndpointName(c, kind), kind, clusterName: c, instanceId: '' }))),
    ...i.standalone.map((id) => ({ name: instanceEndpointName(id), kind: 'instance' as const, clusterName: '', instanceId: id })),
  ];
  return first.flatMap((w) => [w, { ...w, name: secondRouterName(w.name), firstOf: w.name }]);
}

export function planEndpoints(i: PlanInput): Plan {
  const want = wanted(i);
  const wantNames = new Set(want.map((w) => w.name));
  const have = new Map(i.endpoints.map((e) => [e.name, e]));
  const remove = i.endpoints.filter((e) => !wantNames.has(e.name)).map((e) => e.name);
  const kept = i.endpoints.filter((e) => wantNames.has(e.name));
  const used = new Map<string, Set<number>>();
  const load = new Map<string, number>();
  for (const e of kept) {
    (used.get(e.node) ?? used.set(e.node, new Set()).get(e.node)!).add(e.port);
    load.set(e.node, (load.get(e.node) ?? 0) + 1);
  }
  const routers = routerNodes(i.nodes);
  const add: Plan['add'] = [];
  const unplaced: Plan['unplaced'] = [];
  const nodeOf = new Map(kept.map((e) => [e.name, e.node]));
  // Firsts before seconds: a second goes anywhere but where its first is.
  for (const w of [...want.filter((w) => !w.firstOf), ...want.filter((w) => w.firstOf)]) {
    if (have.has(w.name)) continue;
    const firstNode = w.firstOf ? nodeOf.get(w.firstOf) : undefined;
    if (w.firstOf && !firstNode) continue;
    const candidates = routers.filter((n) => n.name !== firstNode);
    // One router node: no second, and nothing to warn about.
    if (w.firstOf && !candidates.length) continue;
    const placed = place(candidates, used, load, i.range);
    if (!placed) {
      unplaced.push({ name: w.name, reason: routers.length ? `no free endpoint port in ${i.range[0]}-${i.range[1]} on any router node${firstNode ? ` but ${firstNode}` : ''}` : 'no router node' });
      continue;
    }
    const { firstOf: _firstOf, ...row } = w;
    add.push({ ...row, ...placed });
    nodeOf.set(w.name, placed.node);
  }
  return { add, remove, unplaced };
}

// The least loaded router node (then by name) with a free port, the lowest free port there.
function place(routers: PlanNode[], used: Map<string, Set<number>>, load: Map<string, number>, range: [number, number]): { node: string; port: number } | undefined {
  const order = [...routers].sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || a.name.localeCompare(b.name));
  for (const n of order) {
    const taken = new Set([...(used.get(n.name) ?? []), ...n.busyPorts]);
    for (let p = range[0]; p <= range[1]; p++) {
      if (taken.has(p)) continue;
      (used.get(n.name) ?? used.set(n.name, new Set()).get(n.name)!).add(p);
      load.set(n.name, (load.get(n.name) ?? 0) + 1);
      return { node: n.name, port: p };
    }
  }
  return undefined;
}

import type { StableEndpoint } from '../../src/gen/berth/v1/StableEndpoint';
import type { Store } from '../store/index';
import type { InstanceRow } from '../store/instances';

// The stable endpoints of a cluster, or the ones to show with an instance: its own when
// standalone, its cluster's when a member. The host is the router node's address.
export function stableEndpoints(store: Store, of: { cluster: string } | { instance: InstanceRow }): StableEndpoint[] {
  const rows = 'cluster' in of ? store.endpoints.ofCluster(of.cluster) : of.instance.clusterName ? store.endpoints.ofCluster(of.instance.clusterName) : store.endpoints.ofInstance(of.instance.id);
  return rows.map((e) => ({ name: e.name, kind: e.kind, host: store.nodes.get(e.node)?.host ?? '', port: e.port, node: e.node }));
}

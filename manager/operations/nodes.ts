import type { Snapshot } from '../scheduler/snapshot';
import type { Store } from '../store/index';

// Cordon and uncordon, for the gRPC portal and the admin HTTP API alike: the store row, its
// event and the scheduler's snapshot change together. The caller has checked the node exists.
export function setCordoned(
  store: Store,
  snapshot: Snapshot,
  name: string,
  cordoned: boolean,
  event = cordoned
    ? { kind: 'node.cordoned', message: 'no new instances will be placed here' }
    : { kind: 'node.uncordoned', message: 'open for new instances' },
): void {
  store.tx(() => {
    store.nodes.setCordoned(name, cordoned);
    store.events.add(event.kind, name, event.message);
  });
  snapshot.setCordoned(name, cordoned);
}

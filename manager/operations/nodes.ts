import { failedPrecondition } from '../../src/errors';
import type { OperationDeps } from './deps';
import { mustBeDown } from './placement';

// Forgets a node (and, with force, every instance on it without calling the node) in one
// change. Not an operation: nothing is asked of any agent. Refused while its agent heartbeats
// (it would only register again) and while an operation holds one of its instances.
export function removeNode(d: OperationDeps, busy: (instanceId: string) => boolean, name: string, force: boolean): string[] {
  mustBeDown(d, name, `remove node ${name}`);
  const fleet = d.fleet;
  return fleet.change(() => {
    const placed = fleet.store.instances.onNode(name);
    if (placed.length && !force) throw failedPrecondition(`node ${name} still has ${placed.length} instances (${placed.slice(0, 5).map((i) => i.name).join(', ')}${placed.length > 5 ? ', …' : ''}): delete them, or remove it with force to forget them`);
    const held = placed.find((i) => busy(i.id));
    if (held) throw failedPrecondition(`instance ${held.name} on node ${name} is held by an operation (berthctl operation list): wait for it or fix it first`);
    for (const i of placed) {
      fleet.releaseInstance(i.id);
      fleet.event('instance.force_deleted', i.id, `${i.name} forgotten with node ${name}; its container and files may remain at ${i.diskPath}/berth/${i.id} (port ${i.port})`);
    }
    fleet.removeNode(name);
    return placed.map((i) => i.name);
  });
}

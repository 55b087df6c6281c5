import { failedPrecondition, notFound } from '../../src/errors';
import type { Flavor } from '../../src/mysql/dialect';
import { formatGtidSet, parseGtidSet } from '../../src/mysql/gtid';
import type { Instances, InstanceStatus } from '../instance/lifecycle';
import { layoutFor } from '../instance/layout';
import { onSocket, type Session as SocketSession } from '../session';

// A session on one running instance of this node, with what the agent knows of it.
export interface Session extends SocketSession {
  inst: InstanceStatus;
}

// One socket connection as root to a running instance, closed afterwards.
export async function withInstance<T>(instances: Instances, id: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const inst = await instances.get(id);
  if (!inst) throw notFound(`instance ${id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${id} is ${inst.state}, not running`);
  return onSocket(layoutFor(inst.diskPath, id).socket, inst.flavor as Flavor, (s) => fn({ ...s, inst }));
}

export async function executedGtid(s: SocketSession): Promise<string> {
  const [row] = await s.rows<{ gtid: string | null }>(s.d.executedGtid());
  return formatGtidSet(parseGtidSet(s.d.flavor, row?.gtid ?? ''));
}

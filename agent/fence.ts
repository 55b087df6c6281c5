import fs from 'node:fs/promises';
import { failedPrecondition } from '../src/errors';
import { dialectFor, type Flavor } from '../src/mysql/dialect';
import { layoutFor } from './instance/layout';
import { withReplicaSection } from './movement/replica-cnf';
import type { Logger } from '../src/log';
import type { DockerEngine } from './docker';
import type { Instances } from './instance/lifecycle';
import type { Replication } from './movement/replication';

const SETTLE_MS = 1000;
const READ_ONLY_MS = 2000;

// What the agent does to a primary whose write lease ran out (agent/write-lease.ts): no client
// may get an acknowledgement from it any more. Sessions are ended and the server made
// read-only; but a commit already waiting for a semi-sync acknowledgement cannot be killed
// (MariaDB 10.11 keeps it waiting, MDEV-33551) and would be acknowledged when the semi-sync
// timeout passes, after a replica may have been promoted: when a killed session is still there
// after a second, or read-only cannot be set (it waits for that commit), mysqld is killed
// (SIGKILL: no shutdown that waits for acknowledgements), so its client gets a broken
// connection instead of an OK. Docker does not restart a killed container.
export function leaseFence(repl: Replication, instances: Instances, docker: Pick<DockerEngine, 'kill'>, log: Logger) {
  const kill = async (id: string, why: string) => {
    const i = await instances.get(id);
    if (i?.containerId) await docker.kill(i.containerId);
    log.error({ instance: id, why }, 'write lease expired: mysqld killed so that no waiting commit is acknowledged');
  };
  return async (id: string): Promise<void> => {
    // A stopped mysqld acknowledges nothing: fenced already.
    if ((await instances.get(id))?.state !== 'running') return;
    if ((await repl.killClientsWithin(id, SETTLE_MS)).left > 0) return kill(id, 'a session stayed after KILL (a commit waiting for a semi-sync acknowledgement)');
    const ro = repl.setReadOnly({ id, readOnly: true, persist: false });
    const timedOut = await Promise.race([ro.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), READ_ONLY_MS))]);
    if (timedOut) return kill(id, `read-only not set within ${READ_ONLY_MS} ms (a commit holds it)`);
    if ((await repl.killClientsWithin(id, SETTLE_MS)).left > 0) return kill(id, 'a session stayed after KILL');
  };
}

// Before a fenced instance's mysqld starts again (to read what it executed before it is
// rebuilt): its my.cnf gets the replica section, so it boots read-only with replication not
// started and no client can write to it meanwhile.
export async function readOnlyAtBoot(instances: Instances, id: string): Promise<void> {
  const i = await instances.get(id);
  if (!i) throw failedPrecondition(`instance ${id} is not on this node`);
  const file = layoutFor(i.diskPath, id).mycnf;
  const cnf = await fs.readFile(file, 'utf8');
  await fs.writeFile(file, withReplicaSection(cnf, dialectFor(i.flavor as Flavor).replicaSettings()), { mode: 0o644 });
}

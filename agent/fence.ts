import fs from 'node:fs/promises';
import { failedPrecondition } from '../src/errors';
import { dialectFor, type Flavor } from '../src/mysql/dialect';
import { layoutFor } from './instance/layout';
import { withReplicaSection } from './movement/replica-cnf';
import type { Logger } from '../src/log';
import type { DockerEngine } from './docker';
import type { Instances } from './instance/lifecycle';
import type { Replication } from './movement/replication';

// How long killed sessions get to end, and the whole fence's bound before mysqld is killed:
// the fence must be over before the manager may start a failover, which is the silence
// threshold after the agent's last heartbeat (by default 2 s after the lease runs out; the
// suites run with the same margin). Read-only and the sessions' end run side by side: one after
// the other they took up to 3 s, and a cut-off primary acknowledged a write after a replica had
// been promoted (found by the failover bench at a 0.5 s margin).
const SETTLE_MS = 500;
const FENCE_MS = 1000;

// What the agent does to a primary whose write lease ran out (agent/write-lease.ts): no client
// may get an acknowledgement from it any more. The server is made read-only while every client
// session is ended; but a commit already waiting for a semi-sync acknowledgement cannot be killed
// (MariaDB 10.11 keeps it waiting, MDEV-33551) and would be acknowledged when the semi-sync
// timeout passes, after a replica may have been promoted: when a killed session is still there,
// or read-only is not set within FENCE_MS (it waits for that commit), mysqld is killed
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
    // Read-only first: a client whose session is ended and that connects again cannot write.
    // An error (mysqld not answering its socket) is thrown: the lease tries again at its next
    // check, as before (a member booting is read-only by its my.cnf anyway).
    const ro = repl.setReadOnly({ id, readOnly: true, persist: false }).then(() => true);
    ro.catch(() => undefined);
    const sessions = repl.killClientsWithin(id, SETTLE_MS).then((r) => r.left);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), FENCE_MS)));
    try {
      if ((await sessions) > 0) return await kill(id, 'a session stayed after KILL (a commit waiting for a semi-sync acknowledgement)');
      if (!(await Promise.race([ro, bound]))) return await kill(id, `read-only not set within ${FENCE_MS} ms (a commit holds it)`);
    } finally {
      clearTimeout(timer);
    }
    // Sessions opened while read-only was being set can no longer write; they are ended so that
    // their clients look for the primary elsewhere instead of reading a fenced server.
    await repl.killClientsWithin(id, SETTLE_MS).catch(() => undefined);
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

import type { Flavor } from '../../src/mysql/dialect';
import type { GroupConfig } from '../../src/mysql/dialect-interface';
import { waitFor } from '../../src/wait';
import { onSocket } from '../session';

// A Galera member at its create (docs/design.md, "Consensus clusters: Galera"): mysqld answers
// on its socket once a joiner's state transfer is done, but takes queries only once it is Synced
// with the Primary component; the agent's own set-up (admin account) waits for that.

export const isGalera = (g: GroupConfig | undefined): boolean => !!g?.galera;

// Synced, ready and in the Primary component, or the reason it is not yet.
export async function waitSynced(flavor: Flavor, socket: string, timeoutMs: number, stop: () => Promise<string | undefined>): Promise<void> {
  await waitFor(
    'the member did not reach Synced in the Primary component',
    () =>
      onSocket(socket, flavor, async (s) => {
        const self = s.d.group!.self(s.d.group!.parseMembers(await s.rows(s.d.group!.members())));
        if (self?.state !== 'Synced' || self.online === 0) throw new Error(`it is ${self ? `${self.state}/${self.role}` : 'not a Galera member'}`);
      }),
    { timeoutMs, intervalMs: 500, stop },
  );
}

// On the first member, before any other joins: the state transfer account, so every copy has it.
export async function createSstUser(flavor: Flavor, socket: string, g: GroupConfig): Promise<void> {
  const w = g.galera!;
  await onSocket(socket, flavor, (s) => s.run(s.d.group!.createSstUser!(w.sstUser, w.sstPassword), [w.sstPassword]));
}

// What the member's my.cnf and record say after its first start: join the peers, never make a
// new cluster again (a restarted first member must not start a second cluster).
export function joined(g: GroupConfig): GroupConfig {
  return { ...g, galera: { ...g.galera!, bootstrap: false } };
}

import type { DiskInfo__Output } from '../../src/gen/berth/v1/DiskInfo';
import { unseenTransactions } from '../../src/mysql/origins';
import type { Endpoint } from './types';

// What became of a copy berth gave up on.
export interface Discarded {
  existed: boolean;
  // Deleted at once; otherwise kept in the disk's trash at trashPath.
  purged: boolean;
  trashPath: string;
  // Transactions it held that the server that stays lacks ('' none); count -1: not read.
  unseenGtids: string;
  unseenCount: number;
  // The agent's disks after the removal (space a purge freed counts at once).
  disks: DiskInfo__Output[];
}

// Called with a copy whose data went to the trash instead of being deleted.
export type OnDiscarded = (d: Discarded) => void;

// Removes one copy of an instance (a failed seed, an abandoned migration target, a retired
// source). Deleted at once only when its transactions were read and the server that stays has
// every one of them: a copy mysqld ran on may have acknowledged a write (a client that kept an
// old address, a privileged session), and nothing berth deletes may hold one. Otherwise, or when
// it cannot be read, the agent keeps it in the disk's trash and the caller records where.
export async function discardCopy(copy: Pick<Endpoint, 'id' | 'flavor' | 'agent'> & { diskPath: string; node?: string }, survivor: Pick<Endpoint, 'id' | 'agent'> | undefined, deadlineMs = 120_000): Promise<Discarded> {
  const origins = (e: Pick<Endpoint, 'id' | 'agent'>) =>
    e.agent.getReplicaStatus({ id: e.id }, 5000).then(
      (s) => s.originGtids,
      () => undefined,
    );
  const [mine, theirs] = await Promise.all([origins(copy), survivor ? origins(survivor) : undefined]);
  const unseen = mine !== undefined && theirs !== undefined ? unseenTransactions(copy.flavor, mine, theirs) : undefined;
  const r = await copy.agent.removeInstance({ id: copy.id, diskPath: copy.diskPath, ...(copy.node ? { node: copy.node } : {}), purge: true, purgeStartedData: unseen?.count === 0 }, deadlineMs);
  return { existed: r.existed, purged: !r.trashPath, trashPath: r.trashPath, unseenGtids: unseen?.gtids ?? '', unseenCount: unseen?.count ?? -1, disks: r.disks ?? [] };
}

import { contains, describe, isEmpty, parseGtidSet, subtract, union, formatGtidSet, type GtidSet } from '../../src/mysql/gtid';
import type { Flavor } from '../../src/mysql/dialect';

// Pure decisions of continuous binlog archiving (docs/backup.md): where the archiver runs, and
// whether a piece continues the archive without a gap.

// A host other than the primary's when the fleet has one: the current one while it stays
// healthy and is not the primary's (no move, no restart), else the first such by name; the
// primary's own host only when it is the only one left.
export function chooseArchiverNode(o: { current: string; primaryNode: string; healthy: string[] }): string | undefined {
  const others = o.healthy.filter((n) => n !== o.primaryNode).sort();
  if (o.current && others.includes(o.current)) return o.current;
  if (others.length) return others[0];
  return o.healthy.includes(o.primaryNode) ? o.primaryNode : undefined;
}

export interface PieceGtids {
  gtids: string;
  before: string;
}

// The archive continues without a gap when the source's state before a piece's first
// transaction is all in the archive already (the first piece starts the archive). Returns the
// missing transactions, '' when none.
export function gapBefore(flavor: Flavor, archived: GtidSet | undefined, p: PieceGtids): string {
  if (!archived) return '';
  const missing = subtract(parseGtidSet(flavor, p.before), archived);
  if (isEmpty(missing)) return '';
  return flavor === 'mariadb' ? describe(missing) : formatGtidSet(missing);
}

export function archivedSet(flavor: Flavor, pieces: { gtids: string }[]): GtidSet | undefined {
  if (!pieces.length) return undefined;
  return pieces.reduce((acc, p) => union(acc, parseGtidSet(flavor, p.gtids)), parseGtidSet(flavor, ''));
}

// The pieces a restore replays after a backup holding `base`: in archive order, those that add
// something, each continuing from what the backup and the pieces before it hold. Undefined when
// the chain has a gap after the backup (the restore then cannot use the archive).
export function piecesAfter<T extends PieceGtids>(flavor: Flavor, base: string, pieces: T[]): T[] | undefined {
  let have = parseGtidSet(flavor, base);
  let seen = have;
  const out: T[] = [];
  for (const p of pieces) {
    const g = parseGtidSet(flavor, p.gtids);
    seen = union(seen, g);
    if (contains(have, g)) continue;
    if (!contains(union(have, subtract(seen, g)), parseGtidSet(flavor, p.before))) return undefined;
    out.push(p);
    have = union(have, g);
  }
  return out;
}

// Behind: the primary has executed transactions the archiver has not received.
export function archiveBehind(flavor: Flavor, primaryExecuted: string, received: string): boolean {
  if (!primaryExecuted) return false;
  return !contains(parseGtidSet(flavor, received), parseGtidSet(flavor, primaryExecuted));
}

// Incremental backups (MariaDB) form chains: a full backup, then incrementals each holding the
// pages changed after its parent's to_lsn. Pure: which backups a restore applies, in order, and
// whether the chain holds together. A restore of an incremental needs every link complete and
// each link's from_lsn equal to its parent's to_lsn; anything else is refused before a byte is
// unpacked.

export interface ChainLink {
  id: string;
  parentId: string;
  status: string;
  fromLsn: string;
  toLsn: string;
}

export type ChainResult<T extends ChainLink> = { ok: true; links: T[] } | { ok: false; error: string };

// The links from the full backup to `id`, oldest first. Depth is bounded by the catalog's size
// (a cycle, which only a damaged catalog could hold, is refused).
export function chainOf<T extends ChainLink>(id: string, get: (id: string) => T | undefined): ChainResult<T> {
  const links: T[] = [];
  const seen = new Set<string>();
  for (let cur = get(id), want = id; ; cur = get(want)) {
    if (!cur) return { ok: false, error: links.length ? `backup ${links[0]!.id} builds on ${want}, which is gone from the catalog: the chain is broken, restore a newer full backup` : `no backup ${want}` };
    if (seen.has(cur.id)) return { ok: false, error: `the chain of backup ${id} loops at ${cur.id}` };
    seen.add(cur.id);
    if (cur.status !== 'complete') return { ok: false, error: `backup ${cur.id} in the chain of ${id} is ${cur.status}: only complete backups restore` };
    const child = links[0];
    if (child && (!cur.toLsn || child.fromLsn !== cur.toLsn)) return { ok: false, error: `backup ${child.id} starts at LSN ${child.fromLsn || '?'} but its parent ${cur.id} ends at ${cur.toLsn || '?'}: the chain has a hole` };
    links.unshift(cur);
    if (!cur.parentId) return { ok: true, links };
    want = cur.parentId;
  }
}

// Every backup some backup in `keep` depends on (its ancestors), `keep` included: what
// retention and deletes must leave in place.
export function withAncestors<T extends Pick<ChainLink, 'id' | 'parentId'>>(keep: Iterable<string>, byId: ReadonlyMap<string, T>): Set<string> {
  const out = new Set<string>();
  for (const id of keep) {
    for (let cur = byId.get(id); cur && !out.has(cur.id); cur = cur.parentId ? byId.get(cur.parentId) : undefined) out.add(cur.id);
  }
  return out;
}

// The full backup a backup's chain starts from ('' when a link is missing).
export function rootOf<T extends Pick<ChainLink, 'id' | 'parentId'>>(id: string, byId: ReadonlyMap<string, T>): string {
  const seen = new Set<string>();
  for (let cur = byId.get(id); cur && !seen.has(cur.id); cur = byId.get(cur.parentId)) {
    seen.add(cur.id);
    if (!cur.parentId) return cur.id;
  }
  return '';
}

// How deep a backup sits in its chain (a full: 0): deletes go deepest first, so a delete cut
// short never leaves an incremental whose parent is gone.
export function depthOf<T extends Pick<ChainLink, 'id' | 'parentId'>>(id: string, byId: ReadonlyMap<string, T>): number {
  let n = 0;
  const seen = new Set<string>();
  for (let cur = byId.get(id); cur?.parentId && !seen.has(cur.id); cur = byId.get(cur.parentId)) {
    seen.add(cur.id);
    n++;
  }
  return n;
}

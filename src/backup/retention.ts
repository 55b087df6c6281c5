import { depthOf, rootOf, withAncestors } from './chain';

// Which of an instance's backups a retention rule deletes. Pure: the catalog rows, the rule, the
// clock and what is in use are parameters; the act step deletes through the backup delete path.
//
// A complete full backup is kept when any of these holds:
//   - it is among the newest `keepFull` complete ones (keepFull 0: no count rule);
//   - it completed within `keepDays` days (keepDays 0: no age rule);
//   - it is the newest complete backup (never deleted by retention, whatever the rule says);
//   - a running restore or drill reads it.
// With both rules 0 nothing is deleted. Only complete backups are ever deleted here: running
// ones are being taken, failed ones hold nothing restorable and are the catalog's record of
// a failure (the backup delete path removes those by hand).
//
// Incremental backups (MariaDB) live and die with their chain: `keepFull` counts chains (full
// backups), an incremental is kept when its full is, and a backup any kept one builds on (an
// incremental that is the newest complete backup or in use keeps its ancestors) is never
// deleted. Deletes come deepest first, so a delete cut short never leaves an incremental whose
// parent is gone.
//
// Binary log archives are kept back to the oldest kept full: an archive whose newest
// transaction is older than the oldest kept full's completion is deleted with it, never one a
// kept full may need to roll forward.

export interface RetentionRule {
  keepFull: number;
  keepDays: number;
}

export interface CatalogEntry {
  id: string;
  status: string;
  // ISO times.
  completedAt: string;
  // 'binlog' for an archive of binary logs, else a full backup's method.
  method: string;
  // An incremental's parent ('' or absent: a full backup).
  parentId?: string;
}

export interface RetentionDecision {
  keep: string[];
  delete: { id: string; why: string }[];
}

const DAY = 86_400_000;

export function decideRetention(entries: CatalogEntry[], rule: RetentionRule, now: number, inUse: ReadonlySet<string>): RetentionDecision {
  if (!rule.keepFull && !rule.keepDays) return { keep: entries.map((e) => e.id), delete: [] };
  const byId = new Map(entries.map((e) => [e.id, { id: e.id, parentId: e.parentId ?? '' }]));
  const backups = entries.filter((e) => e.method !== 'binlog' && e.status === 'complete').sort((a, b) => Date.parse(b.completedAt) - Date.parse(a.completedAt));
  const fulls = backups.filter((e) => !e.parentId);
  const keep = new Set<string>();
  const why = new Map<string, string>();
  fulls.forEach((b, i) => {
    const age = now - Date.parse(b.completedAt);
    const kept = i === 0 || inUse.has(b.id) || (rule.keepFull > 0 && i < rule.keepFull) || (rule.keepDays > 0 && age < rule.keepDays * DAY);
    if (kept) keep.add(b.id);
    else why.set(b.id, whyDelete(i, age, rule));
  });
  // What must stay whatever the rule: the newest complete backup, those in use and the
  // incrementals being taken or deleted, with every backup they build on; an incremental stays
  // with its full (or when its full is unknown here).
  const pinned = [...backups.filter((b, i) => i === 0 || inUse.has(b.id)), ...entries.filter((e) => e.parentId && (e.status === 'running' || e.status === 'deleting'))];
  for (const id of withAncestors(pinned.map((b) => b.id), byId)) if (byId.get(id) && backups.some((b) => b.id === id)) keep.add(id);
  for (const b of backups) {
    if (!b.parentId) continue;
    const root = rootOf(b.id, byId);
    if (!root || keep.has(root)) keep.add(b.id);
    else why.set(b.id, `an incremental of ${root}, which is deleted`);
  }
  for (const id of withAncestors([...keep], byId)) keep.add(id);
  const del = backups.filter((b) => !keep.has(b.id)).sort((a, b) => depthOf(b.id, byId) - depthOf(a.id, byId)).map((b) => ({ id: b.id, why: why.get(b.id) ?? 'not kept by the rule' }));
  const oldestKept = Math.min(...fulls.filter((b) => keep.has(b.id)).map((b) => Date.parse(b.completedAt)));
  for (const e of entries) {
    if (e.method === 'binlog' && e.status === 'complete') {
      if (Number.isFinite(oldestKept) && Date.parse(e.completedAt) < oldestKept && !inUse.has(e.id)) del.push({ id: e.id, why: 'binary logs older than the oldest kept full backup' });
      else keep.add(e.id);
    } else if (!backups.includes(e)) keep.add(e.id);
  }
  return { keep: entries.map((e) => e.id).filter((id) => keep.has(id)), delete: del };
}

function whyDelete(index: number, ageMs: number, rule: RetentionRule): string {
  const parts: string[] = [];
  if (rule.keepFull > 0) parts.push(`older than the newest ${rule.keepFull} (number ${index + 1})`);
  if (rule.keepDays > 0) parts.push(`${(ageMs / DAY).toFixed(1)} days old (keep ${rule.keepDays})`);
  return parts.join(' and ');
}

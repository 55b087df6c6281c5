import { formatGtidSet, parseGtidSet } from '../../src/mysql/gtid';
import type { TableCheck__Output } from '../../src/gen/berth/v1/TableCheck';

// What a drill concludes from its reads. Pure.
//
// What a backup can be compared with: a physical backup records its GTID set and nothing about
// rows; the drill reads the restored copy (every table CHECKed, a sample counted and
// checksummed) and, when the backed-up server still stands exactly at the backup's GTID set
// (nothing written since, as on a quiet instance or in a drill run right after its backup),
// reads the same sample there and compares: equal counts and checksums at equal GTID sets.
// When the source has moved on, the counts and checksums are recorded, not compared.

export type Flavor = 'mariadb' | 'mysql';

export interface DrillChecks {
  tables: number;
  failedTables: string[];
  sample: { table: string; rows: number; checksum: string }[];
  backupGtid: string;
  // The source's executed set when it was read ('' when it was not).
  sourceGtid: string;
  // 'equal' (compared, all equal), 'differs' (compared, a table differs), 'moved' (the source is
  // past the backup's GTID set: not compared), 'unavailable' (the source could not be read).
  comparison: 'equal' | 'differs' | 'moved' | 'unavailable';
  differences: string[];
}

const tableName = (t: Pick<TableCheck__Output, 'schema' | 'name'>) => `${t.schema}.${t.name}`;

export function sameGtidSet(flavor: Flavor, a: string, b: string): boolean {
  return formatGtidSet(parseGtidSet(flavor, a)) === formatGtidSet(parseGtidSet(flavor, b));
}

export function judge(flavor: Flavor, restored: TableCheck__Output[], backupGtid: string, source?: { tables: TableCheck__Output[]; executedGtids: string }): DrillChecks {
  const sampled = restored.filter((t) => t.sampled);
  const out: DrillChecks = {
    tables: restored.length,
    failedTables: restored.filter((t) => !t.ok).map((t) => `${tableName(t)}: ${t.message}`),
    sample: sampled.map((t) => ({ table: tableName(t), rows: Number(t.rows), checksum: t.checksum })),
    backupGtid,
    sourceGtid: source?.executedGtids ?? '',
    comparison: 'unavailable',
    differences: [],
  };
  if (!source) return out;
  if (!backupGtid || !sameGtidSet(flavor, source.executedGtids, backupGtid)) return { ...out, comparison: 'moved' };
  const theirs = new Map(source.tables.filter((t) => t.sampled).map((t) => [tableName(t), t]));
  for (const t of sampled) {
    const s = theirs.get(tableName(t));
    if (!s) out.differences.push(`${tableName(t)}: not on the source`);
    else if (Number(s.rows) !== Number(t.rows) || s.checksum !== t.checksum) out.differences.push(`${tableName(t)}: ${t.rows} rows, checksum ${t.checksum} restored; ${s.rows} rows, checksum ${s.checksum} on the source`);
  }
  return { ...out, comparison: out.differences.length ? 'differs' : 'equal' };
}

// Verified: every table opened and passed its check, and nothing compared differs.
export function verdict(c: DrillChecks): { ok: boolean; message: string } {
  if (c.failedTables.length) return { ok: false, message: `${c.failedTables.length} of ${c.tables} tables failed CHECK TABLE: ${c.failedTables.slice(0, 5).join('; ')}` };
  if (c.comparison === 'differs') return { ok: false, message: `the restored copy differs from the source at the same GTID set: ${c.differences.slice(0, 5).join('; ')}` };
  const compared = c.comparison === 'equal' ? `; ${c.sample.length} sampled tables equal to the source at ${c.backupGtid}` : c.comparison === 'moved' ? `; the source has moved past the backup (${c.sourceGtid || 'nothing'} against ${c.backupGtid || 'no GTID recorded'}): sample recorded, not compared` : '';
  return { ok: true, message: `${c.tables} tables passed CHECK TABLE${compared}` };
}

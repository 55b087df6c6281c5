import type { TableCheck } from '../../src/gen/berth/v1/TableCheck';
import type { VerifyTablesResponse } from '../../src/gen/berth/v1/VerifyTablesResponse';
import type { Instances } from '../instance/lifecycle';
import { executedGtid, withInstance, type Session } from './sql';

// A restore drill's checks on a restored instance (or on the source, to compare): every table
// opens and passes CHECK TABLE; a sample of them is counted and checksummed. Reads only; the
// executed GTID set is read in the same session, so the figures belong to that set when nothing
// writes (a restored drill copy takes no client writes).
export function verifyTables(instances: Instances, id: string, sample: number): Promise<VerifyTablesResponse> {
  return withInstance(instances, id, async (s) => {
    const tables = await s.rows<{ s: string; t: string }>(s.d.userTables());
    const out: TableCheck[] = [];
    for (const [i, t] of tables.entries()) out.push(await checkOne(s, t.s, t.t, i < sample));
    return { tables: out, executedGtids: await executedGtid(s) };
  });
}

const GOOD = new Set(['ok', 'table is already up to date']);

async function checkOne(s: Session, schema: string, name: string, sampled: boolean): Promise<TableCheck> {
  const base = { schema, name, sampled, rows: 0, checksum: '' };
  let rows: { Msg_type: string; Msg_text: string }[];
  try {
    rows = await s.rows(s.d.checkTable(schema, name));
  } catch (err) {
    return { ...base, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  const bad = rows.find((r) => String(r.Msg_type).toLowerCase() === 'error');
  const last = rows[rows.length - 1];
  const ok = !bad && !!last && String(last.Msg_type).toLowerCase() === 'status' && GOOD.has(String(last.Msg_text).toLowerCase());
  if (!ok) return { ...base, ok, message: String((bad ?? last)?.Msg_text ?? 'CHECK TABLE returned nothing') };
  if (!sampled) return { ...base, ok, message: '' };
  const [n] = await s.rows<{ n: number | string }>(s.d.countRows(schema, name));
  const [c] = await s.rows<{ Checksum: number | string | null }>(s.d.checksumTable(schema, name));
  return { ...base, ok, message: '', rows: Number(n?.n ?? 0), checksum: String(c?.Checksum ?? '') };
}

import type mysql from 'mysql2/promise';
import { failedPrecondition, notFound } from '../../src/errors';
import { connectSocket } from '../../src/mysql/connect';
import { dialectFor, type Dialect, type Flavor, type Statement } from '../../src/mysql/dialect';
import { formatGtidSet, parseGtidSet } from '../../src/mysql/gtid';
import type { Instances, InstanceStatus } from '../instance/lifecycle';
import { layoutFor } from '../instance/layout';

export interface Session {
  conn: mysql.Connection;
  d: Dialect;
  inst: InstanceStatus;
  // Runs statements; an error's text never carries the secrets given (mysql2 quotes the
  // interpolated statement in syntax errors).
  run(sts: Statement[], secrets?: string[]): Promise<void>;
  rows<T = Record<string, unknown>>(st: Statement): Promise<T[]>;
}

// One socket connection as root to a running instance, closed afterwards.
export async function withInstance<T>(instances: Instances, id: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const inst = await instances.get(id);
  if (!inst) throw notFound(`instance ${id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${id} is ${inst.state}, not running`);
  const conn = await connectSocket(layoutFor(inst.diskPath, id).socket);
  const s: Session = {
    conn,
    d: dialectFor(inst.flavor as Flavor),
    inst,
    run: async (sts, secrets = []) => {
      for (const st of sts) await conn.query(st.sql, st.params).catch((err: unknown) => Promise.reject(redacted(err, secrets)));
    },
    rows: async <R>(st: Statement) => {
      const [rows] = await conn.query(st.sql, st.params);
      return rows as R[];
    },
  };
  try {
    return await fn(s);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

export function redacted(err: unknown, secrets: string[]): Error {
  let msg = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) if (secret) msg = msg.replaceAll(secret, '[redacted]');
  const out = new Error(msg);
  (out as Error & { errno?: number }).errno = (err as { errno?: number }).errno;
  return out;
}

export async function executedGtid(s: Session): Promise<string> {
  const [row] = await s.rows<{ gtid: string | null }>(s.d.executedGtid());
  return formatGtidSet(parseGtidSet(s.d.flavor, row?.gtid ?? ''));
}

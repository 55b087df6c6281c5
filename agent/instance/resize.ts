import type mysql from 'mysql2/promise';
import { connectSocket } from '../../src/mysql/connect';
import type { Flavor } from '../../src/mysql/dialect';
import type { Shape } from '../../src/validate';
import { bufferPoolBytes, maxConnections } from './mycnf';

// In place, in an order that never lets mysqld run into its container's limit: when memory
// shrinks the buffer pool gives memory back before the limit comes down; when it grows the
// limit goes up before the pool takes more.
export type ResizeStep = 'limits' | 'mysqld';

export function resizeOrder(oldMemoryBytes: number, newMemoryBytes: number): ResizeStep[] {
  return newMemoryBytes < oldMemoryBytes ? ['mysqld', 'limits'] : ['limits', 'mysqld'];
}

// The server variables that follow the memory limit: the same rule my.cnf is rendered with, so
// a restart keeps what the online change set.
export function memoryVariables(memoryBytes: number, flavor: Flavor): { innodb_buffer_pool_size: number; max_connections: number } {
  return { innodb_buffer_pool_size: bufferPoolBytes(memoryBytes, flavor), max_connections: maxConnections(memoryBytes) };
}

export interface ServerReadback {
  bufferPoolBytes: number;
  maxConnections: number;
  uptimeSeconds: number;
}

const RESIZE_DEADLINE_MS = 60_000;

// Both flavors resize the pool in the background after SET GLOBAL (in chunks, so the value
// read back may be rounded up to a chunk multiple); done is when the resize status no longer
// says it is working and the pool has its final page count.
export async function applyMemoryVariables(socket: string, memoryBytes: number, flavor: Flavor): Promise<ServerReadback> {
  const want = memoryVariables(memoryBytes, flavor);
  const conn = await connectSocket(socket);
  try {
    await conn.query('SET GLOBAL max_connections = ?', [want.max_connections]);
    const [cur] = await readVariables(conn);
    if (cur.bufferPoolBytes !== want.innodb_buffer_pool_size) {
      await conn.query('SET GLOBAL innodb_buffer_pool_size = ?', [want.innodb_buffer_pool_size]);
      await waitPoolResized(conn);
    }
    return (await readVariables(conn))[0];
  } finally {
    await conn.end();
  }
}

// SHOW GLOBAL STATUS works on both flavors (MySQL has no information_schema.GLOBAL_STATUS).
async function readVariables(conn: mysql.Connection): Promise<[ServerReadback]> {
  const [rows] = (await conn.query('SELECT @@innodb_buffer_pool_size AS pool, @@max_connections AS conns')) as unknown as [{ pool: number | string; conns: number | string }[]];
  const [up] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Uptime'")) as unknown as [{ Value: string }[]];
  return [{ bufferPoolBytes: Number(rows[0]!.pool), maxConnections: Number(rows[0]!.conns), uptimeSeconds: Number(up[0]?.Value ?? 0) }];
}

// "Resizing buffer pool from …", "Withdrawing blocks …", "Completed resizing buffer pool at …"
// (MariaDB and MySQL); MySQL also has a numeric code (0: idle or done).
export function poolResizeBusy(status: Record<string, string>): boolean {
  const code = status.innodb_buffer_pool_resize_status_code;
  if (code !== undefined && code !== '') return Number(code) !== 0;
  const text = status.innodb_buffer_pool_resize_status ?? '';
  return text !== '' && !/^completed|^size did not change/i.test(text);
}

async function waitPoolResized(conn: mysql.Connection): Promise<void> {
  const deadline = Date.now() + RESIZE_DEADLINE_MS;
  for (;;) {
    const [rows] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status%'")) as unknown as [{ Variable_name: string; Value: string }[]];
    const status = Object.fromEntries(rows.map((r) => [r.Variable_name.toLowerCase(), r.Value]));
    if (!poolResizeBusy(status)) return;
    if (Date.now() > deadline) throw new Error(`the buffer pool resize did not finish within ${RESIZE_DEADLINE_MS / 1000} s: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const nanoCpus = (s: Pick<Shape, 'cpuMillis'>) => s.cpuMillis * 1_000_000;

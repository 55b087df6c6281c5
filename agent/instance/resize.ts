import type { Flavor } from '../../src/mysql/dialect';
import type { Shape } from '../../src/validate';
import { onSocket, type Session } from '../session';
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
  return onSocket(socket, flavor, async (s) => {
    await s.run(s.d.setGlobals({ max_connections: want.max_connections }));
    const cur = await readBack(s);
    if (cur.bufferPoolBytes !== want.innodb_buffer_pool_size) {
      await s.run(s.d.setGlobals({ innodb_buffer_pool_size: want.innodb_buffer_pool_size }));
      await waitPoolResized(s);
    }
    return readBack(s);
  });
}

async function readBack(s: Session): Promise<ServerReadback> {
  const [vars] = await s.rows<{ pool: number | string; conns: number | string }>(s.d.memoryVariables());
  const [up] = await s.rows<{ Value: string }>(s.d.globalStatus('Uptime'));
  return { bufferPoolBytes: Number(vars!.pool), maxConnections: Number(vars!.conns), uptimeSeconds: Number(up?.Value ?? 0) };
}

// "Resizing buffer pool from …", "Withdrawing blocks …", "Completed resizing buffer pool at …"
// (MariaDB and MySQL); MySQL also has a numeric code (0: idle or done).
export function poolResizeBusy(status: Record<string, string>): boolean {
  const code = status.innodb_buffer_pool_resize_status_code;
  if (code !== undefined && code !== '') return Number(code) !== 0;
  const text = status.innodb_buffer_pool_resize_status ?? '';
  return text !== '' && !/^completed|^size did not change/i.test(text);
}

async function waitPoolResized(s: Session): Promise<void> {
  const deadline = Date.now() + RESIZE_DEADLINE_MS;
  for (;;) {
    const rows = await s.rows<{ Variable_name: string; Value: string }>(s.d.globalStatus('Innodb_buffer_pool_resize_status%'));
    const status = Object.fromEntries(rows.map((r) => [r.Variable_name.toLowerCase(), r.Value]));
    if (!poolResizeBusy(status)) return;
    if (Date.now() > deadline) throw new Error(`the buffer pool resize did not finish within ${RESIZE_DEADLINE_MS / 1000} s: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const nanoCpus = (s: Pick<Shape, 'cpuMillis'>) => s.cpuMillis * 1_000_000;

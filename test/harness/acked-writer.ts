import net from 'node:net';
import mysql from 'mysql2/promise';
import type { Address } from './writer';

// A client that commits one row at a time into its own table and records, for every commit the
// server acknowledged, its id and when the acknowledgement arrived. On an error it asks
// `resolve` for where to write now (the cluster's endpoint after a failover) and reconnects.
// `localAddress` makes it connect from that loopback address (a partition test exempts it).
// Each acknowledgement names the server that gave it (`server`: its container's hostname,
// server_id and read_only when the connection was made), so a failure says which one wrote.
// `queryTimeoutMs` gives up on a commit not answered by then (a path that went silent: a router
// host cut off) and reconnects; such a commit is not acknowledged.
export function startAckedWriter(table: string, resolve: () => Promise<Address>, opts: { localAddress?: string; pauseMs?: number; queryTimeoutMs?: number } = {}) {
  const acked: { id: number; at: number; port: number; server: string }[] = [];
  const errors: { at: number; message: string }[] = [];
  let stop = false;
  let ready!: () => void;
  let failed!: (err: unknown) => void;
  const started = new Promise<void>((r, j) => ((ready = r), (failed = j)));
  // mysql2 ignores its localAddress option: the socket is made here instead.
  let server = '';
  const connect = async (addr: Address) => {
    const c = await mysql.createConnection({ ...addr, connectTimeout: 2000, ...(opts.localAddress ? { stream: () => net.connect({ host: addr.host, port: addr.port, localAddress: opts.localAddress }) } : {}) });
    try {
      const [rows] = (await c.query('SELECT @@hostname AS h, @@server_id AS s, @@read_only AS ro, CURRENT_USER() AS u')) as unknown as [{ h: string; s: number; ro: number; u: string }[]];
      const r = rows[0]!;
      server = `${r.h} id=${r.s} ro=${r.ro} ${r.u} at ${Date.now()}`;
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  };
  const done = (async () => {
    let addr = await resolve();
    let conn = await connect(addr);
    await conn.query('CREATE DATABASE IF NOT EXISTS w');
    await conn.query(`CREATE TABLE IF NOT EXISTS w.${table} (id INT PRIMARY KEY, pad VARCHAR(100))`);
    ready();
    for (let n = 1; !stop; n++) {
      try {
        await conn.query({ sql: `INSERT INTO w.${table} VALUES (?, REPEAT('x', 100))`, values: [n], ...(opts.queryTimeoutMs ? { timeout: opts.queryTimeoutMs } : {}) });
        acked.push({ id: n, at: Date.now(), port: addr.port, server });
      } catch (err) {
        errors.push({ at: Date.now(), message: (err as Error).message });
        conn.destroy();
        for (;;) {
          if (stop) return;
          try {
            addr = await resolve();
            conn = await connect(addr);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
    conn.destroy();
  })();
  // A writer that could not start (its first connection refused) fails `started` instead of
  // leaving it pending until the test's timeout.
  done.catch((err: unknown) => failed(err));
  return {
    acked,
    errors,
    started,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

export async function missingRows(addr: Address, table: string, ids: number[]): Promise<number[]> {
  const conn = await mysql.createConnection({ ...addr, connectTimeout: 5000 });
  try {
    const [rows] = (await conn.query(`SELECT id FROM w.${table}`)) as unknown as [{ id: number }[]];
    const have = new Set(rows.map((r) => Number(r.id)));
    return ids.filter((id) => !have.has(id));
  } finally {
    await conn.end();
  }
}

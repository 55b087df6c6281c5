// A client that commits one row at a time through a stable endpoint and never re-resolves: on
// an error it reconnects to the same address every 10 ms. Each acknowledgement names the
// server_id that gave it (read when the connection was made).
import mysql from 'mysql2/promise';
import type { Target } from './endpoint-load';

export interface Ack {
  id: number;
  at: number;
  server: number;
}

export function endpointWriter(t: Target, table: string) {
  const acks: Ack[] = [];
  let errors = 0;
  let stop = false;
  let server = 0;
  const connect = async (): Promise<mysql.Connection | undefined> => {
    for (;;) {
      if (stop) return undefined;
      try {
        const c = await mysql.createConnection({ ...t, connectTimeout: 1000 });
        // A connection that breaks later reports it here as well as to the query in flight.
        c.on('error', () => undefined);
        const [rows] = (await c.query('SELECT @@server_id AS s')) as unknown as [{ s: number }[]];
        server = Number(rows[0]!.s);
        return c;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const done = (async () => {
    let conn = await connect();
    if (!conn) return;
    await conn.query('CREATE DATABASE IF NOT EXISTS b');
    await conn.query(`CREATE TABLE IF NOT EXISTS b.${table} (id INT PRIMARY KEY)`);
    for (let n = 1; !stop; n++) {
      try {
        await conn.query(`INSERT INTO b.${table} VALUES (?)`, [n]);
        acks.push({ id: n, at: Date.now(), server });
      } catch {
        errors++;
        conn.destroy();
        conn = await connect();
        if (!conn) return;
      }
    }
    conn.destroy();
  })();
  // Its failure is the caller's, at stop(), never an unhandled rejection.
  const settled = done.then(
    () => undefined,
    (err: unknown) => err,
  );
  return {
    acks,
    get errors() {
      return errors;
    },
    // The longest time between two acknowledgements: the outage the client saw.
    longestGap(): number {
      let gap = 0;
      for (let i = 1; i < acks.length; i++) gap = Math.max(gap, acks[i]!.at - acks[i - 1]!.at);
      return gap;
    },
    stop: async () => {
      stop = true;
      const err = await settled;
      if (err) throw err;
    },
  };
}

// Acknowledged rows the server at `t` lacks.
export async function missing(t: Target, table: string, acks: Ack[]): Promise<number> {
  const c = await mysql.createConnection({ ...t, connectTimeout: 5000 });
  try {
    const [rows] = (await c.query(`SELECT id FROM b.${table}`)) as unknown as [{ id: number }[]];
    const have = new Set(rows.map((r) => Number(r.id)));
    return acks.filter((a) => !have.has(a.id)).length;
  } finally {
    await c.end();
  }
}

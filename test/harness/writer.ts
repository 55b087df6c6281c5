import mysql from 'mysql2/promise';

export interface Address {
  host: string;
  port: number;
  user: string;
  password: string;
}

// The server_id of the server that answers at an address (an endpoint leads to one of several).
export async function serverIdAt(addr: Address): Promise<number> {
  const c = await mysql.createConnection({ ...addr, connectTimeout: 2000 });
  try {
    const [rows] = (await c.query('SELECT @@server_id AS s')) as unknown as [{ s: number }[]];
    return Number(rows[0]!.s);
  } finally {
    c.destroy();
  }
}

// A client committing one row at a time and recording every commit the server acknowledged.
// On an error it asks `resolve` for the instance's address again (a migration moves it) and
// reconnects; the longest stretch without a commit is the write-blocked window it saw.
export function startWriter(first: Address, resolve: () => Promise<Address> = async () => first, pauseMs = 5) {
  const acked: number[] = [];
  const errors: string[] = [];
  let longestGapMs = 0;
  let stop = false;
  const done = (async () => {
    let addr = first;
    let conn = await mysql.createConnection(addr);
    await conn.query('CREATE DATABASE IF NOT EXISTS w');
    await conn.query('CREATE TABLE IF NOT EXISTS w.t (id INT PRIMARY KEY, pad VARCHAR(100))');
    let lastOk = Date.now();
    for (let n = 1; !stop; n++) {
      try {
        await conn.query('INSERT INTO w.t VALUES (?, REPEAT("x", 100))', [n]);
        acked.push(n);
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - lastOk);
        lastOk = now;
      } catch (err) {
        errors.push((err as Error).message);
        await conn.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
        for (;;) {
          try {
            addr = await resolve();
            conn = await mysql.createConnection({ ...addr, connectTimeout: 2000 });
            break;
          } catch {
            if (stop) return;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
    await conn.end().catch(() => undefined);
  })();
  return {
    acked,
    errors,
    get longestGapMs() {
      return longestGapMs;
    },
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

export async function countRows(addr: Address, ids: number[]): Promise<{ missing: number[]; total: number }> {
  const conn = await mysql.createConnection(addr);
  try {
    const [rows] = (await conn.query('SELECT id FROM w.t')) as unknown as [{ id: number }[]];
    const have = new Set(rows.map((r) => Number(r.id)));
    return { missing: ids.filter((id) => !have.has(id)), total: rows.length };
  } finally {
    await conn.end();
  }
}

// A client pinned to one address that never learns a new one, committing as fast as it can
// and retrying at once when refused: a server whose writes were stopped must refuse every
// attempt from then on (any acknowledged row must reach the new primary). `refused` counts the
// read-only refusals, so a test can tell the probe ran while the server was read-only.
export function startProber(addr: Address, firstId: number) {
  const acked: number[] = [];
  // When each acknowledgement arrived (ms), beside `acked`.
  const ackedAt: number[] = [];
  let refused = 0;
  let stop = false;
  const done = (async () => {
    let conn: mysql.Connection | undefined;
    for (let n = firstId; !stop; n++) {
      try {
        conn ??= await mysql.createConnection({ ...addr, connectTimeout: 2000 });
        await conn.query('INSERT INTO w.t VALUES (?, "probe")', [n]);
        acked.push(n);
        ackedAt.push(Date.now());
        await new Promise((r) => setTimeout(r, 5));
      } catch (err) {
        if (/read.only/i.test((err as Error).message)) {
          refused++;
          continue;
        }
        await conn?.end().catch(() => undefined);
        conn = undefined;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await conn?.end().catch(() => undefined);
  })();
  return {
    acked,
    ackedAt,
    get refused() {
      return refused;
    },
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

// Point selects against one address: latency of one client in a loop, throughput of several.
// bench/endpoint.ts runs both against a stable endpoint and straight at the server behind it.
import mysql from 'mysql2/promise';

export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface LoadResult {
  p50Ms: number;
  p99Ms: number;
  qps: number;
}

export const ROWS = 10_000;

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return -1;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

// The table every point select reads: ROWS rows, in the buffer pool after the first pass.
export async function seed(t: Target): Promise<void> {
  const c = await mysql.createConnection({ ...t, multipleStatements: false });
  try {
    await c.query('CREATE DATABASE IF NOT EXISTS b');
    await c.query('CREATE TABLE IF NOT EXISTS b.ps (id INT PRIMARY KEY, pad VARCHAR(100))');
    for (let i = 0; i < ROWS; i += 1000) {
      const rows = Array.from({ length: 1000 }, (_, k) => [i + k + 1, 'x'.repeat(100)]);
      await c.query('INSERT IGNORE INTO b.ps VALUES ?', [rows]);
    }
  } finally {
    await c.end();
  }
}

const id = () => 1 + Math.floor(Math.random() * ROWS);

// One connection, `n` point selects one after the other: each query's round trip.
export async function latency(t: Target, n: number): Promise<number[]> {
  const c = await mysql.createConnection(t);
  try {
    for (let k = 0; k < 200; k++) await c.execute('SELECT pad FROM b.ps WHERE id = ?', [id()]);
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const t0 = process.hrtime.bigint();
      await c.execute('SELECT pad FROM b.ps WHERE id = ?', [id()]);
      out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return out;
  } finally {
    await c.end();
  }
}

// `clients` connections each in a loop for `ms`: point selects answered per second.
export async function throughput(t: Target, clients: number, ms: number): Promise<number> {
  const conns = await Promise.all(Array.from({ length: clients }, () => mysql.createConnection(t)));
  try {
    let done = 0;
    const end = Date.now() + ms;
    await Promise.all(
      conns.map(async (c) => {
        while (Date.now() < end) {
          await c.execute('SELECT pad FROM b.ps WHERE id = ?', [id()]);
          done++;
        }
      }),
    );
    return (done * 1000) / ms;
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

// Endpoint and direct in alternation, `rounds` times, so a neighbour's load on the shared
// machine falls on both alike; per-round figures and their medians.
export async function compare(endpoint: Target, direct: Target, o: { rounds: number; queries: number; clients: number; ms: number }) {
  const lat = { endpoint: [] as number[], direct: [] as number[] };
  const qps = { endpoint: [] as number[], direct: [] as number[] };
  for (let r = 0; r < o.rounds; r++) {
    for (const [k, t] of [['direct', direct], ['endpoint', endpoint]] as const) {
      lat[k].push(...(await latency(t, o.queries)));
      qps[k].push(await throughput(t, o.clients, o.ms));
    }
  }
  const of = (k: 'endpoint' | 'direct'): LoadResult => ({ p50Ms: percentile(lat[k], 50), p99Ms: percentile(lat[k], 99), qps: percentile(qps[k], 50) });
  const e = of('endpoint');
  const d = of('direct');
  return { endpoint: e, direct: d, qpsRuns: qps, ratio: { p50: e.p50Ms / d.p50Ms, p99: e.p99Ms / d.p99Ms, qps: e.qps / d.qps } };
}

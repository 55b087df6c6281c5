// HAProxy's `show stat` CSV, per frontend: sessions, bytes, errors and how many of its
// backend's servers take connections (pure).

export interface FrontendStats {
  name: string;
  status: string;
  currentSessions: number;
  totalSessions: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
  serversReady: number;
}

export function parseShowStat(csv: string): FrontendStats[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.shift()?.replace(/^#\s*/, '').split(',') ?? [];
  const col = (row: string[], name: string) => row[header.indexOf(name)] ?? '';
  const num = (row: string[], name: string) => Number(col(row, name)) || 0;
  const rows = lines.map((l) => l.split(','));
  const out = new Map<string, FrontendStats>();
  for (const r of rows.filter((r) => col(r, 'svname') === 'FRONTEND')) {
    out.set(col(r, 'pxname'), { name: col(r, 'pxname'), status: col(r, 'status'), currentSessions: num(r, 'scur'), totalSessions: num(r, 'stot'), bytesIn: num(r, 'bin'), bytesOut: num(r, 'bout'), errors: num(r, 'ereq'), serversReady: 0 });
  }
  for (const r of rows) {
    const f = out.get(col(r, 'pxname'));
    const sv = col(r, 'svname');
    if (!f || sv === 'FRONTEND') continue;
    if (sv === 'BACKEND') f.errors += num(r, 'econ') + num(r, 'eresp');
    else if (!/MAINT/.test(col(r, 'status'))) f.serversReady++;
  }
  return [...out.values()];
}

import { createHash, timingSafeEqual } from 'node:crypto';

// Constant-time comparison of a presented bearer token with the configured one: both are hashed
// first so neither the length nor a common prefix leaks through timing.
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

// Routes reachable without a token: liveness, the Prometheus scrape, and the static shells of
// the dashboard and API docs (they hold no data; the data they show comes from /v1 with a token).
// Matched on the path alone: a query string (`/v1/…?x=/docs/`) can never make a route public.
const PUBLIC_PATHS = [/^\/healthz$/, /^\/metrics$/, /^\/$/, /^\/docs(\/[\w./-]*)?$/];

export function isPublicPath(url: string): boolean {
  const p = url.split(/[?#]/, 1)[0]!;
  // No dot segments and no escapes: what is checked is what the router sees.
  if (p.includes('%') || /(^|\/)\.\.?(\/|$)/.test(p)) return false;
  return PUBLIC_PATHS.some((re) => re.test(p));
}

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// "host:port" → parts; IPv6 in brackets.
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`want HOST:PORT, got "${addr}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

// Host header check: the name without its port must be one of the configured names.
export function allowedHost(header: string | undefined, names: string[]): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(header.trim());
  if (!m) return false;
  const name = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  return names.some((n) => n.toLowerCase() === name);
}

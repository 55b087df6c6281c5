import { invalidArgument } from '../../src/errors';

export const MAX_PAGE_SIZE = 1000;

// Keyset pagination over rows already in key order: the token is the last key of the previous
// page (opaque to clients), so rows added or removed between calls neither repeat nor vanish
// from the pages still to come.
export function pageOf<T>(rows: T[], key: (r: T) => string, req: { pageSize?: number; pageToken?: string }): { items: T[]; next: string } {
  const size = req.pageSize || MAX_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidArgument(`page_size must be between 1 and ${MAX_PAGE_SIZE}, got ${req.pageSize}`);
  let after: string | undefined;
  if (req.pageToken) {
    const m = /^p1\.([A-Za-z0-9_-]{1,400})$/.exec(req.pageToken);
    if (!m) throw invalidArgument('page_token is not one this server gave out');
    after = Buffer.from(m[1]!, 'base64url').toString('utf8');
  }
  const sorted = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const start = after === undefined ? 0 : sorted.findIndex((r) => key(r) > after!);
  const rest = start < 0 ? [] : sorted.slice(start);
  const items = rest.slice(0, size);
  const next = rest.length > size ? `p1.${Buffer.from(key(items[items.length - 1]!)).toString('base64url')}` : '';
  return { items, next };
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { adminTokenFile, readTokenFile } from '../../src/security/admin-token-file';
import type { TokensTable } from '../store/tokens';

// The admin HTTP server is authenticated by default. Every MySQL container runs on the host
// network, so "loopback only" never meant "only the DBA": any process in any instance reaches
// 127.0.0.1. Without --admin-token the manager makes a token once, keeps it beside its other
// credentials (mode 0600) and uses it from then on; `berthctl capacity` reads the same file.
// The row the admin token has in auth_tokens: it is an admin token on the portal too.
export const ADMIN_TOKEN_ROW = 'admin-token';

export type AdminTokenSource = 'flag' | 'file' | 'generated' | 'none';

export interface AdminTokenChoice {
  token?: string;
  source: AdminTokenSource;
  file: string;
}


// flag (--admin-token / BERTH_ADMIN_TOKEN) > the file > a new token written to the file.
// `unauthenticated` (--admin-unauthenticated): no token at all, the caller warns.
export function chooseAdminToken(o: { flag?: string; stateDir: string; unauthenticated: boolean }): AdminTokenChoice {
  const file = adminTokenFile(o.stateDir);
  if (o.unauthenticated) return { source: 'none', file };
  if (o.flag) return { token: o.flag, source: 'flag', file };
  const existing = readTokenFile(file);
  if (existing) return { token: existing, source: 'file', file };
  const token = `berth_${randomBytes(32).toString('base64url')}`;
  // O_EXCL: two managers starting on one state directory never each write their own.
  try {
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const again = (err as NodeJS.ErrnoException).code === 'EEXIST' ? readTokenFile(file) : undefined;
    if (again) return { token: again, source: 'file', file };
    throw err;
  }
  return { token, source: 'generated', file };
}

// The admin-token row follows the configuration at every start: re-keyed to the token in use,
// or removed when there is none, so a token taken out of the configuration stops working on
// the portal too (it used to stay a full admin there).
export function syncAdminTokenRow(tokens: TokensTable, token: string | undefined): void {
  tokens.revoke(ADMIN_TOKEN_ROW);
  if (token) tokens.adopt(ADMIN_TOKEN_ROW, 'admin', token);
}

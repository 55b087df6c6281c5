import { createHash, randomBytes } from 'node:crypto';
import type { DB } from './db';
import type { Role } from '../../src/tls/ca';

export interface TokenRow {
  name: string;
  role: Role;
  createdAt: string;
}

// Bearer tokens for portal and /v1 callers. Only a SHA-256 of each token is stored: a token is
// 32 random bytes, so a fast hash is enough (nothing to brute-force), and a copy of the database
// gives no usable token. The table is made by the store's migrations (db.ts).
export class TokensTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      insert: db.prepare('INSERT INTO auth_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)'),
      byHash: db.prepare('SELECT name, role, created_at AS createdAt FROM auth_tokens WHERE hash = ?'),
      all: db.prepare('SELECT name, role, created_at AS createdAt FROM auth_tokens ORDER BY name'),
      remove: db.prepare('DELETE FROM auth_tokens WHERE name = ?'),
      get: db.prepare('SELECT name FROM auth_tokens WHERE name = ?'),
      rehash: db.prepare('UPDATE auth_tokens SET hash = ? WHERE name = ? AND hash = ?'),
    };
  }

  static hash(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  }

  // Returns the token itself: shown once, never stored.
  create(name: string, role: Role): string {
    const token = `berth_${randomBytes(32).toString('base64url')}`;
    this.q.insert.run(name, role, TokensTable.hash(token), new Date().toISOString());
    return token;
  }

  // Registers a token chosen elsewhere (the --admin-token flag) under a fixed name.
  adopt(name: string, role: Role, token: string): void {
    this.q.insert.run(name, role, TokensTable.hash(token), new Date().toISOString());
  }

  exists(name: string): boolean {
    return Boolean(this.q.get.get(name));
  }

  verify(token: string): TokenRow | undefined {
    if (!token || token.length > 512) return undefined;
    return this.q.byHash.get(TokensTable.hash(token)) as TokenRow | undefined;
  }

  list(): TokenRow[] {
    return this.q.all.all() as TokenRow[];
  }

  // A new secret for the token whose hash is `hash` (a CreateToken retried with its request id);
  // undefined when that token is gone or was replaced.
  reissue(name: string, hash: string): string | undefined {
    const token = `berth_${randomBytes(32).toString('base64url')}`;
    return this.q.rehash.run(TokensTable.hash(token), name, hash).changes > 0 ? token : undefined;
  }

  revoke(name: string): boolean {
    return this.q.remove.run(name).changes > 0;
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The boundaries of issue 19 that an import rule cannot see (those it can are in
// .dependency-cruiser.cjs): statement text lives behind the Dialect (MySQL) or in the store
// (SQLite), tables and indexes in the numbered migrations, events go through the state owner.
// Tests may keep raw SQL: they are left out.

const ROOT = path.resolve(__dirname, '..');

function productFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (rel !== path.join('src', 'gen')) walk(rel);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        out.push(rel.split(path.sep).join('/'));
      }
    }
  };
  for (const dir of ['agent', 'manager', 'src']) walk(dir);
  return out;
}

// Lines of product files matching `re`, outside the files `allowed` accepts.
function offenders(re: RegExp, allowed: (file: string) => boolean): string[] {
  return productFiles()
    .filter((f) => !allowed(f))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(ROOT, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (re.test(line) ? [`${f}:${i + 1}: ${line.trim().slice(0, 120)}`] : [])),
    );
}

// A string literal that starts a statement, MySQL's or SQLite's.
const STATEMENT =
  /['"`](SELECT|SHOW|SET (GLOBAL|SESSION|@)|PURGE|KILL|FLUSH|CREATE (USER|TABLE|INDEX|UNIQUE)|ALTER (USER|INSTANCE|TABLE)|GRANT|REVOKE|DROP (USER|TABLE|INDEX)|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|CHANGE (MASTER|REPLICATION)|(START|STOP|RESET) (SLAVE|REPLICA|GROUP_REPLICATION)|INSTALL PLUGIN|CLONE INSTANCE|PRAGMA)\b/;
// The Dialect: one file per flavor, what both spell alike, and MySQL's Group Replication.
const DIALECT = (f: string) => ['src/mysql/mariadb.ts', 'src/mysql/mysql.ts', 'src/mysql/common-sql.ts', 'src/mysql/group.ts', 'src/mysql/galera.ts'].includes(f);
const STORE = (f: string) => f.startsWith('manager/store/');

// Event writes that skip FleetState.event (so its listeners, the webhook among them, never hear
// them): none left.
const EVENT_WRITES_LEFT = new Set<string>();

describe('boundaries', () => {
  it('every statement is in the Dialect (MySQL) or the store (SQLite)', () => {
    expect(offenders(STATEMENT, (f) => DIALECT(f) || STORE(f))).toEqual([]);
  });

  it('tables and indexes are made by the numbered migrations only', () => {
    expect(offenders(/CREATE (TABLE|INDEX|UNIQUE INDEX)\b/, (f) => f === 'manager/store/db.ts')).toEqual([]);
  });

  it('only the store prepares, runs or configures SQLite statements', () => {
    expect(offenders(/\b(db|\.db)\.(prepare|exec|pragma|transaction)\(/, STORE)).toEqual([]);
  });

  it('events are written through the state owner (FleetState.event)', () => {
    expect(offenders(/\bevents\.add\(/, (f) => f === 'manager/state/fleet.ts' || STORE(f) || EVENT_WRITES_LEFT.has(f))).toEqual([]);
  });

  it('Docker is reached through agent/docker.ts only', () => {
    expect(offenders(/\.api\.(getContainer|createContainer|listContainers|getImage)\b|\bdocker\.api\b/, (f) => f === 'agent/docker.ts')).toEqual([]);
  });

  it('the checks above still see what they look for', () => {
    expect(STATEMENT.test("conn.query('SHOW BINARY LOGS')")).toBe(true);
    expect(STATEMENT.test("db.prepare('INSERT INTO auth_tokens (name) VALUES (?)')")).toBe(true);
    expect(STATEMENT.test('// SHOW GLOBAL STATUS works on both flavors')).toBe(false);
    expect(offenders(/CREATE TABLE\b/, () => false).some((l) => l.startsWith('manager/store/db.ts:'))).toBe(true);
  });
});

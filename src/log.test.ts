import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubText } from './log';

// Every secret below is distinct, so a leak names the field that leaked.
const S = {
  top: 'Top-Secret-0001',
  admin: 'Admin-Secret-0002',
  nested: 'Nested-Secret-0003',
  deep: 'Deep-Secret-0004',
  inArray: 'Array-Secret-0005',
  sql: 'Sql-Secret-0006',
  sqlMessage: 'SqlMsg-Secret-0007',
  token: 'Token-Secret-0008',
  child: 'Child-Secret-0009',
  msg: 'Msg-Secret-0010',
  replication: 'Repl-Secret-0011',
  cause: 'Cause-Secret-0012',
  plainSql: 'PlainSql-Secret-0013',
  replSql: 'ReplSql-Secret-0014',
};

// What mysql2 throws when a statement fails: the statement (with its parameters substituted) on
// `sql`, the server's message on `message` and `sqlMessage`.
function mysql2Error(statement: string, serverMessage: string): Error {
  return Object.assign(new Error(serverMessage), { code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '42000', sqlMessage: serverMessage, sql: statement, fatal: false });
}

function logEverything(log: pino.Logger): void {
  const err = mysql2Error(
    `CREATE USER IF NOT EXISTS 'admin'@'%' IDENTIFIED BY '${S.sql}'`,
    `You have an error in your SQL syntax; check the manual near 'BY '${S.sqlMessage}'' at line 1`,
  );
  log.info(
    {
      password: S.top,
      adminPassword: S.admin,
      request: { name: 'db1', adminPassword: S.admin, credentials: { password: S.nested, user: 'admin' } },
      a: { b: { c: { d: { password: S.deep } } } },
      users: [{ user: 'repl', password: S.inArray }, { replicationPassword: S.replication }],
      token: S.token,
      headers: { authorization: `Bearer ${S.token}` },
      err,
      wrapped: { cause: mysql2Error(`SET PASSWORD FOR 'x'@'%' = PASSWORD('${S.cause}')`, 'denied') },
      // A statement whose secret no pattern recognizes: only dropping `sql` keeps it out.
      errors: [mysql2Error(`SELECT '${S.plainSql}'`, 'Unknown column'), mysql2Error(`CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD='${S.replSql}'`, 'denied')],
    },
    'everything at once',
  );
  log.error(err);
  log.warn({ err: err.message, statement: `ALTER USER 'admin'@'%' IDENTIFIED WITH mysql_native_password BY '${S.msg}'` }, `failed: ALTER USER x IDENTIFIED BY '${S.msg}'`);
  log.child({ adminPassword: S.child }).info('child bindings');
}

function assertClean(out: string): void {
  // Something was written for every call, with the fields that are not secret intact.
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  expect(lines).toHaveLength(4);
  expect(lines[0]!.msg).toBe('everything at once');
  expect(lines[0]!.request.credentials.user).toBe('admin');
  expect(lines[0]!.err).toMatchObject({ type: 'Error', code: 'ER_PARSE_ERROR', errno: 1064, sql: '[redacted]' });
  expect(lines[0]!.password).toBe('[redacted]');
  expect(lines[0]!.a.b.c.d.password).toBe('[redacted]');
  expect(lines[1]!.err.sqlState).toBe('42000');
  expect(lines[3]!.msg).toBe('child bindings');
  for (const [field, secret] of Object.entries(S)) expect(out, `the ${field} secret leaked`).not.toContain(secret);
}

describe('log redaction', () => {
  it('writes no secret, at any depth, in errors or messages, through an in-memory stream', () => {
    let out = '';
    logEverything(createLogger('test', 'debug', { write: (s: string) => void (out += s) }));
    assertClean(out);
  });

  it('writes no secret to a real file descriptor', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-log-')), 'out.log');
    const dest = pino.destination({ dest: file, sync: true });
    logEverything(createLogger('test', 'debug', dest));
    dest.flushSync();
    assertClean(fs.readFileSync(file, 'utf8'));
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('cuts password literals out of SQL text and leaves other text alone', () => {
    expect(scrubText(`CREATE USER 'a'@'%' IDENTIFIED BY 'p\\'w'`)).toBe(`CREATE USER 'a'@'%' IDENTIFIED BY '[redacted]'`);
    expect(scrubText(`SET PASSWORD = PASSWORD("x")`)).toBe(`SET PASSWORD = PASSWORD('[redacted]')`);
    expect(scrubText(`near 'BY 'secret`)).toBe(`near 'BY '[redacted]'`);
    expect(scrubText(`CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = 'x', SOURCE_PORT=3306`)).toBe(`CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = '[redacted]', SOURCE_PORT=3306`);
    expect(scrubText('instance running on port 3301')).toBe('instance running on port 3301');
  });
});

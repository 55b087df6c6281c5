import { describe, expect, it } from 'vitest';
import { readOnlyStatements, setVariableStatements } from './sql';

describe('instance SQL', () => {
  it('turns read-only on and off per flavor (super_read_only only where it exists)', () => {
    expect(readOnlyStatements('mariadb', true).map((s) => s.sql)).toEqual(['SET GLOBAL read_only = ON']);
    expect(readOnlyStatements('mysql', true).map((s) => s.sql)).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(readOnlyStatements('mysql', false).map((s) => s.sql)).toEqual(['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF']);
  });

  it('binds variable values and refuses names that are not variable names', () => {
    expect(setVariableStatements({ innodb_buffer_pool_size: 536870912, max_connections: 120 })).toEqual([
      { sql: 'SET GLOBAL innodb_buffer_pool_size = ?', params: [536870912] },
      { sql: 'SET GLOBAL max_connections = ?', params: [120] },
    ]);
    expect(() => setVariableStatements({ 'x = 1; DROP DATABASE mysql; --': 1 })).toThrow(/not a server variable name/);
  });
});

import { describe, expect, it } from 'vitest';
import { archiveBehind, archivedSet, chooseArchiverNode, gapBefore, piecesAfter } from './binlog-archive-decide';

const U = '5a3d885d-f270-11f1-8909-f1d5593d2609';
const V = '6b3d885d-f270-11f1-8909-f1d5593d2609';

describe('archiver placement', () => {
  it('runs off the primary host, stays put, moves when the primary comes to it', () => {
    expect(chooseArchiverNode({ current: '', primaryNode: 'a', healthy: ['a', 'b', 'c'] })).toBe('b');
    expect(chooseArchiverNode({ current: 'c', primaryNode: 'a', healthy: ['a', 'b', 'c'] })).toBe('c');
    expect(chooseArchiverNode({ current: 'b', primaryNode: 'b', healthy: ['a', 'b'] })).toBe('a');
    expect(chooseArchiverNode({ current: 'b', primaryNode: 'a', healthy: ['a'] })).toBe('a');
    expect(chooseArchiverNode({ current: '', primaryNode: 'a', healthy: [] })).toBeUndefined();
  });
});

describe('gaps', () => {
  it('MySQL: a piece continues when its source had nothing the archive lacks (a new primary included)', () => {
    const archived = archivedSet('mysql', [{ gtids: `${U}:1-10` }]);
    expect(gapBefore('mysql', archived, { before: `${U}:1-10`, gtids: `${U}:11-12` })).toBe('');
    expect(gapBefore('mysql', archived, { before: `${U}:1-10,${V}:1-2`, gtids: `${V}:3` })).toBe(`${V}:1-2`);
    expect(gapBefore('mysql', archived, { before: `${U}:1-13`, gtids: `${U}:14` })).toBe(`${U}:11-13`);
    expect(gapBefore('mysql', undefined, { before: `${U}:1-13`, gtids: `${U}:14` })).toBe('');
  });

  it('MariaDB: by sequence number per domain, across a change of server id', () => {
    const archived = archivedSet('mariadb', [{ gtids: '0-1-5,0-1-6' }]);
    expect(gapBefore('mariadb', archived, { before: '0-2-6', gtids: '0-2-7' })).toBe('');
    expect(gapBefore('mariadb', archived, { before: '0-2-8', gtids: '0-2-9' })).not.toBe('');
  });

  it('a restore replays the pieces past its backup, and refuses a chain with a hole after it', () => {
    const pieces = [
      { id: 1, before: `${U}:1-2`, gtids: `${U}:3-5` },
      { id: 2, before: `${U}:1-5`, gtids: `${U}:6-9` },
      { id: 3, before: `${U}:1-9`, gtids: `${U}:10` },
    ];
    expect(piecesAfter('mysql', `${U}:1-6`, pieces)!.map((p) => p.id)).toEqual([2, 3]);
    expect(piecesAfter('mysql', `${U}:1-2`, pieces)!.map((p) => p.id)).toEqual([1, 2, 3]);
    expect(piecesAfter('mysql', `${U}:1`, pieces)).toBeUndefined();
    expect(piecesAfter('mysql', `${U}:1-6`, [pieces[0]!, pieces[2]!])).toBeUndefined();
    expect(piecesAfter('mariadb', '0-1-3', [{ before: '0-1-3', gtids: '0-1-4' }, { before: '0-2-4', gtids: '0-2-5' }])).toHaveLength(2);
  });

  it('behind: the primary executed what the archiver has not received', () => {
    expect(archiveBehind('mysql', `${U}:1-10`, `${U}:1-10`)).toBe(false);
    expect(archiveBehind('mysql', `${U}:1-11`, `${U}:1-10`)).toBe(true);
  });
});

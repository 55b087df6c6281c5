import { describe, expect, it } from 'vitest';
import { openDb } from './db';
import { BinlogArchivesTable } from './binlog-archives';

describe('binlog archive catalog', () => {
  it('enables, places, records pieces once and in order, and keeps the key when turned on again', () => {
    const t = new BinlogArchivesTable(openDb(':memory:'));
    t.enable({ cluster: 'shop', flavor: 'mysql', keyId: 'b-000000000001', dataKey: 'sealed' });
    t.place('shop', 'n2', 'i-0123456789');
    const piece = { cluster: 'shop', sourceInstance: 'i-0123456789', file: 'binlog.000001', fromOffset: 120, toOffset: 900, gtids: 'u:1-3', before: '', firstEventAt: 1, lastEventAt: 2, storedBytes: 10 };
    t.addPiece({ ...piece, id: 'b-00000000000a' });
    t.addPiece({ ...piece, id: 'b-00000000000a' });
    t.addPiece({ ...piece, id: 'b-00000000000b', fromOffset: 900 });
    expect(t.pieces('shop').map((p) => [p.id, p.fromOffset])).toEqual([['b-00000000000a', 120], ['b-00000000000b', 900]]);
    t.disable('shop');
    expect(t.get('shop')!.enabled).toBe(false);
    t.enable({ cluster: 'shop', flavor: 'mysql', keyId: 'b-000000000002', dataKey: 'other' });
    expect(t.get('shop')).toMatchObject({ enabled: true, keyId: 'b-000000000001', dataKey: 'sealed', node: 'n2' });
  });
});

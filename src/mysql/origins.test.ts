import { describe, expect, it } from 'vitest';
import { unseenTransactions } from './origins';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4f22fa47-71ca-11e1-9e33-c80aa9429562';

describe('unseenTransactions', () => {
  it('MySQL: the exact set difference by origin', () => {
    expect(unseenTransactions('mysql', `${U1}:1-100`, `${U1}:1-200`)).toEqual({ gtids: '', count: 0 });
    expect(unseenTransactions('mysql', `${U1}:1-100,${U2}:1-3`, `${U1}:1-200`)).toEqual({ gtids: `${U2}:1-3`, count: 3 });
    expect(unseenTransactions('mysql', '', `${U1}:1-2`)).toEqual({ gtids: '', count: 0 });
  });

  it('MariaDB: a copy that took writes of its own while the primary went on is errant (a position compare misses it)', () => {
    // The copy started at 0-1-100 (slave pos), applied nothing, then wrote 0-7-101..105 itself.
    const copy = '0-7-105,0-1-100';
    const primary = '0-1-200';
    expect(unseenTransactions('mariadb', copy, primary)).toEqual({ gtids: '0-7-105', count: 5 });
  });

  it('MariaDB: a replica that only applied the primary\'s transactions holds nothing unseen', () => {
    expect(unseenTransactions('mariadb', '0-1-150,0-1-100', '0-1-200')).toEqual({ gtids: '', count: 0 });
    // Nothing read at all (a copy whose binlog is empty and that never replicated).
    expect(unseenTransactions('mariadb', '', '0-1-200')).toEqual({ gtids: '', count: 0 });
  });

  it('MariaDB: older origins before the shared part are history, not errant', () => {
    // A retired migration source: written by 3 long ago, then by 5 (itself) up to 400; the
    // target took a copy at 0-5-380 and applied 5's transactions up to 400.
    expect(unseenTransactions('mariadb', '0-3-50,0-5-400,0-5-380', '0-5-400,0-9-450,0-5-380')).toEqual({ gtids: '', count: 0 });
  });

  it('MariaDB: a source that committed after the final set the target applied is errant', () => {
    expect(unseenTransactions('mariadb', '0-3-50,0-5-402', '0-5-400,0-9-450')).toEqual({ gtids: '0-5-402', count: 2 });
  });

  it('MariaDB: a failed-over primary\'s commits beyond what the promoted replica received', () => {
    // Old primary 2 wrote up to 300; the replica (now primary 4) had received 2's up to 297.
    expect(unseenTransactions('mariadb', '0-2-300', '0-2-297,0-4-350')).toEqual({ gtids: '0-2-300', count: 3 });
  });

  it('MariaDB: domains are judged apart', () => {
    expect(unseenTransactions('mariadb', '0-1-10,1-7-3', '0-1-10,1-1-2')).toEqual({ gtids: '1-7-3', count: 3 });
  });
});

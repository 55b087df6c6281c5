import { describe, expect, it } from 'vitest';
import { bufferPoolBytes, maxConnections } from './mycnf';
import { memoryVariables, poolResizeBusy, resizeOrder } from './resize';

const M = 1024 ** 2;
const G = 1024 ** 3;

describe('in-place resize on the agent', () => {
  it('growing memory raises the limit first; shrinking gives the buffer pool back first', () => {
    expect(resizeOrder(512 * M, G)).toEqual(['limits', 'mysqld']);
    expect(resizeOrder(G, 768 * M)).toEqual(['mysqld', 'limits']);
    // CPU only: limits, then the (unchanged) variables.
    expect(resizeOrder(G, G)).toEqual(['limits', 'mysqld']);
  });

  it('sets the values my.cnf renders for the new memory', () => {
    expect(memoryVariables(768 * M, 'mysql')).toEqual({ innodb_buffer_pool_size: bufferPoolBytes(768 * M, 'mysql'), max_connections: maxConnections(768 * M) });
  });

  it('reads InnoDB resize status of both flavors', () => {
    expect(poolResizeBusy({})).toBe(false);
    expect(poolResizeBusy({ innodb_buffer_pool_resize_status: '' })).toBe(false);
    expect(poolResizeBusy({ innodb_buffer_pool_resize_status: 'Resizing buffer pool from 268435456 to 536870912 (unit=4194304).' })).toBe(true);
    expect(poolResizeBusy({ innodb_buffer_pool_resize_status: 'Completed resizing buffer pool at 261127 11:30:01.' })).toBe(false);
    expect(poolResizeBusy({ innodb_buffer_pool_resize_status: 'Completed resizing buffer pool at 261127 11:30:01.', innodb_buffer_pool_resize_status_code: '0' })).toBe(false);
    expect(poolResizeBusy({ innodb_buffer_pool_resize_status: 'Withdrawing blocks to be shrunken.', innodb_buffer_pool_resize_status_code: '2' })).toBe(true);
  });
});

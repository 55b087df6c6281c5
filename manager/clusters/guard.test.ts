import { describe, expect, it } from 'vitest';
import { memberMoveRefusal } from './guard';

describe('memberMoveRefusal', () => {
  it('lets a standalone instance move', () => {
    expect(memberMoveRefusal({ name: 'a', clusterName: '', clusterRole: '', fenced: false })).toBeUndefined();
  });

  it('refuses the primary, asking for a switchover first', () => {
    expect(memberMoveRefusal({ name: 'orders-1', clusterName: 'orders', clusterRole: 'primary', fenced: false })).toMatch(/primary of cluster orders.*switchover orders/);
  });

  it('refuses a replica, naming add-replica and remove-replica', () => {
    expect(memberMoveRefusal({ name: 'orders-2', clusterName: 'orders', clusterRole: 'replica', fenced: false })).toMatch(/replica of cluster orders.*add-replica orders.*remove-replica orders orders-2/);
  });

  it('refuses a fenced former primary', () => {
    expect(memberMoveRefusal({ name: 'orders-1', clusterName: 'orders', clusterRole: 'replica', fenced: true })).toMatch(/fenced member of cluster orders/);
  });
});

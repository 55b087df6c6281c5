import { describe, expect, it } from 'vitest';
import { electedPrimary, groupConfigFor, groupMemberHealth } from './group';

const report = (id: string, role: string, online: number, state = 'ONLINE', mysqldUp = true) => ({ id, mysqldUp, groupState: state, groupRole: role, groupOnline: online, groupSize: 3 });

describe('consensus clusters: what the manager decides', () => {
  it('renders seeds, allowlist and the local address from the members, group ports beside instance ports', () => {
    const ms = [{ host: '127.0.0.91', port: 3991 }, { host: '127.0.0.92', port: 3994 }, { host: '127.0.0.93', port: 3997 }];
    const g = groupConfigFor({ groupName: 'u', groupConsistency: '', memberWeight: 70 }, ms[1]!, ms);
    expect(g).toEqual({
      groupName: 'u', localAddress: '127.0.0.92:4994', seeds: ['127.0.0.91:4991', '127.0.0.92:4994', '127.0.0.93:4997'],
      allowlist: ['127.0.0.91', '127.0.0.92', '127.0.0.93', '127.0.0.1'], memberWeight: 70, consistency: 'BEFORE_ON_PRIMARY_FAILOVER', autorejoinTries: 3,
    });
  });

  it('allows only the members hosts off loopback', () => {
    const ms = [{ host: '10.0.0.1', port: 3306 }, { host: '10.0.0.2', port: 3306 }, { host: '10.0.0.3', port: 3306 }];
    expect(groupConfigFor({ groupName: 'u', groupConsistency: 'AFTER', memberWeight: 50 }, ms[0]!, ms).allowlist).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('follows the primary a majority view elected', () => {
    expect(electedPrimary([report('a', 'SECONDARY', 3), report('b', 'PRIMARY', 3), report('c', 'SECONDARY', 3)], 3)).toBe('b');
    // After the old primary died: the two left see each other online.
    expect(electedPrimary([report('b', 'SECONDARY', 2), report('c', 'PRIMARY', 2)], 3)).toBe('c');
  });

  it('never follows a primary cut off from the majority, nor one still recovering', () => {
    expect(electedPrimary([report('a', 'PRIMARY', 1)], 3)).toBeUndefined();
    expect(electedPrimary([report('a', 'PRIMARY', 1), report('b', 'PRIMARY', 2), report('c', 'SECONDARY', 2)], 3)).toBe('b');
    expect(electedPrimary([report('a', 'PRIMARY', 3, 'RECOVERING')], 3)).toBeUndefined();
    expect(electedPrimary([], 3)).toBeUndefined();
    // The killed primary's last report (its mysqld no longer answers) says what it was.
    expect(electedPrimary([report('a', 'PRIMARY', 3, 'ONLINE', false), report('b', 'PRIMARY', 2), report('c', 'SECONDARY', 2)], 3)).toBe('b');
  });

  it('judges a member by its own row in the group', () => {
    expect(groupMemberHealth({ state: 'ONLINE', queue: 0 }, 'running')).toBe('ok');
    expect(groupMemberHealth({ state: 'ONLINE', queue: 5000 }, 'running')).toBe('lagging');
    expect(groupMemberHealth({ state: 'RECOVERING', queue: 0 }, 'running')).toBe('lagging');
    expect(groupMemberHealth({ state: 'ERROR', queue: 0 }, 'running')).toBe('broken');
    expect(groupMemberHealth(undefined, 'stopped')).toBe('down');
    expect(groupMemberHealth(undefined, 'running')).toBe('unreachable');
    expect(groupMemberHealth(undefined, 'creating')).toBe('creating');
  });
});

import { describe, expect, it } from 'vitest';
import type { AgentReplicationState } from '../src/gen/berth/v1/AgentReplicationState';
import { urgentChange } from './replication-change';

const up = (io: boolean): AgentReplicationState => ({ mysqldUp: true, ioRunning: io, sqlRunning: true, executedGtids: 'a:1-5' });
const down: AgentReplicationState = { mysqldUp: false, ioRunning: true };

describe('urgentChange', () => {
  it('the first reading, mysqld going down or coming back: at once', () => {
    expect(urgentChange(undefined, up(true))).toBe(true);
    expect(urgentChange(up(true), down)).toBe(true);
    expect(urgentChange(down, up(true))).toBe(true);
  });

  it("a replica's IO thread losing or regaining its source: at once", () => {
    expect(urgentChange(up(true), up(false))).toBe(true);
    expect(urgentChange(up(false), up(true))).toBe(true);
  });

  it('progress alone (new GTIDs, the same threads) waits for the tick', () => {
    expect(urgentChange(up(true), { ...up(true), executedGtids: 'a:1-9' })).toBe(false);
    expect(urgentChange(up(false), up(false))).toBe(false);
  });

  it('a down server still down is not news, whatever its stale IO field says', () => {
    expect(urgentChange(down, { ...down, ioRunning: false })).toBe(false);
  });
});

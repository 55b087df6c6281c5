import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTION as T, failoverBlocked, judgePrimary, probeDue, type PrimaryObservation } from './detect';

const now = 1_000_000;
const base: PrimaryObservation = {
  now,
  agentLastHeartbeatMs: now - 500,
  containerState: 'running',
  agentProbe: { measuredAtMs: now - 600, mysqldUp: true, mysqldDownSinceMs: 0 },
  managerProbe: { atMs: now - 100, reachable: true, failingSinceMs: 0 },
  replicas: [
    { name: 'b', fresh: true, ioRunning: true },
    { name: 'c', fresh: true, ioRunning: true },
  ],
};
const lost = base.replicas.map((r) => ({ ...r, ioRunning: false }));
const silent = { agentLastHeartbeatMs: now - T.agentSilentMs - 1 };
const unreachable = { managerProbe: { atMs: now - 100, reachable: false, failingSinceMs: now - T.probeFailMs - 1 } };

describe('judgePrimary', () => {
  it('all well: healthy', () => {
    expect(judgePrimary(base, T).state).toBe('healthy');
  });

  it('container killed (docker kill: Docker will not restart it) and mysqld unreachable: dead at once', () => {
    const v = judgePrimary({ ...base, containerState: 'stopped', agentProbe: { measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: now }, ...unreachable }, T);
    expect(v).toEqual({ state: 'dead', reason: expect.stringMatching(/container stopped/) });
  });

  it('container reported stopped but the manager still reaches mysqld: only suspect', () => {
    expect(judgePrimary({ ...base, containerState: 'stopped' }, T).state).toBe('suspect');
  });

  it('mysqld not answering its agent for less than the threshold (a restart): suspect, no failover', () => {
    const v = judgePrimary({ ...base, containerState: 'restarting', agentProbe: { measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: now - T.mysqldDownMs + 200 }, ...unreachable }, T);
    expect(v.state).toBe('suspect');
  });

  it('mysqld not answering its agent past the threshold and not the manager either: dead', () => {
    const v = judgePrimary({ ...base, agentProbe: { measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: now - T.mysqldDownMs - 1 }, ...unreachable }, T);
    expect(v.state).toBe('dead');
  });

  it('mysqld not answering its agent but answering the manager (a socket problem on the host): suspect', () => {
    const v = judgePrimary({ ...base, agentProbe: { measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: now - 60_000 } }, T);
    expect(v.state).toBe('suspect');
  });

  it('agent dead alone, mysqld still serving the manager: healthy, never a failover', () => {
    const v = judgePrimary({ ...base, ...silent, replicas: lost }, T);
    expect(v).toEqual({ state: 'healthy', reason: expect.stringMatching(/no failover for an agent alone/) });
  });

  it('agent silent and mysqld unreachable, but a replica still replicates: suspect (the manager is the one cut off)', () => {
    const v = judgePrimary({ ...base, ...silent, ...unreachable, replicas: [lost[0]!, base.replicas[1]!] }, T);
    expect(v).toEqual({ state: 'suspect', reason: expect.stringMatching(/c still replicate/) });
  });

  it('agent silent, mysqld unreachable, every replica lost its connection: dead (host loss)', () => {
    expect(judgePrimary({ ...base, ...silent, ...unreachable, replicas: lost }, T).state).toBe('dead');
  });

  it('host loss with replicas not heard from (their agents silent too): suspect, nobody confirms', () => {
    const v = judgePrimary({ ...base, ...silent, ...unreachable, replicas: lost.map((r) => ({ ...r, fresh: false })) }, T);
    expect(v.state).toBe('suspect');
  });

  it('agent silent and the probe failing for less than its threshold: suspect', () => {
    const v = judgePrimary({ ...base, ...silent, managerProbe: { atMs: now, reachable: false, failingSinceMs: now - 500 }, replicas: lost }, T);
    expect(v.state).toBe('suspect');
  });

  it('agent silent and mysqld never probed yet: suspect', () => {
    expect(judgePrimary({ ...base, ...silent, managerProbe: undefined, replicas: lost }, T).state).toBe('suspect');
  });

  it('thresholds are honoured as configured', () => {
    const o = { ...base, agentProbe: { measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: now - 3000 }, ...unreachable };
    expect(judgePrimary(o, { ...T, mysqldDownMs: 5000 }).state).toBe('suspect');
    expect(judgePrimary(o, { ...T, mysqldDownMs: 2000 }).state).toBe('dead');
  });
});

describe('failoverBlocked (anti-flap)', () => {
  const hour = 3_600_000;
  it('no failover before: allowed', () => {
    expect(failoverBlocked([], now, hour)).toBeUndefined();
  });
  it('an unacknowledged failover within the period blocks the next', () => {
    expect(failoverBlocked([{ atMs: now - 60_000, acknowledged: false }], now, hour)).toMatch(/60 s ago is not acknowledged.*wait 3540 s/);
  });
  it('acknowledged by a DBA: allowed', () => {
    expect(failoverBlocked([{ atMs: now - 60_000, acknowledged: true }], now, hour)).toBeUndefined();
  });
  it('older than the period: allowed', () => {
    expect(failoverBlocked([{ atMs: now - hour - 1, acknowledged: false }], now, hour)).toBeUndefined();
  });
});

describe('probeDue', () => {
  it('all well (agent heard, container running, every replica connected): no probe', () => {
    expect(probeDue(base, T)).toBe(false);
  });

  it('the agent quiet for half the silence threshold: probe already, so the probe has failed long enough when it turns silent', () => {
    expect(probeDue({ ...base, agentLastHeartbeatMs: now - T.agentSilentMs / 2 - 1 }, T)).toBe(true);
    expect(probeDue({ ...base, agentLastHeartbeatMs: now - T.agentSilentMs / 2 + 100 }, T)).toBe(false);
  });

  it('a replica heard from that lost its IO connection, the container not running, or mysqld down: probe', () => {
    expect(probeDue({ ...base, replicas: [base.replicas[0]!, { name: 'c', fresh: true, ioRunning: false }] }, T)).toBe(true);
    expect(probeDue({ ...base, containerState: 'stopped' }, T)).toBe(true);
    expect(probeDue({ ...base, mysqldUp: false }, T)).toBe(true);
  });

  it('a replica not heard from says nothing', () => {
    expect(probeDue({ ...base, replicas: [base.replicas[0]!, { name: 'c', fresh: false, ioRunning: false }] }, T)).toBe(false);
  });
});

describe('a cut-off host with the early probe', () => {
  it('judged dead as soon as the agent turns silent: the probe started failing at half the silence, every replica lost its source', () => {
    const t = { agentSilentMs: 3000, mysqldDownMs: 1000, probeFailMs: 1000 };
    const o = { ...base, agentLastHeartbeatMs: now - 3001, replicas: lost, managerProbe: { atMs: now, reachable: false, failingSinceMs: now - 1500 } };
    expect(judgePrimary(o, t).state).toBe('dead');
    // One replica still connected: never, however long the silence.
    expect(judgePrimary({ ...o, replicas: [lost[0]!, base.replicas[1]!] }, t).state).toBe('suspect');
    // The agent dead alone, mysqld answering the manager: never.
    expect(judgePrimary({ ...o, managerProbe: { atMs: now, reachable: true, failingSinceMs: 0 } }, t).state).toBe('healthy');
  });
});

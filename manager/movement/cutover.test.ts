import { describe, expect, it } from 'vitest';
import { cutOver, CutOverIncomplete } from './cutover';
import type { Endpoint } from './types';

// A fake agent that records calls in order; what each call answers is set per test.
function fakeEndpoint(id: string, answers: Record<string, (req: any) => unknown>, log: string[]): Endpoint {
  const agent = new Proxy(
    {},
    {
      get: (_t, name: string) => async (req: any) => {
        log.push(`${id}.${name}${req.readOnly !== undefined ? `(${req.readOnly})` : ''}`);
        const f = answers[name];
        if (!f) throw new Error(`unexpected call ${name}`);
        return f(req);
      },
    },
  );
  return { id, flavor: 'mariadb', agent: agent as Endpoint['agent'], agentAddress: 'x', host: '127.0.0.1', port: 3301 };
}

const revoked = [{ user: 'admin', host: '%' }];

describe('cutOver', () => {
  it('source read-only, kill, wait for the final set, reset and open the target, in that order', async () => {
    const log: string[] = [];
    const source = fakeEndpoint('src', { setReadOnly: () => ({ revoked, executedGtids: '0-1-10' }), killClientConnections: () => ({ killed: 3, executedGtids: '0-1-12' }) }, log);
    const target = fakeEndpoint(
      'dst',
      { waitForGtid: (r) => (expect(r.gtidSet).toBe('0-1-12'), { reached: true, executedGtids: '0-1-12' }), resetReplica: () => ({}), setReadOnly: (r) => (expect(r.persist).toBe(true), {}) },
      log,
    );
    const r = await cutOver(source, target, { graceMs: 0, deadlineMs: 5000 });
    expect(r).toMatchObject({ ok: true, finalGtid: '0-1-12', killed: 3 });
    expect(log).toEqual(['src.setReadOnly(true)', 'src.killClientConnections', 'dst.waitForGtid', 'dst.resetReplica', 'dst.setReadOnly(false)']);
  });

  it('a target that does not catch up in time: the source is writable again, and no account gets a bypass back', async () => {
    const log: string[] = [];
    let restored: unknown;
    const source = fakeEndpoint(
      'src',
      { setReadOnly: (r) => (r.readOnly ? { revoked, executedGtids: '' } : ((restored = r.restore), {})), killClientConnections: () => ({ killed: 0, executedGtids: '0-1-12' }) },
      log,
    );
    const target = fakeEndpoint('dst', { waitForGtid: () => ({ reached: false, executedGtids: '0-1-11' }) }, log);
    const r = await cutOver(source, target, { graceMs: 0, deadlineMs: 5000 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/did not execute the source's final GTID set 0-1-12/);
    expect(restored).toBeUndefined();
    expect(log.at(-1)).toBe('src.setReadOnly(false)');
    expect(log).not.toContain('dst.setReadOnly(false)');
  });

  it('a target that claims it waited but lacks transactions is not trusted', async () => {
    const log: string[] = [];
    const source = fakeEndpoint('src', { setReadOnly: () => ({ revoked: [], executedGtids: '' }), killClientConnections: () => ({ killed: 0, executedGtids: '0-1-12' }) }, log);
    const target = fakeEndpoint('dst', { waitForGtid: () => ({ reached: true, executedGtids: '0-1-9' }) }, log);
    expect((await cutOver(source, target, { graceMs: 0, deadlineMs: 5000 })).ok).toBe(false);
  });

  it('past the point of no return a failure never makes the source writable again', async () => {
    const log: string[] = [];
    const source = fakeEndpoint('src', { setReadOnly: (r) => (r.readOnly ? { revoked, executedGtids: '' } : {}), killClientConnections: () => ({ killed: 0, executedGtids: '0-1-12' }) }, log);
    const target = fakeEndpoint(
      'dst',
      {
        waitForGtid: () => ({ reached: true, executedGtids: '0-1-12' }),
        resetReplica: () => ({}),
        setReadOnly: () => {
          throw new Error('agent went away');
        },
      },
      log,
    );
    await expect(cutOver(source, target, { graceMs: 0, deadlineMs: 5000 })).rejects.toBeInstanceOf(CutOverIncomplete);
    expect(log.filter((l) => l === 'src.setReadOnly(false)')).toEqual([]);
  });

  it('the grace period counts in the blocked window', async () => {
    const log: string[] = [];
    const source = fakeEndpoint('src', { setReadOnly: () => ({ revoked: [], executedGtids: '' }), killClientConnections: () => ({ killed: 0, executedGtids: '' }) }, log);
    const target = fakeEndpoint('dst', { waitForGtid: () => ({ reached: true, executedGtids: '' }), resetReplica: () => ({}), setReadOnly: () => ({}) }, log);
    const r = await cutOver(source, target, { graceMs: 120, deadlineMs: 5000 });
    expect(r.blockedMs).toBeGreaterThanOrEqual(115);
  });
});

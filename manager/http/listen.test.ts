import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { UsageMap } from '../state/usage';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { Store } from '../store/index';
import { isLoopback, tokenMatches } from './auth';
import { startAdminServer } from './listen';

const deps = () => ({
  store: new Store(Store.open(':memory:').db),
  snapshot: new Snapshot(),
  usage: new UsageMap(),
  scheduler: DEFAULT_SCHEDULER_CONFIG,
  log: createLogger('test', 'silent'),
});

describe('admin listener', () => {
  it('without a token binds to loopback even when asked for every address', async () => {
    const s = await startAdminServer(deps(), '0.0.0.0:0');
    expect(s!.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await s!.app.close();
  });

  it('with a token binds where it is told', async () => {
    const s = await startAdminServer({ ...deps(), token: 't' }, '0.0.0.0:0');
    expect(s!.address).toMatch(/^0\.0\.0\.0:\d+$/);
    const port = s!.address.split(':')[1];
    expect((await fetch(`http://127.0.0.1:${port}/v1/nodes`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/v1/nodes`, { headers: { authorization: 'Bearer t' } })).status).toBe(200);
    // A taken port is logged and the manager goes on without the admin server.
    expect(await startAdminServer({ ...deps(), token: 't' }, `127.0.0.1:${port}`)).toBeUndefined();
    await s!.app.close();
  });

  it('compares tokens whatever their lengths, and knows loopback addresses', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('abcd', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
    expect(['127.0.0.1', '127.3.2.1', 'localhost', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].some(isLoopback)).toBe(false);
  });
});

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import type { RouterFrontend } from './config';
import { HaproxyRouter } from './supervisor';

// A real HAProxy (installed by scripts/setup.sh) in front of two TCP servers that name
// themselves: what the router does to sessions when the manager moves or closes a route.
const HOST = '127.0.0.55';
const PORT = 4698;

function namedServer(name: string): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', () => s.write(name));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ port: (server.address() as net.AddressInfo).port, server })));
}

// A client session through the proxy: each ping answers with the server's name.
function session(): Promise<{ ping(): Promise<string>; closed: Promise<void>; end(): void }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(PORT, HOST, () => resolve({ ping, closed, end: () => s.destroy() }));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', reject);
    const ping = () => new Promise<string>((r, j) => {
      s.once('data', (d) => r(d.toString()));
      s.once('close', () => j(new Error('closed')));
      s.write('?');
    });
  });
}

// A connection that is reset or closed without an answer.
function refused(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(PORT, HOST, () => s.write('?'));
    s.on('data', () => resolve(false));
    s.on('error', () => resolve(true));
    s.on('close', () => resolve(true));
  });
}

const rw = (port: number, ready = true, name = 'c-x-rw'): RouterFrontend => ({ name, port: PORT, servers: [{ name: 's0', host: '127.0.0.1', port, ready, backup: false }] });

describe('HAProxy router (real haproxy)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-'));
  const router = new HaproxyRouter({ dir, bindHost: HOST }, createLogger('test', process.env.ROUTER_TEST_LOG ?? 'silent'));
  let a: { port: number; server: net.Server };
  let b: { port: number; server: net.Server };
  beforeAll(async () => {
    a = await namedServer('a');
    b = await namedServer('b');
  });
  afterAll(async () => {
    await router.stop();
    a.server.close();
    b.server.close();
  });

  it('routes, moves a route (shutting the old sessions), keeps sessions across a reload, refuses when closed', async () => {
    expect((await router.apply(1, [rw(a.port)], 0)).reloaded).toBe(true);
    const s1 = await session();
    expect(await s1.ping()).toBe('a');

    // Moved through the runtime socket: no reload, the old session is shut, a new one reaches b.
    const moved = await router.apply(2, [rw(b.port)], 0);
    expect(moved.reloaded).toBe(false);
    await s1.closed;
    const s2 = await session();
    expect(await s2.ping()).toBe('b');

    // A second frontend: a reload, and the established session to a healthy server lives on.
    const two = await router.apply(3, [rw(b.port), { ...rw(a.port, true, 'c-y-rw'), port: PORT - 1 }], 0);
    expect(two.reloaded).toBe(true);
    expect(await s2.ping()).toBe('b');
    expect(two.stats.map((s) => s.name).sort()).toEqual(['c-x-rw', 'c-y-rw']);

    // An older generation changes nothing.
    expect((await router.apply(2, [rw(a.port)], 0)).applied).toBe(false);
    expect(await s2.ping()).toBe('b');

    // Closed: the session is shut and a new connection gets no server.
    await router.apply(4, [rw(b.port, false), { ...rw(a.port, true, 'c-y-rw'), port: PORT - 1 }], 0);
    await s2.closed;
    // (HAProxy resets it at once: no server takes it.)
    expect(await refused()).toBe(true);
  }, 30_000);

  it('fails closed when the lease runs out, and opens again at the next routing', async () => {
    await router.apply(10, [rw(a.port)], 1000);
    const s = await session();
    expect(await s.ping()).toBe('a');
    await s.closed;
    const after = await router.apply(11, [rw(a.port)], 0);
    expect(after.stats.find((x) => x.name === 'c-x-rw')?.serversReady).toBe(1);
    const again = await session();
    expect(await again.ping()).toBe('a');
    again.end();
  }, 30_000);

  it('stops HAProxy when no endpoint is left and starts it again for the next one', async () => {
    await router.apply(20, [], 0);
    expect(await refused()).toBe(true);
    expect(await router.stats()).toEqual([]);
    expect((await router.apply(21, [rw(a.port)], 0)).reloaded).toBe(true);
    const s = await session();
    expect(await s.ping()).toBe('a');
    s.end();
  }, 30_000);
});

import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../src/errors';
import { isLoopback, splitHostPort } from './auth';
import { buildAdminServer, type AdminDeps } from './server';

// Builds the admin server and listens. Without a token nothing may reach it from another host:
// a non-loopback address is replaced by 127.0.0.1 (same port), and the log says so. A port that
// cannot be bound is logged and the manager goes on serving gRPC without the admin server.
export async function startAdminServer(d: AdminDeps, listen: string): Promise<{ app: FastifyInstance; address: string } | undefined> {
  let { host, port } = splitHostPort(listen);
  if (!d.token && !d.tls) {
    if (!isLoopback(host)) {
      d.log.warn({ requested: listen }, 'no admin token (--admin-unauthenticated): the admin server binds to 127.0.0.1 only');
      host = '127.0.0.1';
    }
  }
  // Loopback is no boundary on a berth host: MySQL containers share the host's network.
  if (!d.token && !d.requireAuth && isLoopback(host)) d.log.warn({ listen: `${host}:${port}` }, 'admin HTTP server without authentication: any process on this host, MySQL containers included, can use it');
  // Off loopback: HTTPS with the manager's certificate (same CA as gRPC) and tokens required.
  const off = !isLoopback(host);
  const https = off && d.tls ? { key: fs.readFileSync(d.tls.key), cert: fs.readFileSync(d.tls.cert), ca: fs.readFileSync(d.tls.ca) } : undefined;
  const app = await buildAdminServer({ ...d, https, requireAuth: d.requireAuth || off });
  try {
    await app.listen({ host, port });
  } catch (err) {
    d.log.error({ listen: `${host}:${port}`, err: errorMessage(err) }, 'admin HTTP server could not listen; the manager goes on without it');
    await app.close().catch(() => undefined);
    return undefined;
  }
  const addr = app.server.address();
  const address = typeof addr === 'object' && addr ? `${host.includes(':') ? `[${host}]` : host}:${addr.port}` : `${host}:${port}`;
  d.log.info({ address, auth: Boolean(d.token) || off, https: Boolean(https), hosts: d.allowedHosts }, 'admin HTTP server listening');
  return { app, address };
}

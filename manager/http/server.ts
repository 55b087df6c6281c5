import { status } from '@grpc/grpc-js';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchemaValidationError } from 'fastify';
import { BerthError, invalidArgument } from '../../src/errors';
import { VERSION } from '../../src/version';
import { computeCapacity } from '../capacity/compute';
import { allowedHost, bearer, isPublicPath, tokenMatches } from './auth';
import { httpRequiredRole, RANK } from '../auth/policy';
import { Metrics } from './metrics';
import { alertRoutes } from './routes/alerts';
import { capacityRoutes } from './routes/capacity';
import { capacityHistoryRoutes } from './routes/capacity-history';
import { dashboardRoutes } from './routes/dashboard';
import { viewRoutes } from './routes/views';
import { expansionRoutes } from './routes/expansions';
import { backupRoutes } from './routes/backups';
import { clusterRoutes } from './routes/clusters';

export type { AdminContext, AdminDeps } from './context';
import type { AdminContext, AdminDeps } from './context';

const HTTP_OF: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.FAILED_PRECONDITION]: 409,
  [status.RESOURCE_EXHAUSTED]: 409,
  [status.UNAVAILABLE]: 503,
  [status.UNIMPLEMENTED]: 501,
};

// "querystring parameter cpu must match pattern …", naming the parameter in every case.
export function formatSchemaErrors(errors: FastifySchemaValidationError[], where: string): Error {
  const parts = errors.map((e) => {
    const p = e.params as Record<string, unknown>;
    const name = (p.missingProperty ?? p.additionalProperty ?? e.instancePath.replace(/^\//, '').replace(/\//g, '.')) as string;
    if (p.additionalProperty) return `${where} parameter "${name}" is not known`;
    if (p.missingProperty) return `${where} parameter "${name}" is required`;
    return `${where} parameter "${name || '(body)'}" ${e.message ?? 'is not valid'}`;
  });
  return new Error(parts.join('; '));
}

export async function buildAdminServer(d: AdminDeps): Promise<FastifyInstance> {
  const now = d.now ?? Date.now;
  const capacity = () => computeCapacity(d.snapshot.nodes(), d.store.instances.all(), d.usage, d.scheduler, now());
  const metrics =
    d.metrics ??
    new Metrics(
      d.store,
      capacity,
      () => d.alerts?.firing() ?? [],
      () => d.webhook ?? { delivered: 0, failed: 0 },
    );
  const ctx: AdminContext = { ...d, now, metrics, capacity };

  const app = Fastify({
    ...(d.https ? { https: d.https } : {}),
    loggerInstance: d.log.child({ component: 'admin-http' }) as FastifyBaseLogger,
    disableRequestLogging: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'berth manager admin API', version: VERSION, description: 'Capacity, fleet views, node actions, alerts and metrics of a berth manager.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.addHook('onRequest', async (req, reply) => {
    // DNS rebinding: a page served from another name must not reach this server through a browser.
    if (d.allowedHosts?.length && !allowedHost(req.headers.host, d.allowedHosts)) {
      return reply.code(421).send({ error: { code: 'misdirected', message: `this server answers to ${d.allowedHosts.join(', ')} only, not Host "${req.headers.host ?? ''}"` } });
    }
    if (!d.token && !d.requireAuth) return;
    if (isPublicPath(req.url)) return;
    const presented = bearer(req.headers.authorization);
    const role = d.token && tokenMatches(presented, d.token) ? 'admin' : presented ? d.tokens?.verify(presented)?.role : undefined;
    const needed = httpRequiredRole(req.method, req.routeOptions.url);
    if (role && RANK[role] < RANK[needed]) {
      return reply.code(403).send({ error: { code: 'forbidden', message: `${req.method} ${req.url.split('?')[0]} needs the ${needed} role; this token has ${role}` } });
    }
    if (!role) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="berth"')
        .send({ error: { code: 'unauthorized', message: req.headers.authorization ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer …)' } });
    }
  });

  // Ajv coerces "1e309" to Infinity and lets it past minimum/maximum (found by the fuzz test):
  // no route takes a non-finite number.
  app.addHook('preHandler', async (req) => {
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw invalidArgument(`querystring parameter "${k}" must be a finite number`);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof BerthError) {
      const code = HTTP_OF[err.code] ?? 500;
      return reply.code(code).send({ error: { code: status[err.code]?.toLowerCase() ?? 'error', message: err.message } });
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation) return reply.code(400).send({ error: { code: 'bad_request', message: e.message } });
    const code = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    if (code >= 500) req.log.error({ err: e.message, url: req.url }, 'admin request failed');
    return reply.code(code).send({ error: { code: code >= 500 ? 'internal' : 'bad_request', message: e.message } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  app.get(
    '/healthz',
    { schema: { tags: ['meta'], summary: 'liveness, no token needed', security: [], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, version: { type: 'string' } } } } } },
    async () => ({ ok: true, version: VERSION }),
  );
  app.get('/metrics', { schema: { tags: ['meta'], summary: 'Prometheus exposition, no token needed', security: [] } }, async (_req, reply) => {
    const m = await metrics.render();
    return reply.type(m.contentType).send(m.body);
  });

  await app.register(capacityRoutes(ctx));
  await app.register(capacityHistoryRoutes(ctx));
  await app.register(viewRoutes(ctx));
  await app.register(alertRoutes(ctx));
  await app.register(expansionRoutes(ctx));
  await app.register(backupRoutes(ctx));
  await app.register(clusterRoutes(ctx));
  await app.register(dashboardRoutes());
  return app;
}

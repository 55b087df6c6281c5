import { status } from '@grpc/grpc-js';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchemaValidationError } from 'fastify';
import { BerthError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { VERSION } from '../../src/version';
import { computeCapacity, type CapacityReport } from '../capacity/compute';
import type { AlertManager } from '../health/alerts/manager';
import type { WebhookSender } from '../health/alerts/webhook';
import type { UsageMap } from '../health/usage';
import type { Snapshot } from '../scheduler/snapshot';
import type { SchedulerConfig } from '../scheduler/types';
import type { Store } from '../store/index';
import { bearer, isPublicPath, tokenMatches } from './auth';
import { Metrics } from './metrics';
import { alertRoutes } from './routes/alerts';
import { capacityRoutes } from './routes/capacity';
import { dashboardRoutes } from './routes/dashboard';
import { viewRoutes } from './routes/views';
import { expansionRoutes } from './routes/expansions';
import type { ExpansionOps } from '../expansion/ops';
import type { Expander } from '../expansion/expander';

export interface AdminDeps {
  store: Store;
  snapshot: Snapshot;
  usage: UsageMap;
  scheduler: SchedulerConfig;
  log: Logger;
  // Bearer token; undefined: no authentication (the caller binds to loopback only).
  token?: string;
  alerts?: AlertManager;
  webhook?: WebhookSender;
  metrics?: Metrics;
  now?: () => number;
  // Resize, migrate and drain (drain then migrates instead of refusing), and the automatic
  // expansion's decisions (GET /v1/expansions).
  expansion?: ExpansionOps;
  expander?: Expander;
}

export interface AdminContext extends AdminDeps {
  now: () => number;
  metrics: Metrics;
  capacity: () => CapacityReport;
}

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
    if (!d.token) return;
    if (isPublicPath(req.url)) return;
    if (!tokenMatches(bearer(req.headers.authorization), d.token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="berth"')
        .send({ error: { code: 'unauthorized', message: req.headers.authorization ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer …)' } });
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
  await app.register(viewRoutes(ctx));
  await app.register(alertRoutes(ctx));
  await app.register(expansionRoutes(ctx));
  await app.register(dashboardRoutes());
  return app;
}

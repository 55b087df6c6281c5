import type { FastifyInstance } from 'fastify';
import { DASHBOARD_HTML } from '../dashboard-page';

export function dashboardRoutes() {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/', { schema: { tags: ['meta'], summary: 'the dashboard page (a static shell: its data comes from /v1/capacity)', security: [] } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
        .send(DASHBOARD_HTML),
    );
  };
}

import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../context';

const str = { type: 'string' } as const;

export function alertRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/alerts',
      {
        schema: {
          tags: ['alerts'],
          summary: 'alerts firing now (their starts and resolves are events of kind alert.*)',
          querystring: { type: 'object', additionalProperties: false, properties: { rule: { type: 'string', pattern: '^[a-z_]{1,60}$' } } },
          response: {
            200: {
              type: 'object',
              properties: {
                items: { type: 'array', items: { type: 'object', properties: { rule: str, subject: str, severity: str, message: str, startsAt: str } } },
                total: { type: 'number' },
              },
            },
          },
        },
      },
      async (req) => {
        const { rule } = req.query as { rule?: string };
        const items = (ctx.alerts?.firing() ?? []).filter((a) => !rule || a.rule === rule);
        return { items, total: items.length };
      },
    );
  };
}

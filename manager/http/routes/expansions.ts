import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../context';

const str = { type: 'string' } as const;

export function expansionRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/expansions',
      {
        schema: {
          tags: ['expansion'],
          summary: "the automatic expansion's decisions, newest first (each is also an event expansion.*)",
          querystring: { type: 'object', additionalProperties: false, properties: { instance: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } } },
          response: {
            200: {
              type: 'object',
              properties: {
                mode: str,
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      at: str, instanceId: str, name: str, node: str, trigger: str, reason: str, outcome: str, detail: str, operationId: str,
                      change: { type: 'object', properties: { cpuMillis: { type: 'number' }, memoryBytes: { type: 'number' }, diskBytes: { type: 'number' } } },
                    },
                  },
                },
                total: { type: 'number' },
              },
            },
          },
        },
      },
      async (req) => {
        const { instance } = req.query as { instance?: string };
        const items = (ctx.expander?.list() ?? []).filter((r) => !instance || r.instanceId === instance || r.name === instance);
        return { mode: ctx.expander?.cfg.mode ?? 'off', items, total: items.length };
      },
    );
  };
}

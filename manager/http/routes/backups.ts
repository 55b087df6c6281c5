import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../context';

const str = { type: 'string' } as const;
const num = { type: 'number' } as const;

// The backup catalog (docs/backup.md), newest first; the same rows as the Portal's ListBackups.
export function backupRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/backups',
      {
        schema: {
          tags: ['backup'],
          summary: 'backups in the catalog, newest first; only complete ones restore',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { instance: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: str, instanceId: str, instanceName: str, cluster: str, flavor: str, sourceInstance: str, sourceNode: str, method: str,
                      repository: str, status: str, storedBytes: num, dataBytes: num, gtid: str, operationId: str, message: str, createdAt: str, completedAt: str,
                    },
                  },
                },
                total: num,
              },
            },
          },
        },
      },
      async (req) => {
        const { instance, limit } = req.query as { instance?: string; limit?: number };
        const items = ctx.store.backups.list(instance ?? '', limit ?? 100);
        return { items, total: items.length };
      },
    );

    // Policies as stored (GET only: they are set through the Portal, berthctl backup policy set).
    app.get('/v1/backup-policies', { schema: { tags: ['backup'], summary: 'backup policies: fleet default, per cluster, per instance' } }, async () => {
      const items = ctx.store.backupPolicies.list();
      return { items, total: items.length };
    });
    // Per target a policy covers: last backup, last drill (outcome, restore time), last verified.
    app.get('/v1/backups/status', { schema: { tags: ['backup'], summary: "each policy target's last backup, last restore drill and its restore time, last verified backup, next slots" } }, async () => {
      const items = ctx.backupStatus?.() ?? [];
      return { items, total: items.length };
    });
  };
}

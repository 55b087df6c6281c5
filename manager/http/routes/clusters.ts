import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../src/errors';
import { clusterView } from '../../clusters/view';
import type { AdminContext } from '../server';

const NAME = '^[a-z][a-z0-9-]{0,58}$';

// Read-only views of replicated clusters, the same data as GetCluster/ListClusters (the list
// from the store; one cluster with every member's status asked of its agent now).
export function clusterRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    const deps = () => ({ store: ctx.store, snapshot: ctx.snapshot, scheduler: ctx.scheduler, agents: ctx.agents! });
    app.get('/v1/clusters', { schema: { tags: ['clusters'], summary: 'replicated clusters: state, replication, members and their roles, endpoints' } }, async () => {
      const items = await Promise.all(ctx.store.clusters.all().map((c) => clusterView(deps(), c, false)));
      return { items, total: items.length };
    });
    app.get(
      '/v1/clusters/:name',
      {
        schema: {
          tags: ['clusters'],
          summary: "one cluster: members' roles, GTID positions, lag and health (asked of the agents now), endpoints",
          params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME } } },
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        const c = ctx.store.clusters.get(name);
        if (!c) throw notFound(`no cluster ${name}`);
        const view = await clusterView(deps(), c, Boolean(ctx.agents));
        return { ...view, history: ctx.store.clusters.history(name, 20) };
      },
    );
  };
}

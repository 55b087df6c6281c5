import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../src/errors';
import { clusterView } from '../../api/cluster-view';
import type { AdminContext } from '../context';

const NAME = '^[a-z][a-z0-9-]{0,58}$';

const deps = (ctx: AdminContext) => ({ store: ctx.store, snapshot: ctx.snapshot, scheduler: ctx.scheduler, agents: ctx.agents!, problem: ctx.clusterProblem });

// The list (GET /v1/clusters, in views.ts with the other paginated lists): the store's view.
export function listClusters(ctx: AdminContext) {
  return Promise.all(ctx.store.clusters.all().map((c) => clusterView(deps(ctx), c, false)));
}

// Read-only views of replicated clusters, the same data as GetCluster/ListClusters (the list
// from the store; one cluster with every member's status asked of its agent now).
export function clusterRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/v1/endpoints', { schema: { tags: ['clusters'], summary: "stable endpoints: where each is served (router node, port) and its proxy's counters (HAProxy show stat, as of the last routing push): sessions, bytes, errors, servers taking connections" } }, async () => ({
      items: ctx.store.endpoints.all().map((e) => {
        const stats = ctx.endpoints?.lastStats.get(e.node)?.find((s) => s.name === e.name);
        return { ...e, host: ctx.store.nodes.get(e.node)?.host ?? '', stats: stats ?? null };
      }),
    }));
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
        const view = await clusterView(deps(ctx), c, Boolean(ctx.agents));
        return { ...view, history: ctx.store.clusters.history(name, 20) };
      },
    );
  };
}

import type { FastifyInstance } from 'fastify';
import { failedPrecondition, notFound } from '../../../src/errors';
import { listClusters } from './clusters';
import { servingNode, toInstance, toNode } from '../../api/convert';
import { FleetState } from '../../state/fleet';
import type { AdminContext } from '../context';
import { errorSchema, page, pageQuery } from './schemas';

const NAME = '^[a-z][a-z0-9-]{0,62}$';
const str = { type: 'string' } as const;
const num = { type: 'number' } as const;

function paginate<T>(all: T[], q: { limit: number; offset: number }) {
  const items = all.slice(q.offset, q.offset + q.limit);
  return { items, total: all.length, limit: q.limit, offset: q.offset, next: q.offset + items.length < all.length ? q.offset + items.length : null };
}

const nodeSchema = {
  type: 'object',
  properties: {
    name: str,
    agentAddress: str,
    host: str,
    labels: { type: 'object', additionalProperties: str },
    state: str,
    cordoned: { type: 'boolean' },
    capacity: { type: 'object', properties: { cpuMillis: num, memoryBytes: num, diskBytes: num } },
    allocated: { type: 'object', properties: { cpuMillis: num, memoryBytes: num, diskBytes: num } },
    disks: { type: 'array', items: { type: 'object', properties: { path: str, totalBytes: num, freeBytes: num, allocatedBytes: num } } },
    portMin: num,
    portMax: num,
    instanceCount: num,
    lastHeartbeat: str,
  },
} as const;

const instanceSchema = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    node: str,
    host: str,
    port: num,
    resources: { type: 'object', properties: { cpuMillis: num, memoryBytes: num, diskBytes: num } },
    state: str,
    image: str,
    flavor: str,
    version: str,
    diskPath: str,
    containerId: str,
    serverId: num,
    createdAt: str,
    message: str,
    usage: {
      type: 'object',
      nullable: true,
      properties: { usedDiskBytes: num, usedMemoryBytes: num, usedCpuMillis: num, mysqldUnresponsive: { type: 'boolean' }, measuredAt: str },
    },
  },
} as const;

const operationSchema = {
  type: 'object',
  properties: {
    id: str,
    type: str,
    instanceId: str,
    state: str,
    error: str,
    createdAt: str,
    updatedAt: str,
    finishedAt: str,
    nextStep: num,
    parentId: str,
    subjects: { type: 'array', items: { type: 'object', properties: { kind: str, name: str } } },
    progress: { type: 'object', properties: { bytesDone: num, bytesTotal: num, phase: str } },
  },
} as const;

const eventSchema = { type: 'object', properties: { id: num, at: str, kind: str, subject: str, message: str } } as const;

export function viewRoutes(ctx: AdminContext) {
  const { store } = ctx;
  const nodeUp = (name: string) => servingNode(ctx.snapshot, name, ctx.scheduler, ctx.now());
  const nodeOut = (name: string) => toNode(store.nodes.get(name)!, ctx.snapshot.get(name), ctx.scheduler, ctx.now());
  const mustNode = (name: string) => {
    const n = store.nodes.get(name);
    if (!n) throw notFound(`no node ${name}`);
    return n;
  };

  const fleet = FleetState.of(store, ctx.snapshot);
  const pageOf = <T>(r: { items: T[]; total: number }, q: { limit: number; offset: number }) => ({
    ...r,
    limit: q.limit,
    offset: q.offset,
    next: q.offset + r.items.length < r.total ? q.offset + r.items.length : null,
  });
  const opsQuery = (q: { state?: string; type?: string; instance?: string; limit: number; offset: number }) => pageOf(store.operations.page(q), q);
  const eventsQuery = (q: { subject?: string; kind?: string; after?: number; limit: number; offset: number }) => pageOf(store.events.page(q), q);

  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/nodes',
      {
        schema: {
          tags: ['views'],
          summary: 'nodes, filtered and paginated',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              zone: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,63}$' },
              state: { type: 'string', enum: ['ready', 'down'] },
              cordoned: { type: 'boolean' },
              ...pageQuery,
            },
          },
          response: { 200: page(nodeSchema) },
        },
      },
      async (req) => {
        const q = req.query as { zone?: string; state?: string; cordoned?: boolean; limit: number; offset: number };
        const all = store.nodes
          .all()
          .map((n) => nodeOut(n.name))
          .filter((n) => (!q.zone || n.labels?.zone === q.zone) && (!q.state || n.state === q.state) && (q.cordoned === undefined || n.cordoned === q.cordoned));
        return paginate(all, q);
      },
    );

    app.get(
      '/v1/nodes/:name',
      {
        schema: {
          tags: ['views'],
          summary: 'one node',
          params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME } } },
          response: { 200: nodeSchema, 404: errorSchema },
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        mustNode(name);
        return nodeOut(name);
      },
    );

    const cordon = (name: string, cordoned: boolean, event?: { kind: string; message: string }) => {
      mustNode(name);
      fleet.setCordoned(name, cordoned, event);
      return nodeOut(name);
    };
    const action = { params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME } } }, response: { 200: nodeSchema, 404: errorSchema, 409: errorSchema } };
    app.post('/v1/nodes/:name/cordon', { schema: { tags: ['node actions'], summary: 'stop placing new instances on the node', ...action } }, async (req) =>
      cordon((req.params as { name: string }).name, true),
    );
    app.post('/v1/nodes/:name/uncordon', { schema: { tags: ['node actions'], summary: 'allow new instances on the node again', ...action } }, async (req) =>
      cordon((req.params as { name: string }).name, false),
    );
    app.post(
      '/v1/nodes/:name/drain',
      {
        schema: {
          tags: ['node actions'],
          summary: 'cordon the node and move every instance off it by migration',
          description: 'Cordons the node and starts a drain operation (operationId) that migrates its instances to other nodes, a few at a time. A manager without migration refuses a node that still runs instances (409).',
          ...action,
          response: { ...action.response, 200: { ...nodeSchema, properties: { ...nodeSchema.properties, operationId: str } } },
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        mustNode(name);
        if (ctx.engine) {
          // The drain cordons the node as it starts: the answer shows it cordoned.
          const operationId = (await ctx.engine.submit('drain', { node: name })).id;
          return { ...nodeOut(name), operationId };
        }
        const on = store.instances.onNode(name);
        if (on.length > 0) {
          throw failedPrecondition(
            `cannot drain ${name}: it runs ${on.length} instance(s) (${on
              .slice(0, 5)
              .map((i) => i.name)
              .join(', ')}${on.length > 5 ? ', …' : ''}) and moving instances needs migration, which this manager does not support yet; the node is unchanged (cordon it to stop new placements, then delete or recreate its instances elsewhere)`,
          );
        }
        return cordon(name, true, { kind: 'node.drained', message: 'drained: no instances, cordoned' });
      },
    );

    app.get(
      '/v1/instances',
      {
        schema: {
          tags: ['views'],
          summary: 'instances with their measured usage, filtered and paginated',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              node: { type: 'string', pattern: NAME },
              state: { type: 'string', pattern: '^[a-z]{1,20}$' },
              zone: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,63}$' },
              ...pageQuery,
            },
          },
          response: { 200: page(instanceSchema) },
        },
      },
      async (req) => {
        const q = req.query as { node?: string; state?: string; zone?: string; limit: number; offset: number };
        const rows = q.node !== undefined ? store.instances.onNode(q.node) : store.instances.all();
        const all = rows
          .map((i) => {
            const u = ctx.usage.get(i.id);
            return {
              ...toInstance(i, nodeUp(i.node)),
              usage: u
                ? { usedDiskBytes: u.usedDiskBytes, usedMemoryBytes: u.usedMemoryBytes, usedCpuMillis: u.usedCpuMillis, mysqldUnresponsive: u.mysqldUnresponsive, measuredAt: new Date(u.measuredAtMs).toISOString() }
                : null,
            };
          })
          .filter((i) => (!q.state || i.state === q.state) && (!q.zone || ctx.snapshot.get(i.node ?? '')?.labels.zone === q.zone));
        return paginate(all, q);
      },
    );

    app.get(
      '/v1/clusters',
      {
        schema: {
          tags: ['views'],
          summary: 'replicated clusters: state, replication, members and their roles, endpoints (GET /v1/clusters/{name} adds live health)',
          querystring: { type: 'object', additionalProperties: false, properties: { ...pageQuery } },
          response: { 200: page({ type: 'object', additionalProperties: true }) },
        },
      },
      async (req) => paginate(await listClusters(ctx), req.query as { limit: number; offset: number }),
    );

    app.get(
      '/v1/operations',
      {
        schema: {
          tags: ['views'],
          summary: 'operations, newest first, filtered and paginated',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: ['running', 'rolling_back', 'succeeded', 'failed', 'stuck'] },
              type: { type: 'string', pattern: '^[a-z-]{1,40}$' },
              instance: { type: 'string', pattern: '^i-[0-9a-f]{4,32}$' },
              ...pageQuery,
            },
          },
          response: { 200: page(operationSchema) },
        },
      },
      async (req) => opsQuery(req.query as { limit: number; offset: number }),
    );

    app.get(
      '/v1/events',
      {
        schema: {
          tags: ['views'],
          summary: 'events, newest first, filtered and paginated',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              subject: { type: 'string', minLength: 1, maxLength: 200 },
              kind: { type: 'string', pattern: '^[a-z_.-]{1,80}$', description: 'kind prefix: alert., node., create.succeeded' },
              after: { type: 'integer', minimum: 0, description: 'only events with a larger id' },
              ...pageQuery,
            },
          },
          response: { 200: page(eventSchema) },
        },
      },
      async (req) => eventsQuery(req.query as { limit: number; offset: number }),
    );
  };
}

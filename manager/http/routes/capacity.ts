import type { FastifyInstance } from 'fastify';
import { invalidArgument } from '../../../src/errors';
import { parseCpu, parseSize } from '../../../src/units';
import { LIMITS } from '../../../src/validate';
import { cloneNodes, type FitShape } from '../../capacity/fit';
import { FitPool } from '../../capacity/fit-pool';
import type { AdminContext } from '../context';
import { CPU_PATTERN, SIZE_PATTERN, capacityReportSchema, fitResultSchema } from './schemas';

const SHAPE_PATTERN = `^(\\d+(\\.\\d+)?m?),(\\d+(\\.\\d+)?[kKmMgGtTpP]?(i?[bB])?),(\\d+(\\.\\d+)?[kKmMgGtTpP]?(i?[bB])?)(@[A-Za-z0-9_.-]{1,63})?$`;

const shapeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['cpu', 'memory', 'disk'],
  properties: {
    cpu: { type: 'string', pattern: CPU_PATTERN, description: 'cores (2, 0.5) or millicores (500m)' },
    memory: { type: 'string', pattern: SIZE_PATTERN, description: 'size: 512M, 8G' },
    disk: { type: 'string', pattern: SIZE_PATTERN, description: 'disk reservation: 100G' },
    zone: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,63}$', description: 'only nodes labelled zone=<zone>' },
  },
} as const;

export function parseShape(param: string, raw: { cpu: string; memory: string; disk: string; zone?: string }): FitShape {
  const val = <T>(name: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw invalidArgument(`parameter "${param ? `${param}.` : ''}${name}": ${(e as Error).message}`);
    }
  };
  const cpuMillis = val('cpu', () => parseCpu(raw.cpu));
  const memoryBytes = val('memory', () => parseSize(raw.memory));
  const diskBytes = val('disk', () => parseSize(raw.disk));
  const p = param ? `${param}.` : '';
  if (cpuMillis < LIMITS.minCpuMillis || cpuMillis > LIMITS.maxCpuMillis) throw invalidArgument(`parameter "${p}cpu" must be between 100m and 256 cores`);
  if (memoryBytes < LIMITS.minMemoryBytes || memoryBytes > LIMITS.maxMemoryBytes) throw invalidArgument(`parameter "${p}memory" must be between 256M and 4T`);
  if (diskBytes < LIMITS.minDiskBytes || diskBytes > LIMITS.maxDiskBytes) throw invalidArgument(`parameter "${p}disk" must be between 64M and 1P`);
  return { cpuMillis, memoryBytes, diskBytes, ...(raw.zone ? { zone: raw.zone } : {}) };
}

// The backup repository's use: complete backups and archived binlog pieces as the catalog
// records them, and the free space where the repository's file system can be asked.
async function repositoryUse(ctx: AdminContext) {
  const b = ctx.store.backups.usage();
  const p = ctx.store.binlogArchives.usage();
  const free = await ctx.backupRepository!.freeBytes().catch(() => undefined);
  return { spec: ctx.backupRepository!.spec, backups: b.count, backupBytes: b.bytes, binlogPieces: p.count, binlogBytes: p.bytes, usedBytes: b.bytes + p.bytes, freeBytes: free ?? null };
}

export function capacityRoutes(ctx: AdminContext) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/v1/capacity',
      {
        schema: {
          tags: ['capacity'],
          summary: 'fleet, zone, rack, node and disk capacity: capacity, allocated, used, free, allocation %, overcommit',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              zone: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,63}$', description: 'only this zone' },
              node: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'only this node' },
            },
          },
          response: { 200: capacityReportSchema },
        },
      },
      async (req) => {
        const q = req.query as { zone?: string; node?: string };
        const r = { ...ctx.capacity(), ...(ctx.backupRepository ? { repository: await repositoryUse(ctx) } : {}) };
        if (!q.zone && !q.node) return r;
        const keep = (n: { zone: string; name?: string }) => (!q.zone || n.zone === q.zone) && (!q.node || n.name === q.node);
        return { ...r, zones: r.zones.filter((z) => !q.zone || z.zone === q.zone), racks: r.racks.filter((x) => keep(x)), nodes: r.nodes.filter((n) => keep(n)) };
      },
    );

    // Off the event loop (a worker thread), with one work budget for all the request's shapes.
    const pool = new FitPool();
    app.addHook('onClose', async () => pool.close());
    const runFit = async (shapes: FitShape[]) => {
      const end = ctx.metrics.fitSeconds.startTimer();
      let now = ctx.now();
      const results = await pool.run(() => ((now = ctx.now()), { nodes: cloneNodes(ctx.snapshot.nodes()), shapes, now, config: ctx.scheduler }));
      end();
      return { at: new Date(now).toISOString(), results };
    };

    app.get(
      '/v1/capacity/fit',
      {
        schema: {
          tags: ['capacity'],
          summary: 'how many more instances of a shape fit now (the real scheduler, on a copy of the snapshot), and what runs out first',
          description:
            'Either cpu, memory and disk (and optionally zone) for one shape, or one or more `shape=CPU,MEMORY,DISK[@ZONE]` for several; each shape is answered on its own.',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...shapeBody.properties,
              shape: { type: 'array', items: { type: 'string', pattern: SHAPE_PATTERN }, maxItems: 20, description: 'CPU,MEMORY,DISK[@ZONE], repeatable' },
            },
          },
          response: { 200: { type: 'object', properties: { at: { type: 'string' }, results: { type: 'array', items: fitResultSchema } } } },
        },
      },
      async (req) => {
        const q = req.query as { cpu?: string; memory?: string; disk?: string; zone?: string; shape?: string[] };
        const shapes: FitShape[] = [];
        if (q.cpu || q.memory || q.disk) {
          for (const k of ['cpu', 'memory', 'disk'] as const) if (!q[k]) throw invalidArgument(`parameter "${k}" is required with cpu, memory and disk`);
          shapes.push(parseShape('', { cpu: q.cpu!, memory: q.memory!, disk: q.disk!, zone: q.zone }));
        }
        for (const [i, s] of (q.shape ?? []).entries()) {
          const [body, zone] = s.split('@');
          const [cpu, memory, disk] = body!.split(',');
          shapes.push(parseShape(`shape[${i}]`, { cpu: cpu!, memory: memory!, disk: disk!, zone }));
        }
        if (shapes.length === 0) throw invalidArgument('parameter "cpu" is required (with memory and disk), or one or more "shape"');
        return runFit(shapes);
      },
    );

    app.post(
      '/v1/capacity/fit',
      {
        schema: {
          tags: ['capacity'],
          summary: 'the same as GET /v1/capacity/fit for a list of shapes in a JSON body',
          body: { type: 'object', additionalProperties: false, required: ['shapes'], properties: { shapes: { type: 'array', minItems: 1, maxItems: 20, items: shapeBody } } },
          response: { 200: { type: 'object', properties: { at: { type: 'string' }, results: { type: 'array', items: fitResultSchema } } } },
        },
      },
      async (req) => {
        const b = req.body as { shapes: { cpu: string; memory: string; disk: string; zone?: string }[] };
        return runFit(b.shapes.map((s, i) => parseShape(`shapes[${i}]`, s)));
      },
    );
  };
}
